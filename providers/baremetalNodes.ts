/**
 * BaremetalNodes — one TripleO stack's metal: roles file, networks, VIPs and `node provision`.
 *
 *   create  → write the baremetal (and VIP data) file; detached job: `overcloud roles generate`,
 *             `overcloud network provision` (under a shared lock: find-then-create races),
 *             `overcloud network vip provision` (when the site has VIPs), `overcloud node provision`.
 *   read    → parse the deployed-metal file; gone when it is missing.
 *   update  → scale-in: `node unprovision` of the removed instances (`provisioned: false`) and
 *             cleaning of their Ceph disks; then the create job again (node provision is a scale-out).
 *             A new `workDir` moves the generated files there first; when nothing else changed,
 *             that move is the whole update (the nodes stay as they are).
 *   delete  → `node unprovision --all -y` and cleaning of the Ceph disks of the freed nodes, so a
 *             later `ceph deploy` can use them.
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
    diffByPolicy,
    diffResult,
    guardChanges,
    moveFiles,
    movedLine,
    progress,
    remotePath,
    sha256,
    stackRenameRefusal,
    targetOf,
    unk,
    updateByPolicy,
} from "./common";
import { BaseArgs, DcnResource } from "./resource";
import { JOBS_DIR, JobCommand, readFile, remoteHome, run, runJob, writeFile } from "./remote/jobs";
import { AZ_NAME, HOST_NAME, ROLE_NAME, STACK_NAME, expandHome, isRemotePath } from "./remote/shell";
import { traced } from "./remote/trace";

// ---------------------------------------------------------------- inputs and outputs

export const PROVIDER_VERSION = "2"; // 2: inventory health (refresh detects a wiped working dir)

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
    /** sha256 of the deployed-metal file: consumers re-run when it changes. */
    metalHash: string;
    /**
     * False when refresh found the metal file but not the stack's inventory
     * (`~/overcloud-deploy/<stack>/tripleo-ansible-inventory.yaml`, wiped by `overcloud delete`):
     * the next up runs node provision again, which rewrites it (ceph deploy needs it).
     */
    healthy: boolean;
}

// ---------------------------------------------------------------- diff policy

/**
 * `stack` is the identity (a change is refused by check: see providers/common.ts). `workDir` is
 * where the generated files live: a change moves them (settings.workRoot moved), never a replace,
 * which would unprovision every node of the site.
 */
export const POLICY: DiffPolicy = {
    replace: ["stack"],
    update: ["roles", "networkDataFile", "templatesDir", "vips", "concurrency", "workDir"],
    quiet: ["undercloud", "privateKey", "providerVersion", "timeoutMinutes"],
    location: "workDir",
};

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
        }
        return r;
    },

    async diff(_id: string, olds: BaremetalNodesOutputs, news: BaremetalNodesInputs) {
        return diffResult(diffByPolicy(POLICY, olds, news), olds.healthy === false);
    },

    async create(inputs: BaremetalNodesInputs) {
        const outs = await provision(inputs, []);
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
            () => provision(news, removedInstances(olds.roles, news.roles)),
            olds.healthy === false,
            (move, home) => relocate(olds, news, move, home),
        );
    },

    async delete(_id: string, props: BaremetalNodesOutputs) {
        const t = targetOf(props);
        const home = await remoteHome(t);
        const f = filesOf(props.stack, expandHome(props.workDir, home));
        await writeFile(t, f.baremetalFile, renderBaremetalFile(props.roles));
        const freed = props.roles.flatMap((r) => r.instances.map((i) => ({ role: r, i })));
        await runJob(t, {
            stack: props.stack,
            step: "unprovision",
            identity: sha256(renderBaremetalFile(props.roles)),
            timeoutMs: props.timeoutMinutes * 60000,
            onLine: progress(`metal ${props.stack}`),
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
    },
});

async function provision(
    inputs: BaremetalNodesInputs,
    removed: Array<{ role: RoleSpec; instance: RoleInstance }>,
): Promise<BaremetalNodesOutputs> {
    const t = targetOf(inputs);
    const home = await remoteHome(t);
    const f = filesOf(inputs.stack, expandHome(inputs.workDir, home));
    const netData = expandHome(inputs.networkDataFile, home);
    const baremetal = renderBaremetalFile(inputs.roles);
    const commands: JobCommand[] = [];
    // Written by the exec that starts the job (one round trip).
    const files = [{ path: f.baremetalFile, content: baremetal }];
    if (removed.length > 0) {
        const scaleIn = `${f.baremetalFile}.scale-in`;
        files.push({ path: scaleIn, content: renderBaremetalFile(inputs.roles, removed) });
        commands.push(unprovisionCommand(inputs.stack, scaleIn, false));
        for (const r of removed.filter((x) => x.role.cephDisks)) {
            commands.push(cleanDisksCommand(r.instance.node ?? r.instance.hostname));
        }
    }
    if (inputs.vips.length > 0) {
        files.push({ path: f.vipDataFile, content: renderVipData(inputs.vips) });
    }
    commands.push(...metalCommands(inputs, f, netData, home));
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
        onLine: progress(`metal ${inputs.stack}`),
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
        metalHash: sha256(text),
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
            { from: `${from.baremetalFile}.scale-in`, to: `${to.baremetalFile}.scale-in` },
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

/**
 * Renders the baremetal deployment file (input of `node provision`). `removed` instances are
 * listed with `provisioned: false` (for a scale-in `node unprovision` without `--all`).
 */
export function renderBaremetalFile(
    roles: RoleSpec[],
    removed: Array<{ role: RoleSpec; instance: RoleInstance }> = [],
): string {
    const doc = roles.map((r) => {
        const gone = removed.filter((x) => x.role.name === r.name).map((x) => x.instance);
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
            count: r.instances.length,
            instances: [
                ...r.instances.map((i) => ({ hostname: i.hostname, name: i.node ?? i.hostname })),
                ...gone.map((i) => ({ hostname: i.hostname, name: i.node ?? i.hostname, provisioned: false })),
            ],
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

/** Instances present in `olds` and absent from `news` (scale-in). */
export function removedInstances(
    olds: RoleSpec[],
    news: RoleSpec[],
): Array<{ role: RoleSpec; instance: RoleInstance }> {
    const kept = new Set(news.flatMap((r) => r.instances.map((i) => i.hostname)));
    const out: Array<{ role: RoleSpec; instance: RoleInstance }> = [];
    for (const r of olds) {
        for (const i of r.instances) {
            if (!kept.has(i.hostname)) {
                const inNew = news.find((n) => n.name === r.name);
                out.push({ role: inNew ?? r, instance: i });
            }
        }
    }
    return out;
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
    const hostnames = [...new Set(Object.values(hostnameMap))];
    return hostnames.sort().map((hostname) => ({
        hostname,
        role: byHost.get(hostname)?.role ?? "",
        node: byHost.get(hostname)?.node ?? hostname,
        ctlplaneIp: portMap[`${hostname}-ctlplane`]?.fixed_ips?.[0]?.ip_address ?? "",
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
                    "metalHash",
                    "healthy",
                ],
            },
            opts,
        );
    }
}
