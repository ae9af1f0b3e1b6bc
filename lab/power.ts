// `lab reboot`: a power cycle of the simulated undercloud. `lab stop` stops its services (sshd's
// listener, Ceph, Glance) and leaves what runs on the machine alone, as `systemctl stop` would; a
// reboot also ends every SSH connection, every command and every detached job, like a real
// undercloud's reboot does to a running deploy.
import * as fs from "node:fs";
import * as path from "node:path";
import { paths } from "./paths";

/**
 * Processes started by the lab's SSH sessions: bin/lab-session exports both `LAB_DIR=<dir>` and
 * `HOME=<lab home>`, and every command and detached job inherits them (an operator's shell that
 * merely exported LAB_DIR does not match). This process and its ancestors are never included.
 */
export function undercloudProcesses(dir: string): number[] {
    const labDir = Buffer.from(`LAB_DIR=${path.resolve(dir)}\0`);
    // The undercloud user's sessions: $HOME is the lab home or its dot-free link (paths.ts).
    const homes = [Buffer.from(`HOME=${paths(dir).home}\0`), Buffer.from(`HOME=${paths(dir).sessionHome}\0`)];
    const mine = ancestors();
    const out: number[] = [];
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d) || mine.has(Number(d))) continue;
        try {
            const env = fs.readFileSync(`/proc/${d}/environ`);
            if (env.includes(labDir) && homes.some((h) => env.includes(h))) out.push(Number(d));
        } catch {
            // exited, or not ours to read
        }
    }
    return out;
}

function parentOf(pid: number): number {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
        return 0;
    }
}

/** This process and every process above it. */
function ancestors(): Set<number> {
    const out = new Set<number>();
    for (let pid = process.pid; pid > 1 && !out.has(pid); pid = parentOf(pid)) out.add(pid);
    return out;
}

/** `pid` and every process descending from it (from /proc; the pids alive right now). */
export function processTree(pid: number): number[] {
    const children = new Map<number, number[]>();
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        const ppid = parentOf(Number(d)); // 0 when it exited meanwhile
        children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    }
    const out: number[] = [];
    const walk = (p: number) => {
        out.push(p);
        for (const c of children.get(p) ?? []) walk(c);
    };
    walk(pid);
    return out;
}

/** The sshd listener's descendants: the processes of every open connection (they outlive the listener). */
export function connectionProcesses(listener: number): number[] {
    return processTree(listener).slice(1);
}

/** True while the process exists and is not a zombie (killed, not yet reaped: gone for our purpose). */
export function alive(pid: number): boolean {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}

/** SIGKILLs the given processes and waits (≤ 10 s) until they are gone; returns those it killed. */
export async function killAll(pids: number[]): Promise<number[]> {
    const killed: number[] = [];
    for (const p of new Set(pids)) {
        try {
            process.kill(p, "SIGKILL");
            killed.push(p);
        } catch {
            // gone already
        }
    }
    for (let i = 0; i < 100 && killed.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    return killed;
}

/** Command line of a process, for the report. */
export function describe(pid: number): string {
    try {
        return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()}`;
    } catch {
        return `${pid} (gone)`;
    }
}
