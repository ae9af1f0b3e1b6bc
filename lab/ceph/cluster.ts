// Life cycle of one lab Ceph cluster: a mon (mon.a) and one OSD (osd.0), no mgr, in a directory
// the lab owns. Create bootstraps it; stop/start restart it from its data; wipe deletes it.
//
// Object store: bluestore on a sparse file, not memstore. The lab must survive `lab stop` /
// `lab start` with clusters "restarted from their data where possible": memstore loses every
// object when the OSD stops, bluestore keeps them on disk. It also bounds memory (a fixed
// 64 MiB cache instead of memstore's ~2x the data written) and costs only ~26 MiB of real disk
// per OSD. The price is ~4 s of OSD mkfs at create time.
import { randomUUID } from "node:crypto";
import { existsSync, promises as fs, readFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

import { CephCommandError, runCeph, runCommand } from "./commands";
import {
    type CephClusterRecord,
    type CephClusterSpec,
    clusterFiles,
    clusterPaths,
    formatMonHost,
    formatMonIps,
    generateCephxKey,
    renderClusterConf,
    renderKeyring,
    validateClusterSpec,
} from "./config";
import {
    type DaemonRecord,
    daemonMemoryKiB,
    type ProcessIdentity,
    currentProcessIdentity,
    isDaemonAlive,
    readDaemonRecords,
    spawnDetachedDaemon,
    stopDaemons,
    waitFor,
    writeDaemonRecords,
} from "./processes";

/** What the lab needs to know about a cluster; `running` is true when every recorded daemon lives. */
export interface CephClusterInfo {
    name: string;
    fsid: string;
    /** As in ceph.conf `mon host`, with the real addr/ports: `[v2:ADDR:P2,v1:ADDR:P1]`. */
    monHost: string;
    /** As `ceph mon dump` prints it: `[v2:ADDR:P2/0,v1:ADDR:P1/0]` (TripleO's `external_cluster_mon_ips`). */
    monIps: string;
    confPath: string;
    adminKeyringPath: string;
    running: boolean;
    /** Loopback address, mon ports and directory, as given at create. */
    addr: string;
    v2Port: number;
    v1Port: number;
    dir: string;
    /** The recorded daemons, their PIDs and whether each is alive. */
    daemons: Array<{ role: DaemonRecord["role"]; id: string; pid: number; alive: boolean }>;
}

/** createCephCluster found a cluster (or one being created) already in the directory. */
export class CephClusterExistsError extends Error {
    constructor(dir: string) {
        super(`a Ceph cluster already exists in ${dir}; wipe it first`);
        this.name = "CephClusterExistsError";
    }
}

/** startCephCluster could not bring the cluster back from its data; it was not re-created. */
export class CephClusterLostError extends Error {
    constructor(
        readonly dir: string,
        readonly reason: string,
    ) {
        super(`Ceph cluster in ${dir} is lost: ${reason}`);
        this.name = "CephClusterLostError";
    }
}

/** A pool or key operation needs the cluster's daemons running. */
export class CephClusterNotRunningError extends Error {
    constructor(dir: string) {
        super(`Ceph cluster in ${dir} is not running; start it first`);
        this.name = "CephClusterNotRunningError";
    }
}

const MON_READY_MS = 20_000;
const OSD_READY_MS = 90_000;

/** Reads `<dir>/cluster.json`, or undefined when there is no cluster. */
export async function readClusterRecord(dir: string): Promise<CephClusterRecord | undefined> {
    try {
        return JSON.parse(await fs.readFile(clusterFiles(dir).record, "utf8")) as CephClusterRecord;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
    }
}

/** Same as readClusterRecord but synchronous, for cephCommandEnv. */
function readClusterRecordSync(dir: string): CephClusterRecord {
    try {
        return JSON.parse(readFileSync(clusterFiles(dir).record, "utf8")) as CephClusterRecord;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`no Ceph cluster in ${dir}`);
        throw err;
    }
}

/** Env so the `ceph`/`rbd`/`rados` CLIs target this cluster as client.admin (add `--id <user>` for another user). */
export function cephCommandEnv(dir: string): { CEPH_CONF: string } {
    const record = readClusterRecordSync(dir);
    return { CEPH_CONF: clusterPaths(dir, record.name).conf };
}

function infoFrom(dir: string, record: CephClusterRecord, daemons: DaemonRecord[]): CephClusterInfo {
    const p = clusterPaths(dir, record.name);
    const states = daemons.map((d) => ({ role: d.role, id: d.id, pid: d.pid, alive: isDaemonAlive(d) }));
    const running = (["mon", "osd"] as const).every((role) => states.some((d) => d.role === role && d.alive));
    return {
        name: record.name,
        fsid: record.fsid,
        monHost: formatMonHost(record.addr, record.v2Port, record.v1Port),
        monIps: formatMonIps(record.addr, record.v2Port, record.v1Port),
        confPath: p.conf,
        adminKeyringPath: p.adminKeyring,
        running,
        addr: record.addr,
        v2Port: record.v2Port,
        v1Port: record.v1Port,
        dir,
        daemons: states,
    };
}

/** Recorded facts plus whether the recorded PIDs are alive; undefined when `dir` holds no cluster. */
export async function cephClusterInfo(dir: string): Promise<CephClusterInfo | undefined> {
    const record = await readClusterRecord(dir);
    if (!record) return undefined;
    return infoFrom(dir, record, await readDaemonRecords(clusterPaths(dir, record.name).pids));
}

/** Peak and current RSS (KiB) of each live daemon of the cluster, for measurements and `lab status`. */
export async function cephClusterMemory(
    dir: string,
): Promise<Array<{ role: string; pid: number; peakRssKiB: number; rssKiB: number }>> {
    const record = await readClusterRecord(dir);
    if (!record) return [];
    const daemons = await readDaemonRecords(clusterPaths(dir, record.name).pids);
    return daemons.flatMap((d) => {
        const mem = daemonMemoryKiB(d);
        return mem ? [{ role: d.role, pid: d.pid, ...mem }] : [];
    });
}

async function writeSecretFile(file: string, text: string): Promise<void> {
    await fs.writeFile(file, text, { mode: 0o600 });
}

/** A port some other process listens on; raised before a mon is started, so the cluster is not marked lost. */
export class CephPortInUseError extends Error {
    constructor(addr: string, port: number) {
        super(`${addr}:${port} is already in use by another process; the Ceph mon needs it`);
        this.name = "CephPortInUseError";
    }
}

function canListen(host: string, port: number): Promise<boolean> {
    const server = net.createServer();
    return new Promise<boolean>((resolve) => {
        server.once("error", () => resolve(false));
        server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
    });
}

/**
 * Throws CephPortInUseError unless both mon ports can be bound within `graceMs` (a mon killed a
 * moment ago may still be releasing them). Checked first because a mon that cannot bind retries
 * and then exits with a less direct message.
 */
async function assertMonPortsFree(record: CephClusterRecord, graceMs = 0): Promise<void> {
    for (const port of [record.v2Port, record.v1Port]) {
        if (!(await waitFor(() => canListen(record.addr, port), graceMs, 100))) {
            throw new CephPortInUseError(record.addr, port);
        }
    }
}

/** The last error lines (level -1) of a daemon's own log, else the tail of its stdout/stderr file. */
async function logTail(logDir: string, daemon: DaemonRecord, lines = 3): Promise<string> {
    const read = async (file: string) => {
        try {
            // eslint-disable-next-line no-control-regex -- strips the ANSI colours ceph puts on error lines
            const text = (await fs.readFile(path.join(logDir, file), "utf8")).replace(/\x1b\[[0-9;]*m/g, "");
            return text.split("\n").filter((line) => line.trim() !== "");
        } catch {
            return [];
        }
    };
    const errors = (await read(`${daemon.role}.${daemon.id}.log`)).filter((line) => / -1 /.test(line));
    const tail = errors.length > 0 ? errors : await read(`${daemon.role}.out`);
    return tail.slice(-lines).join(" | ") || "no log";
}

/** Throws unless the daemon process lives; the message carries its last error lines. */
async function assertAlive(daemon: DaemonRecord, logDir: string, fail: (reason: string) => Error): Promise<void> {
    if (!isDaemonAlive(daemon)) {
        throw fail(`${daemon.role}.${daemon.id} exited (${await logTail(logDir, daemon)})`);
    }
}

/** Waits until the mon says it leads its (one-member) quorum, or throws `fail(...)`. */
async function waitForMon(dir: string, mon: DaemonRecord, fail: (reason: string) => Error): Promise<void> {
    const p = clusterFiles(dir);
    const asok = path.join(p.runDir, `mon.${mon.id}.asok`);
    const ok = await waitFor(
        async () => {
            if (!isDaemonAlive(mon)) return true;
            try {
                const status = JSON.parse(
                    await runCommand("ceph", ["--admin-daemon", asok, "mon_status"], { timeoutMs: 10_000 }),
                ) as { state?: string };
                return status.state === "leader";
            } catch {
                return false;
            }
        },
        MON_READY_MS,
        100,
    );
    await assertAlive(mon, p.logDir, fail);
    if (!ok)
        throw fail(`mon.${mon.id} did not form a quorum within ${MON_READY_MS} ms (${await logTail(p.logDir, mon)})`);
}

/**
 * Waits until the OSD says it is "active" (booted and up in the osdmap it holds). The osdmap as
 * the mon sees it is not enough: after a kill -9 it still shows the dead OSD instance as up.
 */
async function waitForOsd(dir: string, osd: DaemonRecord, fail: (reason: string) => Error): Promise<void> {
    const asok = path.join(clusterFiles(dir).runDir, `osd.${osd.id}.asok`);
    const ok = await waitFor(
        async () => {
            if (!isDaemonAlive(osd)) return true;
            try {
                const status = JSON.parse(
                    await runCommand("ceph", ["--admin-daemon", asok, "status"], { timeoutMs: 10_000 }),
                ) as { state?: string };
                return status.state === "active";
            } catch {
                return false;
            }
        },
        OSD_READY_MS,
        200,
    );
    await assertAlive(osd, clusterFiles(dir).logDir, fail);
    if (!ok) throw fail(`osd.${osd.id} did not become active within ${OSD_READY_MS} ms`);
}

/**
 * Readiness by real I/O: a stat of a missing object answers ENOENT only once the pool's PG is
 * active; without a mgr, `ceph health` says OK even while PGs are inactive (mini-ceph.md pitfall 6).
 */
export async function waitForPoolIo(conf: string, pools: string[], timeoutMs = 60_000): Promise<void> {
    for (const pool of pools) {
        let lastError = "";
        const ok = await waitFor(
            async () => {
                try {
                    await runCommand("rados", ["-c", conf, "-p", pool, "stat", "lab-readiness-probe"], {
                        timeoutMs: 10_000,
                    });
                    return true; // the probe object exists (someone made it): I/O works
                } catch (err) {
                    lastError = err instanceof CephCommandError ? err.stderr : String(err);
                    return /\(2\) No such file or directory/.test(lastError);
                }
            },
            timeoutMs,
            200,
        );
        if (!ok)
            throw new Error(
                `pool ${pool} served no I/O within ${timeoutMs} ms: ${lastError.split("\n").slice(-2).join(" ")}`,
            );
    }
}

/** Who is creating the cluster in a dir: the content of the marker file until cluster.json exists. */
interface CreationMarker {
    name: string;
    /** The creating process, so an attempt whose process died (e.g. its SSH session dropped) can be told apart. */
    creator: ProcessIdentity;
}

async function readMarker(dir: string): Promise<CreationMarker | undefined> {
    try {
        return JSON.parse(await fs.readFile(clusterFiles(dir).marker, "utf8")) as CreationMarker;
    } catch {
        return undefined; // absent, or empty because its writer died between open and write
    }
}

/** Claims `dir` for a new cluster with an O_EXCL marker naming this process; false when someone holds it. */
async function claimDir(dir: string, name: string): Promise<boolean> {
    const marker: CreationMarker = { name, creator: currentProcessIdentity() };
    try {
        const handle = await fs.open(clusterPaths(dir, name).marker, "wx", 0o600);
        try {
            await handle.writeFile(JSON.stringify(marker) + "\n");
        } finally {
            await handle.close();
        }
        return true;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw err;
    }
}

/**
 * Bootstraps a new cluster in `spec.dir` (mon.a + osd.0, bluestore on a sparse file, no mgr),
 * daemons detached and recorded in `<dir>/pids.json`. Fails with CephClusterExistsError if the
 * directory already holds a cluster or one is being created; on any other failure it stops what
 * it started and removes what it wrote, so the same spec can be retried. An attempt whose process
 * died midway (no cluster.json, creator gone) is cleaned up and replaced.
 */
export async function createCephCluster(spec: CephClusterSpec): Promise<CephClusterInfo> {
    validateClusterSpec(spec);
    const { dir } = spec;
    const p = clusterPaths(dir, spec.name);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await claimDir(dir, spec.name))) {
        const marker = await readMarker(dir);
        const abandoned = !existsSync(p.record) && marker !== undefined && !isDaemonAlive(marker.creator);
        if (!abandoned) throw new CephClusterExistsError(dir);
        await discardCluster(dir, marker.name);
        if (!(await claimDir(dir, spec.name))) throw new CephClusterExistsError(dir);
    }
    try {
        return await bootstrap(spec);
    } catch (err) {
        await discardCluster(dir, spec.name);
        throw err;
    }
}

/** Stops the recorded daemons and removes the cluster's files, marker last. */
async function discardCluster(dir: string, name: string): Promise<void> {
    await stopCephCluster(dir);
    await removeClusterFiles(dir, name);
}

/** Everything createCephCluster writes in `dir` (and nothing else the lab may keep there). */
async function removeClusterFiles(dir: string, name: string): Promise<void> {
    const p = clusterPaths(dir, name);
    const owned = [
        path.join(dir, "mon"),
        path.join(dir, "osd"),
        p.logDir,
        p.runDir,
        p.crashDir,
        p.tmpDir,
        p.conf,
        p.adminKeyring,
        p.monKeyring,
        p.monmap,
        p.pids,
        p.record,
    ];
    for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
        if (entry.startsWith(`${name}.client.`) && entry.endsWith(".keyring")) owned.push(path.join(dir, entry));
    }
    for (const file of owned) await fs.rm(file, { recursive: true, force: true });
    // The marker goes last: until it is gone, no second create can start in this dir.
    await fs.rm(p.marker, { force: true });
}

async function bootstrap(spec: CephClusterSpec): Promise<CephClusterInfo> {
    const { dir } = spec;
    const p = clusterPaths(dir, spec.name);
    for (const sub of [p.logDir, p.runDir, p.crashDir, p.tmpDir, path.join(dir, "mon"), p.osdData]) {
        await fs.mkdir(sub, { recursive: true, mode: 0o700 });
    }
    const record: CephClusterRecord = {
        name: spec.name,
        fsid: randomUUID(),
        addr: spec.addr,
        v2Port: spec.v2Port,
        v1Port: spec.v1Port,
        objectStore: "bluestore",
        createdAt: new Date().toISOString(),
    };
    await assertMonPortsFree(record);
    await fs.writeFile(p.conf, renderClusterConf(record, dir));

    const adminKeyring = renderKeyring("client.admin", generateCephxKey(), {
        mds: "allow *",
        mgr: "allow *",
        mon: "allow *",
        osd: "allow *",
    });
    await writeSecretFile(p.adminKeyring, adminKeyring);
    await writeSecretFile(p.monKeyring, renderKeyring("mon.", generateCephxKey(), { mon: "allow *" }) + adminKeyring);
    const osdKey = generateCephxKey();
    await writeSecretFile(p.osdKeyring, renderKeyring("osd.0", osdKey));

    const monAddrs = formatMonHost(spec.addr, spec.v2Port, spec.v1Port);
    await runCommand("monmaptool", ["--create", "--fsid", record.fsid, "--addv", "a", monAddrs, p.monmap]);
    await runCommand("ceph-mon", ["-c", p.conf, "-i", "a", "--mkfs", "--monmap", p.monmap, "--keyring", p.monKeyring]);
    // The mon keeps its own copy of both keys in its store; the bootstrap files are not needed.
    await fs.rm(p.monKeyring);
    await fs.rm(p.monmap);

    // OSD mkfs (~4 s, bluestore) needs no mon, so it runs while the mon starts and registers osd.0.
    const osdUuid = randomUUID();
    const osdMkfs = runCommand(
        "ceph-osd",
        ["-c", p.conf, "-i", "0", "--mkfs", "--no-mon-config", "--osd-uuid", osdUuid],
        {
            timeoutMs: 120_000,
        },
    );
    const registerOsd = (async () => {
        const monLog = path.join(p.logDir, "mon.out");
        const mon = await spawnDetachedDaemon("mon", "a", "ceph-mon", ["-c", p.conf, "-i", "a", "-f"], monLog);
        await writeDaemonRecords(p.pids, [mon]);
        await waitForMon(dir, mon, (reason) => new Error(`Ceph cluster ${spec.name}: ${reason}`));
        // `osd new` with the secret in a 0600 file registers osd.0 and its cephx key in one mon write.
        const secretFile = path.join(p.tmpDir, "osd-secret.json");
        await writeSecretFile(secretFile, JSON.stringify({ cephx_secret: osdKey }));
        try {
            await runCeph(p.conf, ["osd", "new", osdUuid, "0", "-i", secretFile]);
        } finally {
            await fs.rm(secretFile, { force: true });
        }
        return mon;
    })();
    // Both must settle before a failure propagates: the cleanup must see every daemon started.
    const [registered, mkfs] = await Promise.allSettled([registerOsd, osdMkfs]);
    if (registered.status === "rejected") throw registered.reason;
    if (mkfs.status === "rejected") throw mkfs.reason;
    const mon = registered.value;

    const osdLog = path.join(p.logDir, "osd.out");
    const osd = await spawnDetachedDaemon("osd", "0", "ceph-osd", ["-c", p.conf, "-i", "0", "-f"], osdLog);
    await writeDaemonRecords(p.pids, [mon, osd]);
    await waitForOsd(dir, osd, (reason) => new Error(`Ceph cluster ${spec.name}: ${reason}`));
    // Written last: cluster.json is what makes the directory hold a cluster (and not an attempt).
    await fs.writeFile(p.record, JSON.stringify(record, null, 2) + "\n");
    return infoFrom(dir, record, [mon, osd]);
}

/**
 * Restarts the daemons of an existing cluster from their data (after `lab stop` or a reboot);
 * daemons still alive are kept. Throws CephClusterLostError, after stopping what it started,
 * when the data is missing or the daemons do not come back; it never re-creates a cluster.
 */
export async function startCephCluster(dir: string): Promise<CephClusterInfo> {
    const record = await readClusterRecord(dir);
    if (!record) throw new CephClusterLostError(dir, "no cluster is recorded there (cluster.json missing)");
    const p = clusterPaths(dir, record.name);
    for (const needed of [p.conf, p.adminKeyring, path.join(p.monData, "store.db"), p.osdKeyring, p.osdBlock]) {
        try {
            await fs.access(needed);
        } catch {
            throw new CephClusterLostError(dir, `its data is incomplete (${path.relative(dir, needed)} missing)`);
        }
    }
    // Re-rendered so a lab upgrade's conf changes reach existing clusters; the record is the source.
    await fs.writeFile(p.conf, renderClusterConf(record, dir));
    const lost = (reason: string) => new CephClusterLostError(dir, reason);
    const recorded = await readDaemonRecords(p.pids);
    const alive = recorded.filter(isDaemonAlive);
    const started: DaemonRecord[] = [];
    const current = (): DaemonRecord[] => [...alive, ...started];
    // A port held by someone else is not lost data: say so, and let the lab retry later.
    if (!alive.some((d) => d.role === "mon")) await assertMonPortsFree(record, 3_000);
    try {
        let mon = alive.find((d) => d.role === "mon");
        const monLog = path.join(p.logDir, "mon.out");
        if (!mon) {
            mon = await spawnDetachedDaemon("mon", "a", "ceph-mon", ["-c", p.conf, "-i", "a", "-f"], monLog);
            started.push(mon);
            await writeDaemonRecords(p.pids, current());
        }
        await waitForMon(dir, mon, lost);
        let osd = alive.find((d) => d.role === "osd");
        const osdLog = path.join(p.logDir, "osd.out");
        if (!osd) {
            osd = await spawnDetachedDaemon("osd", "0", "ceph-osd", ["-c", p.conf, "-i", "0", "-f"], osdLog);
            started.push(osd);
            await writeDaemonRecords(p.pids, current());
        }
        await waitForOsd(dir, osd, lost);
        const pools = JSON.parse(await runCeph(p.conf, ["osd", "pool", "ls", "--format", "json"])) as string[];
        await waitForPoolIo(p.conf, pools).catch((err: Error) => {
            throw lost(err.message);
        });
    } catch (err) {
        await stopDaemons(started);
        await writeDaemonRecords(p.pids, alive.filter(isDaemonAlive));
        if (err instanceof CephClusterLostError) throw err;
        throw lost((err as Error).message);
    }
    return infoFrom(dir, record, current());
}

/**
 * Stops exactly the recorded daemons (never by name), OSD before mon, waiting for exit; no-op when
 * stopped or absent. Also stops a cluster still being created (its creator then fails and cleans up).
 */
export async function stopCephCluster(dir: string): Promise<void> {
    const pidsPath = clusterFiles(dir).pids;
    const recorded = await readDaemonRecords(pidsPath);
    if (recorded.length === 0) return;
    const survivors = await stopDaemons(recorded);
    await writeDaemonRecords(pidsPath, survivors);
    if (survivors.length > 0) {
        throw new Error(
            `Ceph cluster in ${dir}: ${survivors.map((d) => `${d.role}.${d.id} (pid ${d.pid})`).join(", ")} would not stop`,
        );
    }
}

/** Stops the cluster and deletes its data ("disk clean"), also a half-made one; no-op when `dir` holds none. */
export async function wipeCephCluster(dir: string): Promise<void> {
    const name = (await readClusterRecord(dir))?.name ?? (await readMarker(dir))?.name;
    if (name !== undefined) await discardCluster(dir, name);
    // A create that died between opening its marker and writing it leaves an empty one.
    await fs.rm(clusterFiles(dir).marker, { force: true });
}
