/**
 * BaremetalNodes — one TripleO stack's metal: roles file, networks, VIPs and `node provision`.
 *
 *   create  → write the baremetal (and VIP data) file; detached job: `overcloud roles generate`,
 *             `overcloud network provision` (under a shared lock: find-then-create races),
 *             `overcloud network vip provision` (when the site has VIPs), `overcloud node provision`.
 *   read    → parse the deployed-metal file; gone when it is missing.
 *   update  → the create job again (node provision is also a scale-out). A scale-in is TripleO's
 *             (tripleo-docs deployed_ceph.rst "Scale Down", baremetal_provision.rst "Scaling Down"):
 *             first the removed hosts leave the site's Ceph cluster through a node of the site
 *             (`ceph orch osd rm --zap`, wait, `ceph orch host rm`: cephCluster.ts drainCephHosts),
 *             then `openstack overcloud node delete --baremetal-deployment` with the removed
 *             instances kept in the baremetal file as `provisioned: false` at their positions (so
 *             the other instances keep their HostnameMap indexes and Heat gets
 *             <Role>RemovalPolicies), then node provision. The entries stay `provisioned: false` in
 *             every later file (`layout`). A scale-in that would break the cluster (its mon quorum,
 *             fewer OSD hosts than the pool size) is refused by `check`, before anything runs.
 *             A new `workDir` moves the generated files there first; when nothing else changed,
 *             that move is the whole update (the nodes stay as they are).
 *   delete  → `node unprovision --all -y` and cleaning of the Ceph disks of the freed nodes, so a
 *             later `ceph deploy` can use them; then the generated files, every job of the stack
 *             (STACK_STEPS) and the work dir once empty.
 */
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { z } from "zod";
import {
    BaseInputs,
    CEPH_ADMIN_KEY_SCRIPT,
    DiffPolicy,
    Move,
    baseShape,
    checkWith,
    containsUnknown,
    derive,
    diffByPolicy,
    diffResult,
    guardChanges,
    moveFiles,
    movedLine,
    progress,
    stepProgress,
    remotePath,
    sha256,
    specOf,
    stackRenameRefusal,
    targetOf,
    unk,
    updateByPolicy,
} from "./common";
import { drainCephHosts } from "./cephCluster";
import { BaseArgs, DcnResource } from "./resource";
import {
    JOBS_DIR,
    JobCommand,
    pruneJobs,
    readFile,
    remoteHome,
    removeEmptyDirs,
    run,
    runJob,
    writeFile,
} from "./remote/jobs";
import { AZ_NAME, CEPH_CLUSTER_NAME, HOST_NAME, ROLE_NAME, STACK_NAME, expandHome, isRemotePath } from "./remote/shell";
import { traced } from "./remote/trace";

// ---------------------------------------------------------------- inputs and outputs

export const PROVIDER_VERSION = "5"; // 2: inventory health (refresh detects a wiped working dir); 3: TripleO scale-in; 4: destroy removes its jobs and work dir, step progress; 5: metalSpec and file paths derived by check

/** One network of a role (baremetal file `defaults.networks`). */
export interface RoleNetwork {
    network: string;
    /** Defaults to `<network>_subnet` (none for ctlplane). */
    subnet?: string;
    /** The ctlplane port is the node's VIF. */
    vif?: boolean;
}

/** One node of a role. */
export interface RoleInstance {
    hostname: string;
    /** Ironic node name (defaults to the hostname). */
    node?: string;
}

/** One role of the stack, in the order of the roles file. */
export interface RoleSpec {
    name: string;
    instances: RoleInstance[];
    networks: RoleNetwork[];
    /** os-net-config template (relative to the THT dir), e.g. templates/single_nic_vlans/single_nic_vlans.j2. */
    networkConfigTemplate?: string;
    defaultRouteNetwork?: string[];
    /** The role's nodes carry Ceph OSD disks that must be cleaned when freed. */
    cephDisks: boolean;
}

/** An instance in the baremetal file: removed ones stay, `provisioned: false`, at their position. */
export interface LayoutInstance extends RoleInstance {
    provisioned: boolean;
}

/** A role as the baremetal file lists it (a role no longer configured stays with count 0). */
export interface LayoutRole extends Omit<RoleSpec, "instances"> {
    instances: LayoutInstance[];
}

/** What a scale-in must keep of the site's Ceph cluster (see `scaleInProblems`). */
export interface CephPolicy {
    /** The site's Ceph cluster name (`/etc/ceph/<cluster>.conf` on its nodes). */
    cluster: string;
    /** Roles whose nodes run a Ceph mon (CephMon in the role's services). */
    monRoles: string[];
    /** Replicas the pools keep (1 with --single-host-defaults, else TripleO's CephPoolDefaultSize 3). */
    poolSize: number;
}

/** One VIP of the stack's VIP data file. */
export interface VipSpec {
    network: string;
    dnsName?: string;
}

export interface BaremetalNodesInputs extends BaseInputs {
    stack: string;
    roles: RoleSpec[];
    /** Network data file shared by every stack, e.g. ~/oc0-network-data.yaml. */
    networkDataFile: string;
    /**
     * The tripleo-heat-templates tree the stack deploys with: roles come from its `roles/`, and the
     * network/VIP/node provision outputs name templates under it (the per-network port templates
     * exist only in tripleoclient's rendered copy of the deploy's `--templates`).
     */
    templatesDir: string;
    /** VIPs to provision (every stack: THT needs ControlPlaneVipData); empty for none. */
    vips: VipSpec[];
    /** `node provision --concurrency`. */
    concurrency: number;
    /** Directory on the undercloud for this stack's generated files, e.g. ~/dcn/dcn0. */
    workDir: string;
    /** Job deadline in minutes. */
    timeoutMinutes: number;
    /** The site's Ceph: a scale-in drains the removed hosts from it and must not break it. */
    ceph?: CephPolicy;
}

/** Parsed node of the deployed-metal file. */
export interface MetalNode {
    hostname: string;
    role: string;
    node: string;
    ctlplaneIp: string;
}

export interface BaremetalNodesOutputs extends BaremetalNodesInputs {
    rolesFile: string;
    baremetalFile: string;
    metalFile: string;
    networkFile: string;
    /** Empty when the stack has no VIPs. */
    vipsFile: string;
    nodes: MetalNode[];
    /**
     * The baremetal file's roles and instances in file order, removed instances included
     * (`provisioned: false`): what the next update renders, so indexes never shift.
     */
    layout: LayoutRole[];
    /** sha256 of the deployed-metal file (refresh records what is there). */
    metalHash: string;
    /**
     * What the deployed metal is made of (stack, roles and instances, network data, templates,
     * VIPs): consumers re-run when it changes. Derived by check, so known at preview (`derive`).
     */
    metalSpec: string;
    /**
     * False when refresh found the metal file but not the stack's inventory
     * (`~/overcloud-deploy/<stack>/tripleo-ansible-inventory.yaml`, wiped by `overcloud delete`):
     * the next up runs node provision again, which rewrites it (ceph deploy needs it).
     */
    healthy: boolean;
}

// ---------------------------------------------------------------- diff policy

/**
 * The job steps (JobSpec.step) run for one stack: metal and unprovision here, `ceph` (CephCluster),
 * `deploy` and `delete` (OvercloudStack). This resource's delete, the site's last, prunes them all.
 * (A multi-stack `export-ceph` is its CephExport's to prune.)
 */
export const STACK_STEPS = ["metal", "unprovision", "ceph", "deploy", "delete", "export-ceph"] as const;

/**
 * `stack` is the identity (a change is refused by check: see providers/common.ts). `workDir` is
 * where the generated files live: a change moves them (settings.workRoot moved), never a replace,
 * which would unprovision every node of the site.
 */
export const POLICY: DiffPolicy = {
    replace: ["stack"],
    update: ["roles", "networkDataFile", "templatesDir", "vips", "concurrency", "workDir"],
    quiet: ["undercloud", "privateKey", "providerVersion", "timeoutMinutes", "ceph"],
    location: "workDir",
    derived: ["metalSpec", "rolesFile", "baremetalFile", "metalFile", "networkFile", "vipsFile"],
};

/** The metal's spec (undefined while an input is unknown). */
export function metalSpecOf(inputs: BaremetalNodesInputs): string | undefined {
    const { stack, roles, networkDataFile, templatesDir, vips } = inputs;
    return specOf({ stack, roles, networkDataFile, templatesDir, vips });
}

/**
 * What check derives (`derive` in providers/common.ts): the spec of the metal and, with the
 * undercloud's $HOME, the generated files' paths, as provision writes them.
 */
export function derivedOf(inputs: BaremetalNodesInputs, home: string | undefined): Record<string, unknown> {
    const { stack, vips } = inputs;
    const f = home === undefined ? undefined : filesOf(stack, expandHome(inputs.workDir, home));
    return {
        metalSpec: metalSpecOf(inputs),
        ...(f && {
            rolesFile: f.rolesFile,
            baremetalFile: f.baremetalFile,
            metalFile: f.metalFile,
            networkFile: f.networkFile,
            vipsFile: vips.length > 0 ? f.vipsFile : "",
        }),
    };
}

export function inputSchema() {
    const role = z.object({
        name: unk(z.string().regex(ROLE_NAME)),
        instances: unk(
            z.array(
                unk(
                    z.object({
                        hostname: unk(z.string().regex(HOST_NAME)),
                        node: unk(z.string().regex(HOST_NAME)).optional(),
                    }),
                ),
            ),
        ),
        networks: unk(
            z.array(
                unk(
                    z.object({
                        network: unk(z.string().regex(HOST_NAME)),
                        subnet: unk(z.string().regex(HOST_NAME)).optional(),
                        vif: unk(z.boolean()).optional(),
                    }),
                ),
            ),
        ),
        networkConfigTemplate: unk(z.string().refine((p) => isRemotePath("/" + p), "bad template path")).optional(),
        defaultRouteNetwork: unk(z.array(unk(z.string().regex(HOST_NAME)))).optional(),
        cephDisks: unk(z.boolean()),
    });
    return z.object({
        ...baseShape(),
        stack: unk(z.string().regex(STACK_NAME)),
        roles: unk(z.array(unk(role)).min(1)),
        networkDataFile: remotePath(),
        templatesDir: remotePath(),
        vips: unk(
            z.array(
                unk(
                    z.object({
                        network: unk(z.string().regex(HOST_NAME)),
                        dnsName: unk(z.string().regex(AZ_NAME)).optional(),
                    }),
                ),
            ),
        ),
        concurrency: unk(z.number().int().min(1).max(64)),
        workDir: remotePath(),
        timeoutMinutes: unk(z.number().positive()),
        ceph: unk(
            z.object({
                cluster: unk(z.string().regex(CEPH_CLUSTER_NAME)),
                monRoles: unk(z.array(unk(z.string().regex(ROLE_NAME)))),
                poolSize: unk(z.number().int().min(1).max(10)),
            }),
        ).optional(),
    });
}

// ---------------------------------------------------------------- provider

export const baremetalNodesProvider: pulumi.dynamic.ResourceProvider = traced("BaremetalNodes", {
    async check(olds: BaremetalNodesInputs, news: BaremetalNodesInputs) {
        const r = checkWith(inputSchema(), news);
        r.failures.push(...guardChanges(POLICY, olds, news, (_k, o, n) => stackRenameRefusal(o, n)));
        if (r.failures.length === 0 && !containsUnknown(news.roles)) {
            for (const problem of validateRoles(news.roles)) {
                r.failures.push({ property: "roles", reason: problem });
            }
            // A scale-in (old inputs are those of the deployed resource) must leave the Ceph cluster whole.
            if (
                Array.isArray(olds?.roles) &&
                !containsUnknown(olds.roles) &&
                news.ceph &&
                !containsUnknown(news.ceph)
            ) {
                for (const problem of scaleInProblems(news.stack, olds.roles, news.roles, news.ceph)) {
                    r.failures.push({ property: "roles", reason: problem });
                }
            }
        }
        if (r.failures.length === 0) {
            r.inputs = await derive(olds, news, (home) => derivedOf(news, home));
        }
        return r;
    },

    async diff(_id: string, olds: BaremetalNodesOutputs, news: BaremetalNodesInputs) {
        return diffResult(diffByPolicy(POLICY, olds, news), olds.healthy === false);
    },

    async create(inputs: BaremetalNodesInputs) {
        const outs = await provision(inputs, layoutOf(inputs.roles), []);
        return { id: inputs.stack, outs };
    },

    async read(id: string, props: BaremetalNodesOutputs) {
        const t = targetOf(props);
        const text = await readFile(t, props.metalFile);
        if (text === undefined) {
            return { id: "", props: {} };
        }
        const home = await remoteHome(t);
        const inventory = await readFile(t, inventoryPath(props.stack, home));
        return {
            id,
            props: {
                ...props,
                nodes: parseDeployedMetal(text, props.roles),
                layout: props.layout ?? layoutOf(props.roles),
                metalHash: sha256(text),
                healthy: inventory !== undefined,
            },
        };
    },

    async update(_id: string, olds: BaremetalNodesOutputs, news: BaremetalNodesInputs) {
        return updateByPolicy(
            POLICY,
            olds,
            news,
            () => {
                const before = olds.layout ?? layoutOf(olds.roles);
                const layout = mergeLayout(before, news.roles);
                return provision(news, layout, removedInstances(before, layout));
            },
            olds.healthy === false,
            (move, home) => relocate(olds, news, move, home),
        );
    },

    async delete(_id: string, props: BaremetalNodesOutputs) {
        const t = targetOf(props);
        const home = await remoteHome(t);
        const f = filesOf(props.stack, expandHome(props.workDir, home));
        const layout = props.layout ?? layoutOf(props.roles);
        await writeFile(t, f.baremetalFile, renderBaremetalFile(layout));
        const freed = layout.flatMap((r) => r.instances.filter((i) => i.provisioned).map((i) => ({ role: r, i })));
        await runJob(t, {
            stack: props.stack,
            step: "unprovision",
            identity: sha256(renderBaremetalFile(layout)),
            timeoutMs: props.timeoutMinutes * 60000,
            report: stepProgress(props, props.stack, "unprovision"),
            commands: [
                unprovisionCommand(props.stack, f.baremetalFile, true),
                ...freed.filter((x) => x.role.cephDisks).map((x) => cleanDisksCommand(x.i.node ?? x.i.hostname)),
                {
                    argv: [
                        "rm",
                        "-f",
                        "--",
                        f.metalFile,
                        f.networkFile,
                        f.vipsFile,
                        f.baremetalFile,
                        f.vipDataFile,
                        f.rolesFile,
                    ],
                },
            ],
        });
        // The job said done: make sure the instances are really gone before the state forgets them
        // (a job that reports success without having unprovisioned would leave nodes untracked).
        const left = await run(t, ["sh", "-c", STILL_DEPLOYED_SCRIPT, "sh", ...freed.map((x) => x.i.hostname)]);
        if (left.code !== 0) {
            throw new Error(
                `unprovision of stack ${props.stack} finished but ${left.stdout.trim() || left.stderr.trim()}; ` +
                    `run destroy again`,
            );
        }
        // The site's last resource: every job of its stack goes (also of steps whose resource never
        // got created, e.g. a ceph deploy that failed), then its work dir and the work root once
        // empty; after the last site, ~/.dcn-jobs itself (pruneJobs).
        await pruneJobs(
            t,
            STACK_STEPS.map((step) => ({ stack: props.stack, step })),
        );
        const work = expandHome(props.workDir, home);
        await removeEmptyDirs(
            t,
            [work, work.replace(/\/[^/]*$/, "")].filter((d) => d !== "" && d !== home),
        );
    },
});

async function provision(
    inputs: BaremetalNodesInputs,
    layout: LayoutRole[],
    removed: Array<{ role: LayoutRole; instance: LayoutInstance }>,
): Promise<BaremetalNodesOutputs> {
    const t = targetOf(inputs);
    const home = await remoteHome(t);
    const f = filesOf(inputs.stack, expandHome(inputs.workDir, home));
    const netData = expandHome(inputs.networkDataFile, home);
    const baremetal = renderBaremetalFile(layout);
    const commands: JobCommand[] = [];
    // Written by the exec that starts the job (one round trip).
    const files = [{ path: f.baremetalFile, content: baremetal }];
    if (removed.length > 0) {
        // The removed hosts leave the Ceph cluster before their nodes go (a drained host is skipped
        // when this runs again after a later failure).
        const ceph = inputs.ceph;
        const cephHosts = removed
            .filter((r) => r.role.cephDisks || (ceph?.monRoles ?? []).includes(r.role.name))
            .map((r) => r.instance.hostname);
        if (ceph && cephHosts.length > 0) {
            await drainCephHosts(t, {
                stack: inputs.stack,
                cluster: ceph.cluster,
                hosts: cephHosts,
                timeoutMs: inputs.timeoutMinutes * 60000,
                log: progress(`metal ${inputs.stack}`),
            });
        }
        commands.push(scaleDownCommand(inputs.stack, f.baremetalFile, inputs.timeoutMinutes));
    }
    if (inputs.vips.length > 0) {
        files.push({ path: f.vipDataFile, content: renderVipData(inputs.vips) });
    }
    commands.push(...metalCommands({ ...inputs, roles: layoutRoles(layout) }, f, netData, home));
    // The shared ceph-admin key (RSA 4096: seconds of CPU) is made while node provision runs, once
    // the job has started and at low priority, so the Ceph deploys that follow do not queue behind
    // its generation. Not awaited: the Ceph jobs ensure the key themselves under the same lock
    // (waiting for this one if it still runs), and it is written atomically.
    const job = await runJob(t, {
        stack: inputs.stack,
        step: "metal",
        identity: sha256(
            baremetal + renderVipData(inputs.vips) + JSON.stringify(removed.map((r) => r.instance.hostname)),
        ),
        timeoutMs: inputs.timeoutMinutes * 60000,
        report: stepProgress(inputs, inputs.stack, "metal"),
        commands,
        files,
        collect: [f.metalFile],
        onStarted: () => void ensureCephAdminKey(t, home),
    });
    const text = job.files[f.metalFile];
    if (text === undefined) {
        throw new Error(`node provision of ${inputs.stack} finished but ${f.metalFile} is missing on the undercloud`);
    }
    return {
        ...inputs,
        rolesFile: f.rolesFile,
        baremetalFile: f.baremetalFile,
        metalFile: f.metalFile,
        networkFile: f.networkFile,
        vipsFile: inputs.vips.length > 0 ? f.vipsFile : "",
        nodes: parseDeployedMetal(text, inputs.roles),
        layout,
        metalHash: sha256(text),
        metalSpec: metalSpecOf(inputs) ?? "",
        healthy: true,
    };
}

/**
 * Moves the stack's generated files from the old work dir to the new one (no TripleO command);
 * undefined when the deployed-metal, roles or network file is at neither place (then the update
 * provisions again, which writes them at the new place).
 */
async function relocate(
    olds: BaremetalNodesOutputs,
    news: BaremetalNodesInputs,
    _move: Move,
    home: string,
): Promise<BaremetalNodesOutputs | undefined> {
    const log = progress(`metal ${news.stack}`);
    const from = filesOf(olds.stack, expandHome(olds.workDir, home));
    const to = filesOf(news.stack, expandHome(news.workDir, home));
    const vips = olds.vipsFile !== "";
    const missing = await moveFiles(
        targetOf(news),
        home,
        [
            { from: from.metalFile, to: to.metalFile, required: true },
            { from: from.rolesFile, to: to.rolesFile, required: true },
            { from: from.networkFile, to: to.networkFile, required: true },
            { from: from.vipsFile, to: to.vipsFile, required: vips },
            { from: from.baremetalFile, to: to.baremetalFile },
            { from: from.vipDataFile, to: to.vipDataFile },
        ],
        expandHome(olds.workDir, home),
    );
    if (missing.length > 0) {
        log(`cannot move the generated files (${missing.join(", ")} missing): provisioning again at ${news.workDir}`);
        return undefined;
    }
    log(movedLine(olds.workDir, news.workDir, home));
    return {
        ...olds,
        ...news,
        rolesFile: to.rolesFile,
        baremetalFile: to.baremetalFile,
        metalFile: to.metalFile,
        networkFile: to.networkFile,
        vipsFile: vips ? to.vipsFile : "",
    };
}

/**
 * Creates the undercloud's shared ceph-admin key when missing, once per undercloud and process,
 * best effort: when another run holds the lock (`flock -n`) or anything fails, the Ceph deploy
 * job's own first command (same script, same lock, blocking) makes sure of the key.
 */
async function ensureCephAdminKey(t: ReturnType<typeof targetOf>, home: string): Promise<void> {
    const g = globalThis as unknown as { __dcnCephAdminKey?: Set<string> };
    const once = (g.__dcnCephAdminKey ??= new Set());
    const key = `${t.host}:${t.port}:${t.user}`;
    if (once.has(key)) {
        return;
    }
    once.add(key);
    try {
        const lock = expandHome(`${JOBS_DIR}/ceph-admin-key.lock`, home);
        await run(t, ["nice", "-n", "10", "flock", "-n", lock, "sh", "-c", CEPH_ADMIN_KEY_SCRIPT]);
    } catch {
        // The Ceph job ensures the key again.
    }
}

/** The stack inventory node provision writes (ceph deploy requires it). */
export function inventoryPath(stack: string, home: string): string {
    return `${home}/overcloud-deploy/${stack}/tripleo-ansible-inventory.yaml`;
}

// ---------------------------------------------------------------- remote commands

/** The files of a stack's metal step under its work dir (absolute). */
export function filesOf(stack: string, workDir: string) {
    return {
        rolesFile: `${workDir}/roles-${stack}.yaml`,
        baremetalFile: `${workDir}/baremetal-${stack}.yaml`,
        vipDataFile: `${workDir}/vip-data-${stack}.yaml`,
        metalFile: `${workDir}/deployed-metal-${stack}.yaml`,
        networkFile: `${workDir}/deployed-network-${stack}.yaml`,
        vipsFile: `${workDir}/deployed-vips-${stack}.yaml`,
    };
}

/** The create job: roles file, networks (locked), VIPs, node provision. */
export function metalCommands(
    inputs: BaremetalNodesInputs,
    f: ReturnType<typeof filesOf>,
    netData: string,
    home: string,
): JobCommand[] {
    const tht = expandHome(inputs.templatesDir, home).replace(/\/+$/, "");
    const cmds: JobCommand[] = [
        {
            // The roles of the tree the deploy uses (tripleoclient's default is /usr/share/…/roles).
            argv: [
                "openstack",
                "overcloud",
                "roles",
                "generate",
                "--roles-path",
                `${tht}/roles`,
                "-o",
                f.rolesFile,
                ...roleNames(inputs.roles),
            ],
        },
        { argv: ["rm", "-f", "--", f.networkFile] },
        {
            argv: [
                "openstack",
                "overcloud",
                "network",
                "provision",
                "--templates",
                tht,
                "--output",
                f.networkFile,
                netData,
            ],
            lock: expandHome(`${JOBS_DIR}/network.lock`, home),
        },
    ];
    if (inputs.vips.length > 0) {
        cmds.push(
            { argv: ["rm", "-f", "--", f.vipsFile] },
            {
                argv: [
                    "openstack",
                    "overcloud",
                    "network",
                    "vip",
                    "provision",
                    "--stack",
                    inputs.stack,
                    "--templates",
                    tht,
                    "--output",
                    f.vipsFile,
                    f.vipDataFile,
                ],
                lock: expandHome(`${JOBS_DIR}/network.lock`, home),
            },
        );
    }
    cmds.push(
        { argv: ["rm", "-f", "--", f.metalFile] },
        {
            argv: [
                "openstack",
                "overcloud",
                "node",
                "provision",
                "--network-config",
                "--stack",
                inputs.stack,
                "--templates",
                tht,
                "--concurrency",
                String(inputs.concurrency),
                "--output",
                f.metalFile,
                f.baremetalFile,
            ],
        },
    );
    return cmds;
}

/** `node unprovision` (all instances of the file, or only those marked `provisioned: false`). */
export function unprovisionCommand(stack: string, file: string, all: boolean): JobCommand {
    return {
        argv: [
            "openstack",
            "overcloud",
            "node",
            "unprovision",
            ...(all ? ["--all"] : []),
            "-y",
            "--stack",
            stack,
            file,
        ],
    };
}

/**
 * TripleO's scale-down of the instances marked `provisioned: false` in the baremetal file `$2` of
 * stack `$1`: `openstack overcloud node delete --baremetal-deployment` (its scale playbook, from the
 * stack's config-download, takes the nodes' services out of the cloud, then it unprovisions them).
 * A stack never deployed has no config-download and nothing to scale down on the nodes: there,
 * `node unprovision` of the same entries. A constant script; stack, file and timeout (minutes) are
 * its arguments.
 */
export const SCALE_DOWN_SCRIPT = [
    's="$1"; f="$2"; t="$3"',
    'if [ -f "$HOME/overcloud-deploy/$s/config-download/$s/scale_playbook.yaml" ]; then',
    '  exec openstack overcloud node delete -y --stack "$s" --timeout "$t" --baremetal-deployment "$f"',
    "fi",
    'exec openstack overcloud node unprovision -y --stack "$s" "$f"',
].join("\n");

export function scaleDownCommand(stack: string, baremetalFile: string, timeoutMinutes: number): JobCommand {
    return {
        argv: ["sh", "-c", SCALE_DOWN_SCRIPT, "scale-down", stack, baremetalFile, String(Math.ceil(timeoutMinutes))],
    };
}

/**
 * Exits 1 naming the instances (hostnames, as arguments) that metalsmith still knows as deployed
 * after ~2 minutes (undeploy may lag behind unprovision, as kill.sh's own polling shows).
 */
export const STILL_DEPLOYED_SCRIPT = [
    "r=0",
    "while :; do",
    '  left=""',
    '  for h in "$@"; do if metalsmith show "$h" >/dev/null 2>&1; then left="$left $h"; fi; done',
    '  [ -z "$left" ] && exit 0',
    '  r=$((r + 1)); if [ "$r" -ge "${DCN_UNDEPLOY_ROUNDS:-24}" ]; then echo "instances still deployed:$left"; exit 1; fi',
    "  sleep 5",
    "done",
].join("\n");

/**
 * Disk cleaning of a freed Ceph node (metalsmith/clean-disks.sh): wait until metalsmith no longer
 * knows it, then ironic manage → clean `erase_devices_metadata` → wait manageable → provide.
 * A constant script; the node name is its only (quoted) argument.
 */
export const CLEAN_DISKS_SCRIPT = [
    'n="$1"',
    'i=0; while metalsmith show "$n" >/dev/null 2>&1; do i=$((i+1)); if [ $i -gt 120 ]; then echo "node $n is still deployed"; exit 1; fi; sleep 5; done',
    'openstack baremetal node manage "$n"',
    'openstack baremetal node clean "$n" --clean-steps \'[{"interface": "deploy", "step": "erase_devices_metadata"}]\'',
    'i=0; until [ "$(openstack baremetal node show "$n" -f value -c provision_state)" = manageable ]; do i=$((i+1)); if [ $i -gt 60 ]; then echo "node $n did not return to manageable after cleaning"; exit 1; fi; sleep 5; done',
    'openstack baremetal node provide "$n"',
].join("\n");

export function cleanDisksCommand(node: string): JobCommand {
    return { argv: ["sh", "-c", CLEAN_DISKS_SCRIPT, "clean-disks", node] };
}

// ---------------------------------------------------------------- pure helpers

/** Role names in roles-file order, without duplicates. */
export function roleNames(roles: RoleSpec[]): string[] {
    return [...new Set(roles.map((r) => r.name))];
}

/** Problems a baremetal file would have (node provision's own validation, checked early). */
export function validateRoles(roles: RoleSpec[]): string[] {
    const problems: string[] = [];
    const hostnames = new Set<string>();
    const nodes = new Set<string>();
    const names = new Set<string>();
    for (const r of roles) {
        if (names.has(r.name)) {
            problems.push(`role ${r.name} is listed twice`);
        }
        names.add(r.name);
        for (const i of r.instances) {
            if (hostnames.has(i.hostname)) {
                problems.push(`duplicate hostname ${i.hostname}`);
            }
            hostnames.add(i.hostname);
            const node = i.node ?? i.hostname;
            if (nodes.has(node)) {
                problems.push(`node ${node} requested twice`);
            }
            nodes.add(node);
        }
    }
    return problems;
}

/** A plain roles list as a layout: every instance provisioned. */
export function layoutOf(roles: RoleSpec[]): LayoutRole[] {
    return roles.map((r) => ({ ...r, instances: r.instances.map((i) => ({ ...i, provisioned: true })) }));
}

/** The roles of a layout with their provisioned instances only (roles file order, count-0 roles kept). */
export function layoutRoles(layout: LayoutRole[]): RoleSpec[] {
    return layout.map((r) => ({
        ...r,
        instances: r.instances
            .filter((i) => i.provisioned)
            .map((i) => (i.node ? { hostname: i.hostname, node: i.node } : { hostname: i.hostname })),
    }));
}

/**
 * The next baremetal file's layout: every instance of `before` stays at its position, provisioned
 * when `news` still lists it in that role (a re-added instance is provisioned again), else
 * `provisioned: false`; instances new to a role are appended; roles no longer configured stay
 * (count 0). Role settings (networks, templates) come from `news` where the role is configured.
 */
export function mergeLayout(before: LayoutRole[], news: RoleSpec[]): LayoutRole[] {
    const out: LayoutRole[] = [];
    for (const r of news) {
        const old = before.find((b) => b.name === r.name);
        const wanted = new Map(r.instances.map((i) => [i.hostname, i]));
        const instances: LayoutInstance[] = (old?.instances ?? []).map((i) => {
            const now = wanted.get(i.hostname);
            return now ? { ...now, provisioned: true } : { ...i, provisioned: false };
        });
        for (const i of r.instances) {
            if (!instances.some((x) => x.hostname === i.hostname)) {
                instances.push({ ...i, provisioned: true });
            }
        }
        out.push({ ...r, instances });
    }
    for (const b of before) {
        if (!news.some((r) => r.name === b.name)) {
            out.push({ ...b, instances: b.instances.map((i) => ({ ...i, provisioned: false })) });
        }
    }
    return out;
}

/** Instances provisioned in `before` and not in `after` (what a scale-in removes). */
export function removedInstances(
    before: LayoutRole[],
    after: LayoutRole[],
): Array<{ role: LayoutRole; instance: LayoutInstance }> {
    const out: Array<{ role: LayoutRole; instance: LayoutInstance }> = [];
    for (const r of after) {
        for (const i of r.instances) {
            const was = before.find((b) => b.name === r.name)?.instances.find((x) => x.hostname === i.hostname);
            if (!i.provisioned && was?.provisioned) {
                out.push({ role: r, instance: i });
            }
        }
    }
    return out;
}

/**
 * Why going from `olds` to `news` (the roles of one stack) would break the site's Ceph cluster;
 * empty when it is not a scale-in or it is safe. Checked against what the removed hosts carry:
 * - mons: the remaining mon hosts must be a majority of the current ones (the monmap keeps the
 *   leaving mons until cephadm has removed them; a minority left cannot form a quorum), and one
 *   at least;
 * - OSDs: at least `poolSize` OSD hosts must remain, else the drain of the removed OSDs never ends
 *   (their placement groups have nowhere to go) and the data is lost with the nodes;
 * - an instance moving between roles is a scale-in of one and a scale-out of the other: refused
 *   in one step (the same hostname would be in the baremetal file twice).
 */
export function scaleInProblems(stack: string, olds: RoleSpec[], news: RoleSpec[], ceph: CephPolicy): string[] {
    const roleOf = (roles: RoleSpec[]) => new Map(roles.flatMap((r) => r.instances.map((i) => [i.hostname, r])));
    const before = roleOf(olds);
    const after = roleOf(news);
    const problems: string[] = [];
    for (const [h, r] of after) {
        const was = before.get(h);
        if (was && was.name !== r.name) {
            problems.push(
                `instance ${h} of stack ${stack} moves from role ${was.name} to ${r.name}: remove it from ${was.name} first (one up), then add it to ${r.name}`,
            );
        }
    }
    const removed = [...before.keys()].filter((h) => !after.has(h));
    if (removed.length === 0) {
        return problems;
    }
    const isMon = (r: RoleSpec) => ceph.monRoles.includes(r.name);
    const monsBefore = [...before].filter(([, r]) => isMon(r)).map(([h]) => h);
    const monsAfter = [...after].filter(([, r]) => isMon(r)).map(([h]) => h);
    const monsRemoved = removed.filter((h) => monsBefore.includes(h));
    if (monsRemoved.length > 0 && (monsAfter.length === 0 || monsAfter.length * 2 <= monsBefore.length)) {
        problems.push(
            `scale-in of stack ${stack} refused: removing ${monsRemoved.join(", ")} leaves ${monsAfter.length} of the ` +
                `${monsBefore.length} Ceph mons of cluster ${ceph.cluster}` +
                (monsAfter.length === 0
                    ? ", and the cluster cannot live without a mon"
                    : `, not a majority: the mon quorum would be lost while they leave (remove fewer than half of the mons per up)`),
        );
    }
    const osdBefore = [...before].filter(([, r]) => r.cephDisks).map(([h]) => h);
    const osdAfter = [...after].filter(([, r]) => r.cephDisks).map(([h]) => h);
    const osdRemoved = removed.filter((h) => osdBefore.includes(h));
    if (osdRemoved.length > 0 && osdAfter.length < ceph.poolSize) {
        problems.push(
            `scale-in of stack ${stack} refused: removing ${osdRemoved.join(", ")} leaves ${osdAfter.length} OSD host(s) in ` +
                `Ceph cluster ${ceph.cluster}, fewer than the pools' ${ceph.poolSize} replicas: the removed OSDs could ` +
                `not be drained (their data has nowhere to go)`,
        );
    }
    return problems;
}

/**
 * Renders the baremetal deployment file (input of `node provision` and `node delete`): per role
 * `count` = its provisioned instances, the instances in layout order, removed ones with
 * `provisioned: false` (tripleo-docs baremetal_provision.rst "Scaling Down").
 */
export function renderBaremetalFile(layout: LayoutRole[]): string {
    const doc = layout.map((r) => {
        const networkConfig: Record<string, unknown> = {};
        if (r.networkConfigTemplate) {
            networkConfig.template = r.networkConfigTemplate;
        }
        if (r.defaultRouteNetwork && r.defaultRouteNetwork.length > 0) {
            networkConfig.default_route_network = r.defaultRouteNetwork;
        }
        const defaults: Record<string, unknown> = {
            networks: r.networks.map((n) =>
                n.vif || n.network === "ctlplane"
                    ? { network: n.network, vif: true }
                    : { network: n.network, subnet: n.subnet ?? `${n.network}_subnet` },
            ),
        };
        if (Object.keys(networkConfig).length > 0) {
            defaults.network_config = networkConfig;
        }
        return {
            name: r.name,
            count: r.instances.filter((i) => i.provisioned).length,
            instances: r.instances.map((i) =>
                i.provisioned
                    ? { hostname: i.hostname, name: i.node ?? i.hostname }
                    : { hostname: i.hostname, name: i.node ?? i.hostname, provisioned: false },
            ),
            defaults,
        };
    });
    return stringify(doc);
}

/** Renders the VIP data file of `network vip provision`. */
export function renderVipData(vips: VipSpec[]): string {
    return stringify(
        vips.map((v) => (v.dnsName ? { network: v.network, dns_name: v.dnsName } : { network: v.network })),
    );
}

/**
 * Parses a deployed-metal env file (§4.1): HostnameMap values are the real hostnames, their
 * ctlplane IP is the first fixed IP of `DeployedServerPortMap[<hostname>-ctlplane]`; the role and
 * ironic node come from the requested roles.
 */
export function parseDeployedMetal(text: string, roles: RoleSpec[]): MetalNode[] {
    const doc = (parse(text) ?? {}) as { parameter_defaults?: Record<string, unknown> };
    const pd = doc.parameter_defaults ?? {};
    const hostnameMap = (pd.HostnameMap ?? {}) as Record<string, string>;
    const portMap = (pd.DeployedServerPortMap ?? {}) as Record<string, { fixed_ips?: Array<{ ip_address?: string }> }>;
    const byHost = new Map<string, { role: string; node: string }>();
    for (const r of roles) {
        for (const i of r.instances) {
            byHost.set(i.hostname, { role: r.name, node: i.node ?? i.hostname });
        }
    }
    // HostnameMap also names the instances marked `provisioned: false`; only provisioned ones have
    // a ctlplane port (node provision writes the port map keys lower-cased).
    const ports = new Map(Object.entries(portMap).map(([k, v]) => [k.toLowerCase(), v]));
    const hostnames = [...new Set(Object.values(hostnameMap))].filter((h) => ports.has(`${h.toLowerCase()}-ctlplane`));
    return hostnames.sort().map((hostname) => ({
        hostname,
        role: byHost.get(hostname)?.role ?? "",
        node: byHost.get(hostname)?.node ?? hostname,
        ctlplaneIp: ports.get(`${hostname.toLowerCase()}-ctlplane`)?.fixed_ips?.[0]?.ip_address ?? "",
    }));
}

// ---------------------------------------------------------------- resource

export interface BaremetalNodesArgs extends BaseArgs {
    /** TripleO stack name (identity: a change replaces the metal). */
    stack: pulumi.Input<string>;
    /** Roles and instances of the stack, in roles-file order. */
    roles: pulumi.Input<RoleSpec[]>;
    /** Shared network data file, e.g. `~/oc0-network-data.yaml`. */
    networkDataFile: pulumi.Input<string>;
    /** The tripleo-heat-templates tree of the stack's deploy; default `~/templates`. */
    templatesDir?: pulumi.Input<string>;
    /** VIPs to provision; default none. */
    vips?: pulumi.Input<VipSpec[]>;
    /** `node provision --concurrency`; default 2. */
    concurrency?: pulumi.Input<number>;
    /** Undercloud directory for the stack's generated files; default `~/dcn/<stack>`. */
    workDir: pulumi.Input<string>;
    /** Own deadline of the detached job, minutes; default 120. */
    timeoutMinutes?: pulumi.Input<number>;
    /** The site's Ceph (cluster, mon roles, pool size): what a scale-in drains and must keep. */
    ceph?: pulumi.Input<CephPolicy>;
}

/** A stack's provisioned metal (`pulumi-nodejs:dynamic/dcn:BaremetalNodes`). */
export class BaremetalNodes extends DcnResource {
    declare public readonly stack: pulumi.Output<string>;
    declare public readonly rolesFile: pulumi.Output<string>;
    declare public readonly baremetalFile: pulumi.Output<string>;
    declare public readonly metalFile: pulumi.Output<string>;
    declare public readonly networkFile: pulumi.Output<string>;
    declare public readonly vipsFile: pulumi.Output<string>;
    declare public readonly nodes: pulumi.Output<MetalNode[]>;
    declare public readonly metalHash: pulumi.Output<string>;
    declare public readonly metalSpec: pulumi.Output<string>;

    constructor(name: string, args: BaremetalNodesArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            baremetalNodesProvider,
            name,
            args,
            {
                type: "BaremetalNodes",
                providerVersion: PROVIDER_VERSION,
                defaults: {
                    templatesDir: args.templatesDir ?? "~/templates",
                    vips: args.vips ?? [],
                    concurrency: args.concurrency ?? 2,
                    timeoutMinutes: args.timeoutMinutes ?? 120,
                },
                outputs: [
                    "rolesFile",
                    "baremetalFile",
                    "metalFile",
                    "networkFile",
                    "vipsFile",
                    "nodes",
                    "layout",
                    "metalHash",
                    "metalSpec",
                    "healthy",
                ],
            },
            opts,
        );
    }
}
