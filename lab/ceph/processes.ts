// Daemon processes of a lab cluster: started detached (they outlive the short-lived lab CLI that
// starts them), recorded by PID plus kernel start time, and stopped by exactly those records.
// A PID alone could be reused by an unrelated process after a reboot; the start time cannot.
import { spawn } from "node:child_process";
import { promises as fs, openSync, closeSync, readdirSync, readFileSync } from "node:fs";

/** A process as recorded: its PID and kernel start time, which together never name another process. */
export interface ProcessIdentity {
    pid: number;
    /** Field 22 of /proc/<pid>/stat when started (clock ticks since boot); tells a reused PID apart. */
    startTime: string;
}

/** One daemon this module started. */
export interface DaemonRecord extends ProcessIdentity {
    /** "mon" or "osd". */
    role: "mon" | "osd";
    /** Ceph daemon id: "a" for the mon, "0" for the OSD. */
    id: string;
}

/** Parses the state letter and start time out of a /proc/<pid>/stat line (comm may hold spaces or parens). */
export function parseProcStat(stat: string): { state: string; startTime: string } | undefined {
    const afterComm = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // afterComm[0] is field 3 (state); field 22 (starttime) is afterComm[19].
    if (afterComm.length < 20) return undefined;
    return { state: afterComm[0], startTime: afterComm[19] };
}

function readProcStat(pid: number): { state: string; startTime: string } | undefined {
    try {
        return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return undefined;
    }
}

/**
 * True when the recorded process still runs: same PID, same start time, and not a zombie whose
 * threads are all gone. A zombie main thread alone is not enough: the other threads (and the
 * sockets they share) may still be exiting, and the mon ports would still look taken.
 */
export function isDaemonAlive(record: ProcessIdentity): boolean {
    const stat = readProcStat(record.pid);
    if (stat === undefined || stat.startTime !== record.startTime) return false;
    if (stat.state !== "Z" && stat.state !== "X") return true;
    try {
        return readdirSync(`/proc/${record.pid}/task`).some((tid) => tid !== String(record.pid));
    } catch {
        return false;
    }
}

/** This process's own identity, e.g. to mark who is creating a cluster. */
export function currentProcessIdentity(): ProcessIdentity {
    const stat = readProcStat(process.pid);
    if (!stat) throw new Error("cannot read /proc/self/stat");
    return { pid: process.pid, startTime: stat.startTime };
}

/** Reads the PID records; an absent file means none. */
export async function readDaemonRecords(pidsPath: string): Promise<DaemonRecord[]> {
    try {
        return JSON.parse(await fs.readFile(pidsPath, "utf8")) as DaemonRecord[];
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw err;
    }
}

/** Replaces the PID records atomically (write + rename), so a crash never leaves half a file. */
export async function writeDaemonRecords(pidsPath: string, records: DaemonRecord[]): Promise<void> {
    const tmp = `${pidsPath}.${process.pid}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(records, null, 2) + "\n");
    await fs.rename(tmp, pidsPath);
}

/**
 * Starts `command` in its own session and process group, output appended to `logPath`, not tied
 * to this process: it keeps running after we exit and gets no SIGHUP when an SSH session closes.
 */
export async function spawnDetachedDaemon(
    role: DaemonRecord["role"],
    id: string,
    command: string,
    args: string[],
    logPath: string,
): Promise<DaemonRecord> {
    const out = openSync(logPath, "a", 0o600);
    try {
        const child = spawn(command, args, { detached: true, stdio: ["ignore", out, out] });
        await new Promise<void>((resolve, reject) => {
            child.once("spawn", resolve);
            child.once("error", reject);
        });
        child.unref();
        const pid = child.pid;
        const stat = pid === undefined ? undefined : readProcStat(pid);
        if (pid === undefined || stat === undefined) {
            throw new Error(`${command} (${role}.${id}) exited at once; see ${logPath}`);
        }
        return { role, id, pid, startTime: stat.startTime };
    } finally {
        closeSync(out);
    }
}

/** Waits until `check` is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(
    check: () => boolean | Promise<boolean>,
    timeoutMs: number,
    intervalMs = 50,
): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        if (await check()) return true;
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
}

/**
 * Stops the recorded daemons newest first (OSD before mon: an OSD whose mon is gone waits ~5 s
 * for an ack), SIGTERM then SIGKILL after `graceMs`, waiting for each to exit. Returns the records
 * of processes that would not die (normally none).
 */
export async function stopDaemons(records: DaemonRecord[], graceMs = 10_000): Promise<DaemonRecord[]> {
    const survivors: DaemonRecord[] = [];
    for (const record of [...records].reverse()) {
        if (!isDaemonAlive(record)) continue;
        try {
            process.kill(record.pid, "SIGTERM");
        } catch {
            continue; // exited between the check and the signal
        }
        if (await waitFor(() => !isDaemonAlive(record), graceMs)) continue;
        try {
            process.kill(record.pid, "SIGKILL");
        } catch {
            continue;
        }
        if (!(await waitFor(() => !isDaemonAlive(record), 5_000))) survivors.push(record);
    }
    return survivors;
}

/** Peak and current resident memory of a live daemon in KiB (VmHWM, VmRSS), or undefined. */
export function daemonMemoryKiB(record: DaemonRecord): { peakRssKiB: number; rssKiB: number } | undefined {
    if (!isDaemonAlive(record)) return undefined;
    try {
        const status = readFileSync(`/proc/${record.pid}/status`, "utf8");
        const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
        return { peakRssKiB: field("VmHWM"), rssKiB: field("VmRSS") };
    } catch {
        return undefined;
    }
}
