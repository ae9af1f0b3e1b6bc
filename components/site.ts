/**
 * One site (a TripleO stack): central or DCN. Owns its resources with `{parent: this}`:
 * metal → Ceph → Glance env file, and, once the deployment wires in what the site consumes from
 * the other sites, the overcloud stack (`deploy`) and its post-deploy sanity check: a one-shot
 * `@pulumi/command` remote.Command (central: `openstack token issue`; DCN: `openstack aggregate
 * show <az>` against central) over SSH with the undercloud's host key pinned, re-run whenever the
 * stack is redeployed (its trigger is the stack's deploy spec).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BaremetalNodes } from "../providers/baremetalNodes";
import { SiteServices } from "../providers/centralCloud";
import { CephCluster } from "../providers/cephCluster";
import { UndercloudArg, sha256, stableStringify } from "../providers/common";
import { GlanceMultistore, GlanceStore } from "../providers/glanceMultistore";
import { DeployFiles, OvercloudStack, SiteKind, sanityCommands, siteOverrides } from "../providers/overcloudStack";
import { shJoin } from "../providers/remote/shell";
import { SettingsConfig, SitePlan, cephPoolSize } from "./config";

export interface SiteArgs {
    /** The site, every default applied (components/config.ts planTopology). */
    plan: SitePlan;
    /** Undercloud-wide settings (file locations, deploy args, timeouts). */
    settings: SettingsConfig;
    /** Undercloud connection (host, port, user, pinned host key). */
    undercloud: pulumi.Input<UndercloudArg>;
    /** SSH private key (a secret Output). */
    privateKey: pulumi.Input<string>;
    /** The other sites' Glance stores this site's Glance gets (central: every DCN site; DCN: central). */
    glanceStores: pulumi.Input<GlanceStore>[];
    /** The central stack's name (a DCN site's records in the central cloud). */
    centralStack: string;
    /**
     * The deployment's CentralSites: the site's metal (and through it every other resource of the
     * site) waits for it, so a site removal it refuses (servers or volumes left in the AZ) stops the
     * `up` before any step.
     */
    centralSites: pulumi.Resource;
}

/** What a site's deploy consumes from the other sites. */
export interface SiteDeployArgs {
    /** Files from other sites (central: DCN ceph export; DCN: central export + central ceph export). */
    files: {
        dcnCephExportFile?: pulumi.Input<string>;
        centralExportFile?: pulumi.Input<string>;
        centralCephExportFile?: pulumi.Input<string>;
    };
    /** Specs of those files' producers (a change re-runs this site's deploy; known at preview). */
    specs: Record<string, pulumi.Input<string>>;
    /** DCN: central's overcloud stack (its rc file is used for the AZ aggregate check). */
    central?: OvercloudStack;
}

/**
 * The sanity check's remote command line (quoted; see `sanityCommands`): central `openstack token
 * issue` with its own rc file (the token goes to /dev/null), DCN `openstack aggregate show <az>`
 * with central's rc file. The rc files are the stacks' `rcFile` outputs
 * (`~/overcloud-deploy/<stack>/<stack>rc`, which TripleO always writes, unlike `~/<stack>rc`).
 */
export function sanityCheckCommand(kind: SiteKind, az: string, rcFile: string, centralRcFile: string): string {
    const [check] = sanityCommands({ kind, az, centralRcFile }, rcFile);
    if (!check) {
        throw new Error(`site of kind ${kind} has no sanity check without central's rc file`);
    }
    return shJoin(check.argv);
}

/**
 * What a Ceph export of the site's cluster holds comes from (tripleoclient export.py export_ceph:
 * cluster name, fsid, the client key, the mon hosts' IPs on the storage network): the cluster made
 * (`cephId`, CephCluster's id), its key generation, and the mon roles (instances and networks).
 */
export function cephIdentityOf(plan: SitePlan, cephId: string): string {
    const monRoles = plan.roles.filter((r) => plan.cephMonRoles.includes(r.name));
    return sha256(stableStringify({ id: cephId, cluster: plan.cephCluster, key: plan.cephKeyGeneration, monRoles }));
}

export class Site extends pulumi.ComponentResource {
    public readonly plan: SitePlan;
    public readonly metal: BaremetalNodes;
    public readonly ceph: CephCluster;
    public readonly glance: GlanceMultistore;
    /** This site's store, as the other sites' Glance lists it. */
    public readonly glanceStore: GlanceStore;
    /**
     * What a Ceph export of this site's cluster holds comes from (CephExport.sourceSpecs): the
     * cluster made (its id carries the fsid of clusters made since it does), its cephx key
     * generation, its mon hosts (roles, instances, networks: the mon IPs). Known at preview; a
     * scale-out that adds no mon changes none of it, so no export and no other site re-runs.
     */
    public readonly cephIdentity: pulumi.Output<string>;
    public overcloud?: OvercloudStack;
    /** Post-deploy sanity check (absent when `settings.sanityChecks` is false). */
    public sanityCheck?: command.remote.Command;
    /** DCN: the site's records in the central cloud (removed after the site's nodes). */
    public readonly centralServices?: SiteServices;
    private readonly args: SiteArgs;

    constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dcn:index:Site", name, {}, opts);
        this.args = args;
        const { plan, settings } = args;
        this.plan = plan;
        const conn = { undercloud: args.undercloud, privateKey: args.privateKey };

        // A DCN site's records in the central cloud: the metal depends on them, so on removal
        // their cleanup runs after the nodes are unprovisioned (nothing of the site runs then).
        if (plan.kind === "dcn") {
            this.centralServices = new SiteServices(
                `${name}-central-services`,
                { ...conn, centralStack: args.centralStack, stack: plan.name, az: plan.az },
                { parent: this },
            );
        }
        const first = {
            parent: this,
            dependsOn: [args.centralSites, ...(this.centralServices ? [this.centralServices] : [])],
        };

        this.metal = new BaremetalNodes(
            `${name}-metal`,
            {
                ...conn,
                stack: plan.name,
                roles: plan.roles,
                networkDataFile: settings.networkDataFile,
                templatesDir: settings.templatesDir,
                vips: plan.vips,
                concurrency: settings.metalConcurrency,
                workDir: plan.workDir,
                timeoutMinutes: settings.timeoutMinutes.metal,
                ceph: { cluster: plan.cephCluster, monRoles: plan.cephMonRoles, poolSize: cephPoolSize(settings) },
            },
            first,
        );

        this.ceph = new CephCluster(
            `${name}-ceph`,
            {
                ...conn,
                stack: plan.name,
                clusterName: plan.cephCluster,
                metalFile: this.metal.metalFile,
                metalSpec: this.metal.metalSpec,
                rolesFile: this.metal.rolesFile,
                networkDataFile: settings.networkDataFile,
                containerPrepareFile: settings.containerPrepareFile,
                workDir: plan.workDir,
                singleHostDefaults: settings.singleHostCeph,
                clientKeyGeneration: plan.cephKeyGeneration,
                timeoutMinutes: settings.timeoutMinutes.ceph,
            },
            { parent: this },
        );

        this.cephIdentity = this.ceph.id.apply((id) => cephIdentityOf(plan, id));

        this.glanceStore = {
            id: plan.glanceStore,
            cephClusterName: plan.cephCluster,
            description: plan.glanceDescription,
        };
        this.glance = new GlanceMultistore(
            `${name}-glance`,
            {
                ...conn,
                stack: plan.name,
                file: `${plan.workDir}/glance-${plan.name}.yaml`,
                backendId: plan.glanceStore,
                description: plan.glanceDescription,
                stores: args.glanceStores,
                showMultipleLocations: plan.kind === "central",
            },
            // After the metal (its step waits for CentralSites; the deploy needs both anyway), so
            // a destroy removes the file before the metal's delete, which removes the work dir.
            { parent: this, dependsOn: [this.metal] },
        );
    }

    /** Creates the site's overcloud stack from its own files plus what other sites export to it. */
    deploy(d: SiteDeployArgs): OvercloudStack {
        if (this.overcloud) {
            throw new pulumi.ResourceError(`site ${this.plan.name} is already deployed`, this);
        }
        const { plan, settings } = this.args;
        const files: pulumi.Input<DeployFiles> = pulumi
            .all({
                vipsFile: this.metal.vipsFile,
                networkFile: this.metal.networkFile,
                metalFile: this.metal.metalFile,
                cephFile: this.ceph.cephFile,
                glanceFile: this.glance.file,
                dcnCephExportFile: d.files.dcnCephExportFile ?? "",
                centralExportFile: d.files.centralExportFile ?? "",
                centralCephExportFile: d.files.centralCephExportFile ?? "",
            })
            .apply(
                (f): DeployFiles => ({
                    ...(f as Omit<DeployFiles, "commonEnvFiles" | "containerPrepareFile">),
                    commonEnvFiles: settings.commonEnvFiles,
                    containerPrepareFile: settings.containerPrepareFile,
                }),
            );
        this.overcloud = new OvercloudStack(
            `${this.plan.name}-overcloud`,
            {
                undercloud: this.args.undercloud,
                privateKey: this.args.privateKey,
                stack: plan.name,
                kind: plan.kind,
                templatesDir: settings.templatesDir,
                rolesFile: this.metal.rolesFile,
                networkDataFile: settings.networkDataFile,
                files,
                overrides: siteOverrides(plan.kind, plan.cephCluster, plan.az, plan.overrides),
                consumedSpecs: {
                    metal: this.metal.metalSpec,
                    ceph: this.ceph.cephSpec,
                    glance: this.glance.contentHash,
                    ...d.specs,
                },
                deployArgs: settings.deployArgs,
                az: plan.az,
                workDir: plan.workDir,
                timeoutMinutes: settings.timeoutMinutes.deploy,
            },
            { parent: this },
        );
        if (settings.sanityChecks && (plan.kind === "central" || d.central)) {
            const overcloud = this.overcloud;
            const undercloud = pulumi.output(this.args.undercloud);
            this.sanityCheck = new command.remote.Command(
                `${plan.name}-sanity`,
                {
                    connection: {
                        host: undercloud.host,
                        port: undercloud.port,
                        user: undercloud.user,
                        hostKey: undercloud.hostKey,
                        privateKey: pulumi.secret(this.args.privateKey),
                        dialErrorLimit: 3,
                    },
                    create: pulumi
                        .all([overcloud.rcFile, d.central?.rcFile ?? ""])
                        .apply(([rc, centralRc]) => sanityCheckCommand(plan.kind, plan.az, rc, centralRc)),
                    triggers: [overcloud.deploySpec],
                    addPreviousOutputInEnv: false,
                },
                { parent: this, dependsOn: d.central ? [overcloud, d.central] : [overcloud] },
            );
        }
        this.registerOutputs({
            stack: plan.name,
            status: this.overcloud.status,
            cephFsid: this.ceph.fsid,
            az: plan.az,
            glanceStoreIds: this.glance.storeIds,
        });
        return this.overcloud;
    }
}
