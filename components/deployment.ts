/**
 * The whole DCN deployment: one central site plus N DCN sites on one undercloud, wired together.
 *
 * - every DCN site's Ceph cluster (one multi-stack CephExport) and Glance store → central;
 * - central's stack export and CephExport → every DCN site.
 *
 * Nothing here orders steps by hand: the seed order falls out of the data dependencies alone —
 * metal (all sites) → Ceph (all) → Ceph exports → central deploy (with every DCN export + store)
 * → central export → every DCN deploy. DCN sites' metal and Ceph run side by side; their Heat
 * phases are serialized by the undercloud-side lock in OvercloudStack.
 *
 * With `settings.validation.enabled`, a MultistoreValidation runs after every site's deploy (and
 * again whenever any stack is redeployed), beside the sites' sanity checks: the seed's
 * image-to-every-site-and-COW-boot flow.
 */
import * as pulumi from "@pulumi/pulumi";
import { CentralSites } from "../providers/centralCloud";
import { CephExport } from "../providers/cephExport";
import { UndercloudArg } from "../providers/common";
import { MultistoreValidation, SiteValidation } from "../providers/multistoreValidation";
import { TopologyPlan, validationTargets } from "./config";
import { Site } from "./site";

export interface DeploymentArgs {
    /** Validated topology (components/config.ts planTopology). */
    plan: TopologyPlan;
    /** Undercloud connection (host, port, user, pinned host key). */
    undercloud: pulumi.Input<UndercloudArg>;
    /** SSH private key (a secret Output). */
    privateKey: pulumi.Input<string>;
}

/** Per-site summary exported by the program. */
export interface SiteSummary {
    stack: string;
    kind: string;
    status: pulumi.Output<string>;
    cephFsid: pulumi.Output<string>;
    az: string;
    glanceStoreIds: pulumi.Output<string[]>;
    nodes: pulumi.Output<Array<{ hostname: string; role: string; ctlplaneIp: string }>>;
}

/** The validation result exported by the program. */
export interface ValidationSummary {
    image: pulumi.Output<string>;
    stores: pulumi.Output<string[]>;
    sites: pulumi.Output<Record<string, SiteValidation>>;
    seconds: pulumi.Output<number>;
    validatedAt: pulumi.Output<string>;
}

export class Deployment extends pulumi.ComponentResource {
    /** The DCN sites registered in the central cloud (a removal's refusal and quiesce). */
    public readonly centralSites: CentralSites;
    public readonly central: Site;
    public readonly dcns: Site[];
    public readonly centralCephExport: CephExport;
    public readonly dcnCephExport?: CephExport;
    public readonly sites: Record<string, SiteSummary>;
    public readonly centralEndpoints: pulumi.Output<Record<string, string>>;
    /** The multistore validation (settings.validation.enabled). */
    public readonly validation?: MultistoreValidation;
    public readonly validationSummary?: ValidationSummary;

    constructor(name: string, args: DeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dcn:index:Deployment", name, {}, opts);
        const { plan } = args;
        const common = { settings: plan.settings, undercloud: args.undercloud, privateKey: args.privateKey };
        const centralStore = {
            id: plan.central.glanceStore,
            cephClusterName: plan.central.cephCluster,
            description: plan.central.glanceDescription,
        };

        const conn = { undercloud: args.undercloud, privateKey: args.privateKey };
        // First: a DCN site gone from the config is checked (servers, volumes left in its AZ) and
        // quiesced in the central cloud before any other step (providers/centralCloud.ts).
        this.centralSites = new CentralSites(
            `${plan.central.name}-central-sites`,
            { ...conn, centralStack: plan.central.name, sites: plan.dcns.map((p) => ({ stack: p.name, az: p.az })) },
            { parent: this },
        );
        const sites = { centralStack: plan.central.name, centralSites: this.centralSites };

        this.dcns = plan.dcns.map(
            (p) => new Site(p.name, { ...common, ...sites, plan: p, glanceStores: [centralStore] }, { parent: this }),
        );
        this.central = new Site(
            plan.central.name,
            { ...common, ...sites, plan: plan.central, glanceStores: this.dcns.map((s) => s.glanceStore) },
            { parent: this },
        );

        this.centralCephExport = new CephExport(
            `${plan.central.name}-ceph-export`,
            {
                ...conn,
                stacks: [plan.central.name],
                outputFile: `${plan.central.workDir}/ceph-export-${plan.central.name}.yaml`,
                sourceSpecs: [this.central.cephIdentity],
                timeoutMinutes: plan.settings.timeoutMinutes.export,
            },
            { parent: this.central },
        );
        if (this.dcns.length > 0) {
            this.dcnCephExport = new CephExport(
                `${plan.central.name}-dcn-ceph-export`,
                {
                    ...conn,
                    stacks: this.dcns.map((s) => s.plan.name),
                    outputFile: `${plan.central.workDir}/ceph-export-dcn-stacks.yaml`,
                    sourceSpecs: this.dcns.map((s) => s.cephIdentity),
                    timeoutMinutes: plan.settings.timeoutMinutes.export,
                },
                { parent: this.central },
            );
        }

        const centralStack = this.central.deploy({
            files: { dcnCephExportFile: this.dcnCephExport?.outputFile ?? "" },
            specs: this.dcnCephExport ? { dcnCephExport: this.dcnCephExport.exportSpec } : {},
        });
        for (const dcn of this.dcns) {
            dcn.deploy({
                files: {
                    centralExportFile: centralStack.exportFile,
                    centralCephExportFile: this.centralCephExport.outputFile,
                },
                specs: {
                    centralExport: centralStack.exportSpec,
                    centralCephExport: this.centralCephExport.exportSpec,
                },
                central: centralStack,
            });
        }

        this.sites = {};
        for (const s of [this.central, ...this.dcns]) {
            this.sites[s.plan.name] = {
                stack: s.plan.name,
                kind: s.plan.kind,
                status: s.overcloud!.status,
                cephFsid: s.ceph.fsid,
                az: s.plan.az,
                glanceStoreIds: s.glance.storeIds,
                nodes: s.metal.nodes.apply((ns) =>
                    ns.map((n) => ({ hostname: n.hostname, role: n.role, ctlplaneIp: n.ctlplaneIp })),
                ),
            };
        }
        this.centralEndpoints = centralStack.endpoints;

        if (plan.settings.validation.enabled) {
            const stacks = [this.central, ...this.dcns].map((s) => s.overcloud!);
            const stackSpecs: Record<string, pulumi.Input<string>> = {};
            for (const s of [this.central, ...this.dcns]) {
                stackSpecs[s.plan.name] = s.overcloud!.deploySpec;
            }
            this.validation = new MultistoreValidation(
                `${plan.central.name}-validation`,
                {
                    ...conn,
                    rcFile: centralStack.rcFile,
                    targets: validationTargets(plan),
                    keep: plan.settings.validation.keep,
                    network: plan.settings.validation.network,
                    copyTimeoutMinutes: plan.settings.validation.copyTimeoutMinutes,
                    bootTimeoutMinutes: plan.settings.validation.bootTimeoutMinutes,
                    stackSpecs,
                },
                {
                    parent: this,
                    // After every site's deploy; beside the sanity checks (both only read what the
                    // deploys made: the validation need not wait for them, bench P1).
                    dependsOn: stacks,
                },
            );
            this.validationSummary = {
                image: this.validation.image,
                stores: this.validation.stores,
                sites: this.validation.sites,
                seconds: this.validation.seconds,
                validatedAt: this.validation.validatedAt,
            };
        }
        this.registerOutputs({
            sites: this.sites,
            centralEndpoints: this.centralEndpoints,
            validation: this.validationSummary,
        });
    }
}
