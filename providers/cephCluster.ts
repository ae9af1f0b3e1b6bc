/**
 * CephCluster — one stack's deployed Ceph (`openstack overcloud ceph deploy`, cephadm).
 *
 *   Key: the `client.openstack` cephx key stays the one in use across re-runs. tripleoclient
 *   (v2/overcloud_ceph.py, the `tripleo_cephadm_keys` block) generates a NEW key on every
 *   `ceph deploy` whose --ansible-extra-vars file has pools but no `tripleo_cephadm_keys`, and the
 *   cephadm playbook imports it, cutting every client of the cluster. So the extra-vars file
 *   (0600, never argv) carries the key in use (previous outputs, or an existing cluster's
 *   ceph_client.yml); only a first deploy, or a `clientKeyGeneration` change, lets tripleoclient
 *   make a new one.
 *
 *   create  → write pools.yml (pools + client vars path); detached job: ensure the shared
 *             ceph-admin SSH key exists (under a lock: two first runs race on it), then
 *             `ceph deploy … --force --ansible-extra-vars pools.yml` so that pools and the
 *             `client.openstack` key exist before any export (reference §3.3, §7).
 *             An existing deployed-ceph file of the same cluster is adopted instead of redeploying
 *             (create is safe to repeat after a failure that happened after the deploy).
 *   read    → parse the deployed-ceph file (fsid, key); gone when it is missing.
 *   update  → `ceph deploy` again with the new inputs (new metal = scale-out). A new `workDir` moves
 *             the generated files there first; when nothing else changed but the paths of the
 *             (moved) metal files, that move is the whole update: the cluster is not touched.
 *   check   → refuses a new `clusterName` (or `stack`) once the cluster exists: TripleO cannot
 *             rename a deployed Ceph cluster, and a replace would redeploy over the running one.
 *   delete  → removes the generated files and the jobs of its `ceph deploy`s. The daemons go with the nodes: BaremetalNodes'
 *             delete unprovisions them and cleans their disks (reference §3.8), and it runs after
 *             this delete because the cluster depends on the metal.
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
import { BaseArgs, DcnResource } from "./resource";
import { JOBS_DIR, JobCommand, pruneJobs, readFile, remoteHome, removeFiles, run, runJob, tail } from "./remote/jobs";
import { cephAdminHosts, cephSpecPath, cephadmShell, nodeCommand } from "./remote/nodes";
import { knownSecrets } from "./remote/redact";
import { CEPH_CLUSTER_NAME, HOST_NAME, STACK_NAME, expandHome } from "./remote/shell";
import { SshTarget } from "./remote/ssh";
import { traced } from "./remote/trace";

// ---------------------------------------------------------------- inputs and outputs

export const PROVIDER_VERSION = "5"; // 2-3: client vars health (refresh detects a wiped ceph_client.yml); 4: the key in use kept, jobs pruned on delete, step progress; 5: metalSpec consumed, cephSpec and paths derived by check, fsid in new ids

export interface CephPool {
    name: string;
    targetSizeRatio: number;
}

export interface CephClusterInputs extends BaseInputs {
    stack: string;
    /** `[a-zA-Z0-9]+`, unique across sites. */
    clusterName: string;
    /** Deployed-metal file of the stack (from BaremetalNodes). */
    metalFile: string;
    /** The metal's spec (BaremetalNodes.metalSpec): a changed metal re-runs the deploy. */
    metalSpec: string;
    rolesFile: string;
    networkDataFile: string;
    containerPrepareFile: string;
    workDir: string;
    singleHostDefaults: boolean;
    pools: CephPool[];
    /** Bump to rotate the cephx client key (a new key; every consumer redeploys with it). */
    clientKeyGeneration: number;
    timeoutMinutes: number;
}

export interface CephClusterOutputs extends CephClusterInputs {
    cephFile: string;
    poolsFile: string;
    fsid: string;
    clientUserName: string;
    /** Secret (additionalSecretOutputs). */
    clientKey: string;
    /** sha256 of the deployed-ceph file (refresh records what is there). */
    cephHash: string;
    /**
     * What the deployed Ceph is made of (the metal's spec, pools, key generation, …): the stack's
     * deploy re-runs when it changes. Derived by check, so known at preview (`derive`).
     */
    cephSpec: string;
    /** `~/overcloud-deploy/<stack>/ceph_client.yml`: the source of `export ceph`. */
    clientVarsFile: string;
    /**
     * False when refresh found the deployed-ceph file but not the client vars (an `overcloud delete`
     * wipes the stack's working dir): the next up runs `ceph deploy` again, which rewrites them.
     */
    healthy: boolean;
}

// ---------------------------------------------------------------- diff policy

/**
 * `stack` and `clusterName` are the identity: check refuses a change of either once the cluster
 * exists (`refusal`). `workDir` is where the generated files live: a change moves them.
 */
export const POLICY: DiffPolicy = {
    replace: ["stack", "clusterName"],
    location: "workDir",
    update: [
        "workDir",
        "metalFile",
        "metalSpec",
        "rolesFile",
        "networkDataFile",
        "containerPrepareFile",
        "singleHostDefaults",
        "pools",
        "clientKeyGeneration",
    ],
    quiet: ["undercloud", "privateKey", "providerVersion", "timeoutMinutes"],
    derived: ["cephSpec", "cephFile", "poolsFile", "clientVarsFile"],
    adopted: ["metalSpec"],
};

/** The cluster's spec (undefined while an input is unknown). */
export function cephSpecOf(inputs: CephClusterInputs): string | undefined {
    const { stack, clusterName, metalSpec, networkDataFile, containerPrepareFile, singleHostDefaults, pools } = inputs;
    const clientKeyGeneration = inputs.clientKeyGeneration;
    return specOf({
        stack,
        clusterName,
        metalSpec,
        networkDataFile,
        containerPrepareFile,
        singleHostDefaults,
        pools,
        clientKeyGeneration,
    });
}

/**
 * What check derives (`derive` in providers/common.ts): the spec of the cluster (not the paths of
 * the metal's files: they move with the work dir, the cluster stays) and, with the undercloud's
 * $HOME, the generated files' paths, as the deploy writes them.
 */
export function derivedOf(inputs: CephClusterInputs, home: string | undefined): Record<string, unknown> {
    const { stack } = inputs;
    const f = home === undefined ? undefined : cephFilesOf(stack, expandHome(inputs.workDir, home));
    return {
        cephSpec: cephSpecOf(inputs),
        ...(f && home && { cephFile: f.cephFile, poolsFile: f.poolsFile, clientVarsFile: clientVarsPath(stack, home) }),
    };
}

export function inputSchema() {
    const path = remotePath();
    return z.object({
        ...baseShape(),
        stack: unk(z.string().regex(STACK_NAME)),
        clusterName: unk(z.string().regex(CEPH_CLUSTER_NAME, "Ceph cluster names are [a-zA-Z0-9]+")),
        metalFile: path,
        metalSpec: unk(z.string()),
        rolesFile: path,
        networkDataFile: path,
        containerPrepareFile: path,
        workDir: path,
        singleHostDefaults: unk(z.boolean()),
        pools: unk(
            z.array(
                unk(
                    z.object({
                        name: unk(z.string().regex(/^[a-z][a-z0-9_-]*$/)),
                        targetSizeRatio: unk(z.number().min(0).max(1)),
                    }),
                ),
            ),
        ),
        clientKeyGeneration: unk(z.number().int().min(0)),
        timeoutMinutes: unk(z.number().positive()),
    });
}

// ---------------------------------------------------------------- provider

export const cephClusterProvider: pulumi.dynamic.ResourceProvider = traced("CephCluster", {
    async check(olds: CephClusterInputs, news: CephClusterInputs) {
        const r = checkWith(inputSchema(), news);
        r.failures.push(...guardChanges(POLICY, olds, news, (k, o, n) => refusal(k, o, n, news.stack)));
        if (r.failures.length === 0) {
            r.inputs = await derive(olds, news, (home) => derivedOf(news, home));
        }
        return r;
    },

    async diff(_id: string, olds: CephClusterOutputs, news: CephClusterInputs) {
        return diffResult(diffByPolicy(POLICY, olds, news), olds.healthy === false);
    },

    async create(inputs: CephClusterInputs) {
        const outs = await deploy(inputs, true);
        // The fsid in the id: a cluster made anew (a replace, or one refresh found gone) has a new
        // id, which the Ceph exports consume (components/site.ts cephIdentity).
        return { id: `${inputs.stack}/${inputs.clusterName}/${outs.fsid}`, outs };
    },

    async read(id: string, props: CephClusterOutputs) {
        const text = await readFile(targetOf(props), props.cephFile);
        if (text === undefined) {
            return { id: "", props: {} };
        }
        const p = parseDeployedCeph(text);
        const home = await remoteHome(targetOf(props));
        const vars = await readFile(targetOf(props), clientVarsPath(props.stack, home));
        return {
            id,
            props: {
                ...props,
                fsid: p.fsid,
                clientKey: p.clientKey,
                clientUserName: p.clientUserName,
                cephHash: sha256(text),
                healthy: vars !== undefined,
            },
        };
    },

    async update(_id: string, olds: CephClusterOutputs, news: CephClusterInputs) {
        return updateByPolicy(
            POLICY,
            olds,
            news,
            () => deploy(news, false, olds),
            olds.healthy === false,
            (move, home) => relocate(olds, news, move, home),
        );
    },

    async delete(_id: string, props: CephClusterOutputs) {
        const t = targetOf(props);
        await removeFiles(t, [props.cephFile, props.poolsFile]);
        await pruneJobs(t, [{ stack: props.stack, step: "ceph" }]);
    },
});

/** Why an identity key may not change on an existing cluster, and what to do instead. */
export function refusal(key: string, oldValue: string, newValue: string, stack: string): string {
    if (key !== "clusterName") {
        return stackRenameRefusal(oldValue, newValue);
    }
    return (
        `the Ceph cluster of stack ${stack} is deployed as ${oldValue}: TripleO cannot rename the Ceph cluster of a ` +
        `deployed site (the name is in every client's /etc/ceph/${oldValue}.conf and keyring, and in the other ` +
        `sites' Ceph exports and Glance stores), and replacing the resource would run ceph deploy of ${newValue} over ` +
        `the running cluster. Set the site's cephCluster in dcn-storage:sites back to ${oldValue}; to use ` +
        `${newValue}, remove the site from dcn-storage:sites and run up (that destroys the site), then add it again ` +
        `with cephCluster ${newValue} (a full redeploy).`
    );
}

/**
 * Moves the deployed-ceph and pools files from the old work dir to the new one (the cluster is not
 * touched); undefined when the deployed-ceph file is at neither place (then `ceph deploy` runs).
 */
async function relocate(
    olds: CephClusterOutputs,
    news: CephClusterInputs,
    _move: Move,
    home: string,
): Promise<CephClusterOutputs | undefined> {
    const log = progress(`ceph ${news.stack}`);
    const from = cephFilesOf(olds.stack, expandHome(olds.workDir, home));
    const to = cephFilesOf(news.stack, expandHome(news.workDir, home));
    const missing = await moveFiles(
        targetOf(news),
        home,
        [
            { from: from.cephFile, to: to.cephFile, required: true },
            { from: from.poolsFile, to: to.poolsFile },
        ],
        expandHome(olds.workDir, home),
    );
    if (missing.length > 0) {
        log(`cannot move the generated files (${missing.join(", ")} missing): running ceph deploy at ${news.workDir}`);
        return undefined;
    }
    log(movedLine(olds.workDir, news.workDir, home));
    return { ...olds, ...news, cephFile: to.cephFile, poolsFile: to.poolsFile };
}

/** `olds`: the previous outputs on update (their client key is redacted from the job's output). */
async function deploy(
    inputs: CephClusterInputs,
    adopt: boolean,
    olds?: CephClusterOutputs,
): Promise<CephClusterOutputs> {
    const t = targetOf(inputs);
    const home = await remoteHome(t);
    const f = cephFilesOf(inputs.stack, expandHome(inputs.workDir, home));
    const clientVars = clientVarsPath(inputs.stack, home);
    // The key in use: the previous outputs' (unless a rotation is asked for), else an existing
    // cluster's (its client vars, e.g. after the state was lost); none on a first deploy.
    const rotate = olds !== undefined && olds.clientKeyGeneration !== inputs.clientKeyGeneration;
    const keyInUse = rotate
        ? undefined
        : olds?.clientKey || parseClientVarsKey(await readFile(t, clientVars), CLIENT_USER);
    const pools = renderPoolsFile(inputs.pools, clientVars, keyInUse);
    const spec = {
        stack: inputs.stack,
        step: "ceph",
        // Not the key: a retry after a dropped connection finds the same job.
        identity: sha256(
            renderPoolsFile(inputs.pools, clientVars) + inputs.metalSpec + String(inputs.clientKeyGeneration),
        ),
        timeoutMs: inputs.timeoutMinutes * 60000,
        secrets: [...knownSecrets(inputs, olds), ...(keyInUse ? [keyInUse] : [])],
        commands: cephCommands(inputs, f, home),
        // pools.yml is written by the exec that starts the job; the output is read by the one that sees its end.
        files: [{ path: f.poolsFile, content: pools }],
        collect: [f.cephFile],
    };
    // On create, an existing deployed cluster of the same name (its file and client vars) is
    // adopted: the exec that would start the job answers them instead when both exist.
    const report = () => stepProgress(inputs, inputs.stack, "ceph");
    let job = await runJob(
        t,
        adopt ? { ...spec, report: report(), skipIfPresent: [f.cephFile, clientVars] } : { ...spec, report: report() },
    );
    if (job.skipped) {
        const existing = job.files[f.cephFile]!;
        const p = parseDeployedCeph(existing);
        if (p.clusterName === inputs.clusterName && p.fsid && p.clientKey) {
            progress(`ceph ${inputs.stack}`)(
                `adopting the existing cluster ${p.clusterName} (fsid ${p.fsid}) from ${f.cephFile}`,
            );
            return outputsOf(inputs, f, existing, clientVars);
        }
        job = await runJob(t, { ...spec, report: report() });
    }
    const text = job.files[f.cephFile];
    if (text === undefined) {
        throw new Error(`ceph deploy of ${inputs.stack} finished but ${f.cephFile} is missing on the undercloud`);
    }
    return outputsOf(inputs, f, text, clientVars);
}

function outputsOf(
    inputs: CephClusterInputs,
    f: ReturnType<typeof cephFilesOf>,
    text: string,
    clientVarsFile: string,
): CephClusterOutputs {
    const p = parseDeployedCeph(text);
    if (p.clusterName && p.clusterName !== inputs.clusterName) {
        throw new Error(`${f.cephFile} describes cluster ${p.clusterName}, expected ${inputs.clusterName}`);
    }
    return {
        ...inputs,
        cephFile: f.cephFile,
        poolsFile: f.poolsFile,
        fsid: p.fsid,
        clientUserName: p.clientUserName,
        clientKey: p.clientKey,
        cephHash: sha256(text),
        cephSpec: cephSpecOf(inputs) ?? "",
        clientVarsFile,
        healthy: true,
    };
}

// ---------------------------------------------------------------- remote commands

/**
 * Where deployed Ceph writes the client vars that `export ceph` reads: tripleoclient passes
 * `tripleo_ceph_client_vars: <working dir>/ceph_client.yml` (v2/overcloud_ceph.py; an extra-vars
 * file cannot move it, the CLI's own -e wins) and export.py export_ceph reads it there.
 */
export function clientVarsPath(stack: string, home: string): string {
    return `${home}/overcloud-deploy/${stack}/ceph_client.yml`;
}

/** The client the program's pools and keys are for (`--ceph-client-username` default). */
export const CLIENT_USER = "openstack";

/** The key of `client.<user>` in a ceph_client.yml (tripleo_cephadm's export), if any. */
export function parseClientVarsKey(text: string | undefined, user: string): string | undefined {
    if (!text) {
        return undefined;
    }
    const doc = (parse(text) ?? {}) as { keys?: Array<{ name?: string; key?: string }> };
    const key = (doc.keys ?? []).find((k) => k.name === `client.${user}`)?.key;
    return key && /^[A-Za-z0-9+/]{38}==$/.test(key) ? key : undefined;
}

export function cephFilesOf(stack: string, workDir: string) {
    return { cephFile: `${workDir}/deployed-ceph-${stack}.yaml`, poolsFile: `${workDir}/pools-${stack}.yml` };
}

/** Creates the shared ceph-admin key once (providers/common.ts), so concurrent first `ceph deploy`s do not race on it. */
export { CEPH_ADMIN_KEY_SCRIPT };

export function cephCommands(inputs: CephClusterInputs, f: ReturnType<typeof cephFilesOf>, home: string): JobCommand[] {
    return [
        { argv: ["sh", "-c", CEPH_ADMIN_KEY_SCRIPT], lock: expandHome(`${JOBS_DIR}/ceph-admin-key.lock`, home) },
        {
            // -y overwrites the output: a failed re-run keeps the previous file (and refresh keeps the cluster).
            argv: [
                "openstack",
                "overcloud",
                "ceph",
                "deploy",
                inputs.metalFile,
                "-y",
                "-o",
                f.cephFile,
                ...(inputs.singleHostDefaults ? ["--single-host-defaults"] : []),
                "--container-image-prepare",
                expandHome(inputs.containerPrepareFile, home),
                "--network-data",
                expandHome(inputs.networkDataFile, home),
                "--roles-data",
                inputs.rolesFile,
                "--cluster",
                inputs.clusterName,
                "--stack",
                inputs.stack,
                "--force",
                "--ansible-extra-vars",
                f.poolsFile,
            ],
        },
    ];
}

// ---------------------------------------------------------------- scale-in: hosts leave the cluster

export interface DrainOptions {
    stack: string;
    cluster: string;
    /** Hostnames leaving the cluster (those cephadm does not list are skipped: already gone). */
    hosts: string[];
    /** Budget of the whole drain. */
    timeoutMs: number;
    /** Poll period of the OSD removal, ms (default 5000). */
    pollMs?: number;
    log?: (line: string) => void;
}

/** A JSON answer of a `ceph … --format json` run through cephadm shell (its own chatter is on stderr). */
export function parseCephJson(stdout: string): unknown {
    const text = stdout.trim();
    try {
        return JSON.parse(text);
    } catch {
        const last = text
            .split("\n")
            .reverse()
            .find((l) => /^[[{]/.test(l.trim()));
        if (last === undefined) {
            throw new Error(`not a JSON answer: ${text.slice(0, 200)}`);
        }
        return JSON.parse(last);
    }
}

/** Hostnames of `ceph orch host ls --format json`, validated. */
export function parseOrchHosts(v: unknown): string[] {
    if (!Array.isArray(v)) {
        throw new Error("ceph orch host ls: not a list");
    }
    return v.map((h: { hostname?: unknown }) => {
        if (typeof h?.hostname !== "string" || !HOST_NAME.test(h.hostname)) {
            throw new Error(`ceph orch host ls: bad hostname ${JSON.stringify(h?.hostname)}`);
        }
        return h.hostname;
    });
}

/** OSD ids under each of `hosts` in `ceph osd tree --format json`, validated as integers. */
export function parseOsdTree(v: unknown, hosts: readonly string[]): number[] {
    const nodes = (v as { nodes?: unknown })?.nodes;
    if (!Array.isArray(nodes)) {
        throw new Error("ceph osd tree: no nodes");
    }
    const ids: number[] = [];
    for (const n of nodes as Array<{ type?: unknown; name?: unknown; children?: unknown }>) {
        if (n?.type === "host" && typeof n.name === "string" && hosts.includes(n.name)) {
            for (const c of Array.isArray(n.children) ? n.children : []) {
                if (!Number.isInteger(c) || (c as number) < 0) {
                    throw new Error(`ceph osd tree: bad OSD id ${JSON.stringify(c)} under ${n.name}`);
                }
                ids.push(c as number);
            }
        }
    }
    return ids;
}

/** OSD ids still queued in `ceph orch osd rm status --format json`, validated. */
export function parseOsdRmStatus(v: unknown): number[] {
    if (!Array.isArray(v)) {
        return [];
    }
    return v.map((e: { osd_id?: unknown }) => {
        if (!Number.isInteger(e?.osd_id)) {
            throw new Error(`ceph orch osd rm status: bad osd_id ${JSON.stringify(e?.osd_id)}`);
        }
        return e.osd_id as number;
    });
}

/**
 * Takes `hosts` out of the stack's Ceph cluster the way tripleo-docs deployed_ceph.rst "Scale Down"
 * does, through a node of the site that keeps the cluster's admin keyring (an `_admin` host of the
 * deployed spec that is not leaving): `_no_schedule` on the hosts (cephadm places nothing new there
 * and moves their mon/mgr away), `ceph orch osd rm --zap` of their OSDs (`ceph osd tree`), wait
 * until `ceph orch osd rm status` no longer lists them, wait until `ceph orch ps <host>` is empty,
 * `ceph orch host rm <host>`. Every step is idempotent (a host cephadm no longer lists is skipped),
 * so a retry after a failure or an interrupted `up` resumes. Returns the hosts it removed.
 */
export async function drainCephHosts(t: SshTarget, o: DrainOptions): Promise<string[]> {
    const log = o.log ?? (() => undefined);
    const spec = await readFile(t, cephSpecPath(o.stack));
    if (spec === undefined) {
        log(`no deployed Ceph spec for ${o.stack} (${cephSpecPath(o.stack)}): no Ceph host to drain`);
        return [];
    }
    const via = cephAdminHosts(spec, o.hosts)[0];
    if (!via) {
        throw new Error(
            `scale-in of stack ${o.stack}: no Ceph admin host (a mon host with /etc/ceph/${o.cluster}.client.admin.keyring) ` +
                `remains outside ${o.hosts.join(", ")} to drain them through`,
        );
    }
    const deadline = Date.now() + o.timeoutMs;
    const ceph = async (args: string[]): Promise<string> => {
        const r = await run(
            t,
            nodeCommand(o.stack, via.addr, cephadmShell(o.cluster, ["ceph", ...args])),
            undefined,
            300000,
        );
        if (r.code !== 0) {
            throw new Error(
                `ceph ${args.join(" ")} on ${via.hostname} (${via.addr}) failed (exit ${r.code}): ${tail(r.stderr || r.stdout, 5)}`,
            );
        }
        return r.stdout;
    };
    const wait = async (what: string, done: () => Promise<boolean>) => {
        while (!(await done())) {
            if (Date.now() > deadline) {
                throw new Error(
                    `scale-in of stack ${o.stack}: ${what} did not finish within ${Math.round(o.timeoutMs / 60000)} min`,
                );
            }
            await new Promise((r) => setTimeout(r, o.pollMs ?? 5000));
        }
    };
    const members = parseOrchHosts(parseCephJson(await ceph(["orch", "host", "ls", "--format", "json"])));
    const hosts = o.hosts.filter((h) => members.includes(h));
    if (hosts.length === 0) {
        log(`Ceph cluster ${o.cluster}: ${o.hosts.join(", ")} already out of the cluster`);
        return [];
    }
    log(`Ceph cluster ${o.cluster}: draining ${hosts.join(", ")} through ${via.hostname}`);
    for (const h of hosts) {
        await ceph(["orch", "host", "label", "add", h, "_no_schedule"]);
    }
    const osds = parseOsdTree(parseCephJson(await ceph(["osd", "tree", "--format", "json"])), hosts);
    const queued = () =>
        ceph(["orch", "osd", "rm", "status", "--format", "json"]).then((out) => parseOsdRmStatus(parseCephJson(out)));
    const already = await queued();
    const toRemove = osds.filter((id) => !already.includes(id));
    if (toRemove.length > 0) {
        await ceph(["orch", "osd", "rm", ...toRemove.map(String), "--zap"]);
    }
    await wait(`the removal of OSD(s) ${osds.join(", ")}`, async () => {
        const left = (await queued()).filter((id) => osds.includes(id));
        if (left.length > 0) {
            log(`Ceph cluster ${o.cluster}: OSD(s) ${left.join(", ")} draining`);
        }
        return left.length === 0;
    });
    for (const h of hosts) {
        await wait(`the removal of the daemons of ${h}`, async () => {
            const daemons = parseCephJson(await ceph(["orch", "ps", h, "--format", "json"]));
            return Array.isArray(daemons) && daemons.length === 0;
        });
        await ceph(["orch", "host", "rm", h]);
        log(`Ceph cluster ${o.cluster}: host ${h} removed`);
    }
    return hosts;
}

// ---------------------------------------------------------------- pure helpers

export const DEFAULT_POOLS: CephPool[] = [
    { name: "vms", targetSizeRatio: 0.3 },
    { name: "volumes", targetSizeRatio: 0.5 },
    { name: "images", targetSizeRatio: 0.2 },
];

/**
 * pools.yml of `--ansible-extra-vars` (fultonj/xena pools_template.yml). With `key`, also the
 * key to keep, as tripleoclient's get_tripleo_cephadm_keys shapes it (then tripleoclient makes none)
 * and the two vars it would pass to the deployed-ceph template (CephClientUserName, CephClientKey).
 */
export function renderPoolsFile(pools: CephPool[], clientVarsPath: string, key?: string): string {
    const doc: Record<string, unknown> = {
        tripleo_cephadm_pools: pools.map((p) => ({
            name: p.name,
            pg_autoscale_mode: true,
            target_size_ratio: p.targetSizeRatio,
            application: "rbd",
        })),
        tripleo_ceph_client_vars: clientVarsPath,
    };
    if (key) {
        doc.tripleo_cephadm_keys = [
            {
                name: `client.${CLIENT_USER}`,
                key,
                mode: "0600",
                caps: {
                    mgr: "allow *",
                    mon: "profile rbd",
                    osd: pools.map((p) => `profile rbd pool=${p.name}`).join(", "),
                },
            },
        ];
        doc.ceph_client_key = key;
        doc.ceph_client_username = CLIENT_USER;
    }
    return stringify(doc);
}

/** Parses a deployed-ceph env file (§4.2). */
export function parseDeployedCeph(text: string): {
    fsid: string;
    clusterName: string;
    clientUserName: string;
    clientKey: string;
} {
    const doc = (parse(text) ?? {}) as { parameter_defaults?: Record<string, unknown> };
    const pd = doc.parameter_defaults ?? {};
    return {
        fsid: String(pd.CephClusterFSID ?? ""),
        clusterName: String(pd.CephClusterName ?? ""),
        clientUserName: String(pd.CephClientUserName ?? "openstack"),
        clientKey: String(pd.CephClientKey ?? ""),
    };
}

// ---------------------------------------------------------------- resource

export interface CephClusterArgs extends BaseArgs {
    /** TripleO stack (identity). */
    stack: pulumi.Input<string>;
    /** Ceph cluster name, `[a-zA-Z0-9]+`, unique across sites (identity). */
    clusterName: pulumi.Input<string>;
    /** Deployed-metal file of the stack. */
    metalFile: pulumi.Input<string>;
    /** The metal's spec (BaremetalNodes.metalSpec: re-deploys when the metal changes). */
    metalSpec: pulumi.Input<string>;
    /** Roles file of the stack. */
    rolesFile: pulumi.Input<string>;
    /** Shared network data file. */
    networkDataFile: pulumi.Input<string>;
    /** Container image prepare file, e.g. `~/containers-prepare-parameter.yaml`. */
    containerPrepareFile: pulumi.Input<string>;
    /** Undercloud directory of the stack's generated files. */
    workDir: pulumi.Input<string>;
    /** `--single-host-defaults` (pool size 1; labs). Default false. */
    singleHostDefaults?: pulumi.Input<boolean>;
    /** Pools created at deploy time, with the client key; default vms/volumes/images. */
    pools?: pulumi.Input<CephPool[]>;
    /** Bump to rotate the cephx client key; default 0. */
    clientKeyGeneration?: pulumi.Input<number>;
    /** Own deadline of the detached job, minutes; default 120. */
    timeoutMinutes?: pulumi.Input<number>;
}

/** A stack's deployed Ceph cluster (`pulumi-nodejs:dynamic/dcn:CephCluster`). */
export class CephCluster extends DcnResource {
    declare public readonly clusterName: pulumi.Output<string>;
    declare public readonly cephFile: pulumi.Output<string>;
    declare public readonly fsid: pulumi.Output<string>;
    declare public readonly clientUserName: pulumi.Output<string>;
    /** Secret. */
    declare public readonly clientKey: pulumi.Output<string>;
    declare public readonly cephHash: pulumi.Output<string>;
    declare public readonly cephSpec: pulumi.Output<string>;

    constructor(name: string, args: CephClusterArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            cephClusterProvider,
            name,
            args,
            {
                type: "CephCluster",
                providerVersion: PROVIDER_VERSION,
                defaults: {
                    singleHostDefaults: args.singleHostDefaults ?? false,
                    pools: args.pools ?? DEFAULT_POOLS,
                    clientKeyGeneration: args.clientKeyGeneration ?? 0,
                    timeoutMinutes: args.timeoutMinutes ?? 120,
                },
                outputs: [
                    "cephFile",
                    "poolsFile",
                    "fsid",
                    "clientUserName",
                    "clientKey",
                    "cephHash",
                    "cephSpec",
                    "clientVarsFile",
                    "healthy",
                ],
                secretOutputs: ["clientKey"],
            },
            opts,
        );
    }
}
