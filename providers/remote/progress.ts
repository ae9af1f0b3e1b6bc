/**
 * The progress model of one step (a remote job): fed the job's output lines as they arrive, it
 * answers the few lines worth printing, so that a 90-minute deploy whose config-download prints
 * tens of thousands of Ansible lines shows up as a handful of lines per site:
 *
 * - a line when the phase changes. The phase comes from the job's own command lines: the job script
 *   echoes `+ <command>` before each command (providers/remote/jobs.ts renderJobScript), and
 *   `phaseOf` names the TripleO command (network / VIP / nodes, ceph, Heat, config-download,
 *   export, delete, …); housekeeping commands (`rm -f`, `mkdir`, phase markers) keep the phase.
 *   A command under the Heat lock is "waiting for the lock" until the job says it holds it.
 * - a heartbeat every `heartbeatMs` (default 60 s) without a printed line: the phase, how long it
 *   and the step have run and, for Ansible, the current play and task and the task count;
 * - the runner's notices (`[job …]`, retries, ignored failures) as they come;
 * - a summary at the end (each phase's duration).
 *
 * Pure (time is an argument, nothing is printed or read here): unit-tested in
 * tests/unit/progress.test.ts. A closure, not a class: class field initializers do not survive
 * Pulumi's function serialization.
 */
import { LOCK_HELD, LOCK_WAIT } from "./jobs";

export interface ProgressOptions {
    /** The site (TripleO stack) the step belongs to, e.g. `dcn0`. */
    site: string;
    /** The step, e.g. `metal`, `ceph`, `deploy`, `export-ceph`, `delete`. */
    step: string;
    /** A heartbeat is printed after this long without any printed line (ms); default 60 s. */
    heartbeatMs?: number;
}

/** What a step is doing right now (see `ProgressModel.state`). */
export interface ProgressState {
    phase: string | undefined;
    /** When the current phase started (ms epoch). */
    phaseSince: number;
    /** The Ansible play and task last seen in this phase, and how many tasks have started. */
    play?: string;
    task?: string;
    tasks: number;
    /** Host results of the phase's Ansible tasks (`ok:`, `changed:`, `failed`/`fatal:` lines). */
    ok: number;
    changed: number;
    failed: number;
}

/** A phase of a step, in time (ms epoch): what the deploy timeline draws (tools/timeline.ts). */
export interface PhaseSpan {
    phase: string;
    start: number;
    end: number;
}

export interface ProgressModel {
    /** The phases so far, in order (a phase skipped as done in an earlier attempt is not one). */
    spans(): PhaseSpan[];
    /** One output line of the job (already redacted); answers the lines to print. */
    line(l: string, now: number): string[];
    /** A clock tick: answers a heartbeat when one is due. */
    tick(now: number): string[];
    /** The step ended: answers its summary (`error`: how it failed). */
    end(now: number, error?: string): string[];
    state(): ProgressState;
}

/** Default time between heartbeats. */
export const HEARTBEAT_MS = 60000;

const SKIPPED = "  (finished in an earlier attempt of this job: skipped)";

/** A lock wait is announced only once it has lasted this long (most locks are free at once). */
export const LOCK_QUIET_MS = 3000;

/**
 * The phase a job command starts, from its `+ ` echo line (without the `+ `), or undefined for a
 * housekeeping command (the phase stays). A command run under a lock (`flock <lock> sh -c … sh
 * <argv>`) is named by the command it wraps.
 */
export function phaseOf(commandLine: string): string | undefined {
    const words = commandLine
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => w.replace(/^'|'$/g, ""));
    const os = words.indexOf("openstack");
    if (os >= 0 && words[os + 1] === "overcloud") {
        const [a, b, c] = words.slice(os + 2);
        const has = (flag: string) => words.includes(flag);
        switch (a) {
            case "network":
                return b === "vip" ? "VIP" : c === "unprovision" || b === "unprovision" ? "network delete" : "network";
            case "node":
                return b === "provision"
                    ? "nodes"
                    : b === "unprovision"
                      ? "unprovision"
                      : b === "delete"
                        ? "scale-in"
                        : `node ${b ?? ""}`.trim();
            case "roles":
                return "roles";
            case "ceph":
                return b === "deploy" ? "ceph" : `ceph ${b ?? ""}`.trim();
            case "export":
                return b === "ceph" ? "export ceph" : "export";
            case "deploy":
                return has("--stack-only") ? "Heat" : has("--config-download-only") ? "config-download" : "deploy";
            case "delete":
                return "delete";
            case "status":
                return undefined;
            default:
                return a;
        }
    }
    if (words.includes("scale-down")) {
        return "scale-in";
    }
    if (words.includes("clean-disks")) {
        return "clean disks";
    }
    return undefined;
}

/** `45s`, `3m07s`, `1h02m`. */
export function formatDuration(ms: number): string {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) {
        return `${s}s`;
    }
    const m = Math.floor(s / 60);
    if (m < 60) {
        return `${m}m${String(s % 60).padStart(2, "0")}s`;
    }
    return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

// Ansible: the default callback's banners, and TripleO's (`<date> | <uuid> |       TASK | <name>`).
const PLAY = /^PLAY \[(.*)\]/;
const TASK = /^TASK \[(.*)\]/;
const DENSE = /\|\s*(PLAY|TASK)\s*\|\s*(.+?)\s*$/;
const RESULT = /^(ok|changed|failed|fatal|skipping): \[/;

/** A new progress model (`start`: when the step started, ms epoch). */
export function progressModel(opts: ProgressOptions, start: number): ProgressModel {
    const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
    const who = `${opts.site} ${opts.step}`;
    let lastPrinted = start;
    let st: ProgressState = fresh(undefined, start);
    let pendingCommand: string | undefined;
    // The phase of the running command when it runs under a lock (`flock …`).
    let lockedPhase: string | undefined;
    let waitAnnounced = false;
    const waiting = (phase: string) => `${phase} waiting for the lock`;
    const done: Array<{ phase: string; ms: number; skipped?: boolean }> = [];
    const spans: PhaseSpan[] = [];

    function fresh(phase: string | undefined, now: number): ProgressState {
        return { phase, phaseSince: now, tasks: 0, ok: 0, changed: 0, failed: 0 };
    }
    const closePhase = (now: number, skipped = false) => {
        // Kept even when empty: lines come in batches, and a phase whose lines all arrived in one
        // batch still happened.
        if (st.phase !== undefined && !skipped) {
            spans.push({ phase: st.phase, start: st.phaseSince, end: now });
        }
        if (st.phase !== undefined) {
            const last = done[done.length - 1];
            if (last && last.phase === st.phase && !skipped && !last.skipped) {
                last.ms += now - st.phaseSince;
            } else {
                done.push({ phase: st.phase, ms: now - st.phaseSince, skipped });
            }
        }
    };
    const print = (text: string, now: number) => {
        lastPrinted = now;
        return [`${who}: ${text}`];
    };
    const ansible = () => {
        if (st.tasks === 0 && st.play === undefined) {
            return "";
        }
        const parts = [];
        if (st.play !== undefined) {
            parts.push(`play "${short(st.play)}"`);
        }
        if (st.tasks > 0) {
            parts.push(`task ${st.tasks} "${short(st.task ?? "")}"`);
        }
        if (st.ok + st.changed + st.failed > 0) {
            parts.push(`ok ${st.ok} changed ${st.changed} failed ${st.failed}`);
        }
        return "; " + parts.join(", ");
    };
    const startPhase = (phase: string, now: number, text: string) => {
        closePhase(now);
        st = fresh(phase, now);
        return print(text, now);
    };

    return {
        line(l: string, now: number): string[] {
            const out: string[] = [];
            if (l.startsWith("+ ")) {
                const phase = phaseOf(l.slice(2));
                pendingCommand = phase;
                lockedPhase = phase !== undefined && l.startsWith("+ flock ") ? phase : undefined;
                if (lockedPhase !== undefined) {
                    // Announced by `tick` if the lock is not free within LOCK_QUIET_MS.
                    closePhase(now);
                    st = fresh(waiting(lockedPhase), now);
                    waitAnnounced = false;
                } else if (phase !== undefined && phase !== st.phase) {
                    out.push(...startPhase(phase, now, `${phase} (${formatDuration(now - start)} into the step)`));
                }
                return out;
            }
            if (l === SKIPPED) {
                if (pendingCommand !== undefined && st.phase !== undefined && st.phase.startsWith(pendingCommand)) {
                    closePhase(now, true);
                    st = fresh(undefined, now);
                    done[done.length - 1].ms = 0;
                    return print(`${pendingCommand}: done in an earlier attempt, skipped`, now);
                }
                return out;
            }
            // Lock lines of a housekeeping command (e.g. the ceph-admin key) are not a phase.
            if (l.startsWith(LOCK_WAIT)) {
                // Announced with the command; again when a retried command queues once more.
                if (lockedPhase !== undefined && st.phase !== waiting(lockedPhase)) {
                    closePhase(now);
                    st = fresh(waiting(lockedPhase), now);
                    waitAnnounced = false;
                }
                return out;
            }
            if (l === LOCK_HELD) {
                if (lockedPhase === undefined || st.phase !== waiting(lockedPhase)) {
                    return out;
                }
                return startPhase(
                    lockedPhase,
                    now,
                    waitAnnounced
                        ? `${lockedPhase}: lock held after ${formatDuration(now - st.phaseSince)}`
                        : `${lockedPhase} (${formatDuration(now - start)} into the step)`,
                );
            }
            // Every step starts a job: only the unusual notices (re-attach, retries, connection) are news.
            if (l.startsWith("[job ") && l.endsWith("] started on the undercloud")) {
                return out;
            }
            if (l.startsWith("[job ") || l.startsWith("(transient failure") || l.startsWith("(ignored failure")) {
                return print(l, now);
            }
            let m = PLAY.exec(l);
            if (m) {
                st.play = m[1];
            } else if ((m = TASK.exec(l))) {
                st.tasks++;
                st.task = m[1];
            } else if ((m = DENSE.exec(l))) {
                if (m[1] === "PLAY") {
                    st.play = m[2];
                } else {
                    st.tasks++;
                    st.task = m[2];
                }
            } else if ((m = RESULT.exec(l))) {
                if (m[1] === "ok") {
                    st.ok++;
                } else if (m[1] === "changed") {
                    st.changed++;
                } else if (m[1] !== "skipping") {
                    st.failed++;
                }
            }
            return this.tick(now);
        },
        tick(now: number): string[] {
            if (lockedPhase !== undefined && st.phase === waiting(lockedPhase) && !waitAnnounced) {
                if (now - st.phaseSince >= LOCK_QUIET_MS) {
                    waitAnnounced = true;
                    return print(waiting(lockedPhase), now);
                }
            }
            if (now - lastPrinted < heartbeatMs) {
                return [];
            }
            const phase = st.phase ?? "starting";
            return print(
                `${phase} for ${formatDuration(now - st.phaseSince)} (step ${formatDuration(now - start)})${ansible()}`,
                now,
            );
        },
        end(now: number, error?: string): string[] {
            const failedIn = st.phase;
            const detail = ansible();
            closePhase(now);
            st = fresh(undefined, now);
            const phases = done
                .filter((d) => !(d.phase.endsWith(" waiting for the lock") && d.ms < 1000))
                .reduce<typeof done>((acc, d) => {
                    const last = acc[acc.length - 1];
                    if (last && last.phase === d.phase && !last.skipped && !d.skipped) {
                        acc[acc.length - 1] = { ...last, ms: last.ms + d.ms };
                    } else {
                        acc.push(d);
                    }
                    return acc;
                }, [])
                .map((d) => (d.skipped ? `${d.phase} skipped` : `${d.phase} ${formatDuration(d.ms)}`));
            const list = phases.length > 0 ? ` (${phases.join(", ")})` : "";
            if (error !== undefined) {
                return print(
                    `FAILED after ${formatDuration(now - start)}${failedIn ? ` in ${failedIn}` : ""}${detail}: ${error}`,
                    now,
                );
            }
            return print(`done in ${formatDuration(now - start)}${list}`, now);
        },
        state: () => ({ ...st }),
        spans: () => spans.map((x) => ({ ...x })),
    };
}

function short(s: string, n = 70): string {
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
