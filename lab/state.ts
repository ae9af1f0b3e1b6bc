// The lab's world, persisted as JSON under the lab dir (atomic writes) and guarded by a lock file
// created with O_EXCL, because several undercloud commands run at the same time over SSH.
import * as fs from "node:fs";
import { paths, writeFileAtomic } from "./paths";

export type ProvisionState = "available" | "active" | "manageable" | "cleaning" | "deploying" | "error";

export interface BaremetalNode {
    name: string;
    uuid: string;
    provisionState: ProvisionState;
    powerState: "power on" | "power off";
    maintenance: boolean;
    /** Stack whose allocation holds the node; null when free. */
    stack: string | null;
    /** Instance hostname given by node provision (the allocation name). */
    hostname: string | null;
    role: string | null;
    ctlplaneIp: string;
    /** Ceph OSD metadata left on the disks by a ceph deploy; only a disk clean removes it. */
    disksDirty: boolean;
    /** ISO time when an async clean finishes (state becomes manageable). */
    cleanUntil?: string;
    /** How many times an instance was deployed onto this node (fault tests: never twice per up). */
    deployments?: number;
}

export type StackStatus =
    | "NODES_PROVISIONED"
    | "CEPH_DEPLOYED"
    | "DEPLOYING"
    | "DEPLOY_SUCCESS"
    | "DEPLOY_FAILED"
    | "NODES_UNPROVISIONED";

export interface StackRecord {
    name: string;
    status: StackStatus;
    /** The baremetal file contents last used by node provision (parsed roles list). */
    roles: string[];
    /** True once an overcloud deploy of this stack completed successfully. */
    deployed: boolean;
    /** Whether the stack is central (has a Controller role) once deployed. */
    central?: boolean;
    /** Keystone endpoint and admin password of a deployed central stack (for token issue). */
    keystoneUrl?: string;
    adminPassword?: string;
    /** FSID and cephx key this stack was deployed with (DCN checks: no reuse of the central ones). */
    deployedFsid?: string;
    deployedClientKey?: string;
    /** GlanceMultistoreConfig store id -> cluster name, as deployed (stale stores are kept). */
    glanceStores?: Record<string, string>;
}

export interface CephClusterState {
    name: string;
    stack: string;
    fsid: string;
    dir: string;
    addr: string;
    monHost: string;
    running: boolean;
    /** Data could not be restarted (never silently re-created). */
    lost: boolean;
    pools: boolean;
    /** Baremetal node names of the cluster's hosts (mon/OSD services); `ceph orch host rm` takes one out. */
    hosts: string[];
    /**
     * The cephadm orchestrator's view of the cluster (`ceph orch …`, `ceph osd tree` through the
     * nodes' `cephadm shell`, lab/undercloud/nodes.ts). The real mini cluster has one mon and one OSD
     * standing for all of these: hosts, labels and OSD ids are the lab's bookkeeping.
     */
    orch?: OrchState;
}

/** What cephadm knows of a cluster's hosts and OSDs (lab/undercloud/orch.ts). */
export interface OrchState {
    hosts: Array<{ hostname: string; addr: string; labels: string[] }>;
    osds: Array<{ id: number; host: string }>;
    /** `ceph orch osd rm` queue: an entry is done (the OSD purged) at `doneAt` if its PGs can move. */
    removals: Array<{ id: number; host: string; zap: boolean; startedAt: string; doneAt: string }>;
    /** Replicas of the pools (TripleO's CephPoolDefaultSize; 1 with --single-host-defaults). */
    poolSize: number;
    nextOsdId: number;
}

export interface Aggregate {
    name: string;
    availabilityZone: string;
    hosts: string[];
    cloud: string;
    createdAt: string;
}

export interface NetworkState {
    /** Contents of the network data file used by `network provision` (all stacks must use it). */
    dataFile: string;
    dataText: string;
    networks: Record<string, { subnets: string[]; cidr: string; vlan?: number }>;
}

export interface LabState {
    version: 1;
    network: NetworkState | null;
    nodes: BaremetalNode[];
    stacks: StackRecord[];
    cephClusters: CephClusterState[];
    aggregates: Aggregate[];
    /** The ceph-admin SSH key exists on the undercloud (first ceph deploy creates it). */
    cephAdminKey: boolean;
    /** PID of the ceph deploy creating ~/.ssh/ceph-admin-id_rsa right now (first runs race, §9). */
    cephAdminKeyCreator?: number;
    nextIp: number;
}

const SEED_NODES = [
    "oc0-controller-0",
    "oc0-controller-1",
    "oc0-controller-2",
    "oc0-ceph-0",
    "oc0-ceph-1",
    "oc0-ceph-2",
    "oc0-ceph-3",
    "oc0-compute-0",
];

function uuidFor(i: number): string {
    const hex = (i + 1).toString(16).padStart(12, "0");
    return `7b1a3c2e-5d4f-4e6a-9b8c-${hex}`;
}

export function initialState(spares: number): LabState {
    const names = [...SEED_NODES, ...Array.from({ length: spares }, (_, i) => `oc0-spare-${i}`)];
    return {
        version: 1,
        network: null,
        nodes: names.map((name, i) => ({
            name,
            uuid: uuidFor(i),
            provisionState: "available",
            powerState: "power off",
            maintenance: false,
            stack: null,
            hostname: null,
            role: null,
            ctlplaneIp: `192.168.24.${10 + i}`,
            disksDirty: false,
        })),
        stacks: [],
        cephClusters: [],
        aggregates: [],
        cephAdminKey: false,
        nextIp: 50,
    };
}

export function readState(dir?: string): LabState {
    const p = paths(dir).state;
    const s = JSON.parse(fs.readFileSync(p, "utf8")) as LabState;
    settleTimers(s);
    return s;
}

export function writeState(s: LabState, dir?: string): void {
    writeFileAtomic(paths(dir).state, JSON.stringify(s, null, 2) + "\n");
}

/** Applies time-based transitions (async disk clean finishing). */
function settleTimers(s: LabState): void {
    const now = Date.now();
    for (const n of s.nodes) {
        if (n.provisionState === "cleaning" && n.cleanUntil && Date.parse(n.cleanUntil) <= now) {
            n.provisionState = "manageable";
            delete n.cleanUntil;
        }
    }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Takes the lab lock (O_EXCL lock file holding our PID; a dead holder's lock is broken). */
export function acquireLock(dir?: string, timeoutMs = 60_000): () => void {
    const lock = paths(dir).lock;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            const fd = fs.openSync(lock, "wx");
            fs.writeSync(fd, String(process.pid));
            fs.closeSync(fd);
            return () => {
                try {
                    if (fs.readFileSync(lock, "utf8") === String(process.pid)) fs.unlinkSync(lock);
                } catch {
                    /* already gone */
                }
            };
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
            let holder = NaN;
            try {
                holder = Number(fs.readFileSync(lock, "utf8"));
            } catch {
                continue;
            }
            if (Number.isFinite(holder) && holder > 0 && !pidAlive(holder)) {
                try {
                    fs.unlinkSync(lock);
                } catch {
                    /* someone else broke it */
                }
                continue;
            }
            if (Date.now() > deadline) throw new Error(`lab state lock ${lock} held by PID ${holder} for too long`);
            sleepSync(10);
        }
    }
}

/** Read-modify-write of the state under the lock. The callback may throw to abort (no write). */
export function withState<T>(fn: (s: LabState) => T, dir?: string): T {
    const release = acquireLock(dir);
    try {
        const s = readState(dir);
        const out = fn(s);
        writeState(s, dir);
        return out;
    } finally {
        release();
    }
}

/** Async variant: the lock is held across awaits (keep them short). */
export async function withStateAsync<T>(fn: (s: LabState) => Promise<T>, dir?: string): Promise<T> {
    const release = acquireLock(dir);
    try {
        const s = readState(dir);
        const out = await fn(s);
        writeState(s, dir);
        return out;
    } finally {
        release();
    }
}
