// Helpers of tests/integration/interrupts.test.ts: a `pulumi` run that can be interrupted like an
// operator's terminal would (own process group, SIGINT / SIGKILL of the whole process tree), fast
// reads of a private lab's command log, and a simulated undercloud reboot.
import { spawn } from "node:child_process";
import { readLog } from "../../lab/journal";
import { describe, processTree } from "../../lab/power";
import { type LabLogEntry, type PrivateLab } from "./lab";
import { type PulumiResult, type PulumiWorkspace } from "./pulumi";

export interface RunningPulumi {
    /** PID of the `pulumi` CLI; it leads its own process group. */
    pid: number;
    /** stdout + stderr so far. */
    output(): string;
    /** Resolves when the CLI has exited (never rejects). */
    done: Promise<PulumiResult>;
}

/**
 * Starts `pulumi <args>` in the workspace in its own process group (as a shell job on a terminal
 * is), without waiting for it.
 */
export function startPulumi(ws: PulumiWorkspace, args: string[]): RunningPulumi {
    const child = spawn("pulumi", args, { cwd: ws.projectDir, env: ws.env, stdio: "pipe", detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.stdin.end();
    const done = new Promise<PulumiResult>((resolve) => {
        child.on("error", (e) => resolve({ code: -1, stdout, stderr: stderr + String(e) }));
        child.on("close", (code, signal) =>
            resolve({ code: code ?? (signal ? 128 + signalNumber(signal) : -1), stdout, stderr }),
        );
    });
    return { pid: child.pid!, output: () => stdout + stderr, done };
}

function signalNumber(signal: NodeJS.Signals): number {
    return ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
}

/** Command lines of processes (for messages). */
export function describeProcesses(pids: number[]): string[] {
    return pids.map(describe);
}

/**
 * Sends `signal` to a process, its process group and every descendant (taken as one snapshot
 * before any signal, so orphans re-parented meanwhile are not missed): what a lost terminal plus
 * a supervisor's cleanup do to `pulumi`, its language host, the program and the provider plugins
 * (Pulumi starts plugins in process groups of their own, so the group alone would miss them).
 * Returns the processes signalled.
 */
export function killTree(pid: number, signal: NodeJS.Signals): number[] {
    const pids = processTree(pid);
    try {
        process.kill(-pid, signal);
    } catch {
        // no such group
    }
    for (const p of pids) {
        try {
            process.kill(p, signal);
        } catch {
            // already gone
        }
    }
    return pids;
}

/** The lab's command log read straight from `<LAB_DIR>/commands.jsonl` (no CLI start: cheap to poll). */
export function readLabLog(labDir: string): LabLogEntry[] {
    return readLog(labDir);
}

/** Polls `check` every `intervalMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
    what: string,
    check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
    timeoutMs: number,
    intervalMs = 100,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const r = await check();
        if (r) {
            return r;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
        }
        await new Promise((res) => setTimeout(res, intervalMs));
    }
}

/** Processes running on the lab's undercloud (carrying its LAB_DIR): see lab/power.ts. */
export { alive, processTree, undercloudProcesses } from "../../lab/power";

export interface RebootReport {
    /** Undercloud processes still alive after `lab stop` (what `lab stop` leaves running). */
    survivedStop: string[];
    /** Processes the simulated power cycle killed. */
    killed: number[];
}

/** A simulated undercloud reboot (`lab reboot`: stop, kill what `lab stop` leaves running, start). */
export function rebootLab(privateLab: PrivateLab): RebootReport {
    const out = privateLab.lab("reboot");
    const survivedStop = out
        .split("\n")
        .filter((l) => l.startsWith("  "))
        .map((l) => l.trim());
    return { survivedStop, killed: survivedStop.map((l) => Number(l.split(" ")[0])) };
}
