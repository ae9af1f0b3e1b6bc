/**
 * The one remote-job runner shared by every provider.
 *
 * - `run` executes a short command (argv, quoted by shJoin) and returns its exit code and output.
 * - `runJob` runs a long step DETACHED on the undercloud: the script goes to
 *   `~/.dcn-jobs/<job-id>/script.sh`, runs under `nohup setsid` with its output in `out.log`, its pid
 *   in `pid` and its exit code in `rc`. The job id is deterministic (stack + step + the hash of the
 *   step's input identity, or of the script), so a rerun after an SSH drop or a killed `pulumi`
 *   finds the same directory and RE-ATTACHES (a finished job is collected, a running one is
 *   polled) instead of starting a second run. A failed or vanished job is archived and started again. A collected job is moved to
 *   `~/.dcn-jobs/done/` so the same step can run again later (e.g. to repair drift).
 * - Each command of a job leaves a marker in `~/.dcn-jobs/<job-id>.progress/` when it succeeds, so a
 *   restart of the same job (after a failure, a timeout, a reboot) skips what already finished:
 *   network and VIP provision are not redone because node provision failed. The markers go away
 *   when the job is collected successfully.
 * - Polling streams new output lines as progress and enforces the program's own timeout (the
 *   engine's customTimeouts do not reach dynamic providers). On timeout the job's process group is
 *   stopped (TERM, then KILL), like tripleoclient's own `--timeout`: a hung step must not keep
 *   holding the Heat lock or a node; the next `up` starts it again, skipping finished commands.
 * - Secrets: the launcher runs under `umask 077`, so the job directory (0700), its files (0600) and
 *   every file the job's commands create are private; `~/.dcn-jobs` is made 0700 at every start,
 *   and files of older runs are made private when re-attached to or collected. The job script's
 *   text does not carry the umask (it would change the ids of running jobs). Output lines and
 *   error messages are redacted (`JobSpec.secrets`, the private key, cephx keys).
 */
import { createHash, randomBytes } from "node:crypto";
import { exec, ExecResult, SshTarget, connectionKey } from "./ssh";
import { redact } from "./redact";
import { shJoin, shQuote, expandHome } from "./shell";
import { trace } from "./trace";

/** One command of a job script. */
export interface JobCommand {
    /** The command and its arguments, each quoted separately. */
    argv: string[];
    /** Absolute path of a lock file held (flock, blocking) while this command runs. */
    lock?: string;
    /** When true a non-zero exit does not stop the script. */
    allowFailure?: boolean;
    /**
     * Runs the command again (up to `attempts` runs in all, 5 s apart) when it fails and what it
     * printed in that run contains `when` (a fixed string): for failures known to be transient.
     */
    retry?: { attempts: number; when: string };
}

export interface JobSpec {
    /** TripleO stack the job belongs to (part of the id). */
    stack: string;
    /** Step name, e.g. `metal`, `ceph`, `deploy-heat` (part of the id). */
    step: string;
    /** Commands run in order; the first failure stops the job (unless allowFailure). */
    commands: JobCommand[];
    /**
     * Identity of the step's inputs (e.g. the hash of the files the commands read). When given, the
     * job id is (stack, step, identity): a job whose inputs changed is a new job, while a rerun for
     * the same inputs re-attaches even if it would now run fewer commands. Without it, the script.
     */
    identity?: string;
    /** Overall deadline of the wait (ms); default 4 h. */
    timeoutMs?: number;
    /** Poll period (ms), default 2000: each status probe waits on the undercloud for up to 2.5 × this for the job to end or print. */
    pollMs?: number;
    /**
     * Receives every new output line, redacted (providers/remote/redact.ts): the SSH private key,
     * these `secrets`, cephx keys and password assignments are `[secret]` in it.
     */
    onLine?: (line: string) => void;
    /**
     * The step's progress report (providers/remote/report.ts): receives every output line and runner
     * notice (redacted, as onLine), keeps the full output in a local file and prints only phase
     * changes and heartbeats; told when the job ends. Its `logFile` is named in failure messages.
     */
    report?: JobReport;
    /** Secret values the step knows (e.g. cephx keys): redacted from its lines and error messages. */
    secrets?: readonly string[];
    /** Called once the job runs (started or re-attached to) on the undercloud. */
    onStarted?: () => void;
    /**
     * Files the commands read, written (atomically, mode 0600, parent directories created) in the
     * same exec that starts the job, just before it: one round trip instead of one per file.
     */
    files?: Array<{ path: string; content: string }>;
    /**
     * When every one of these files exists, the job is not started (nor re-attached to): the exec
     * that would start it answers their contents instead (`JobResult.skipped`, `files`), e.g. a step
     * whose output is already there, which the caller may adopt (or run the job after all).
     */
    skipIfPresent?: string[];
    /**
     * Files the caller reads once the job has succeeded (e.g. the step's output file): read in the
     * same exec that sees the end and archives the job. `JobResult.files[path]` is the content, or
     * undefined when the file does not exist.
     */
    collect?: string[];
}

/** See JobSpec.report. */
export interface JobReport {
    line(line: string): void;
    /**
     * The job ended (`error`: the runner's failure; `skipped`: not run, JobSpec.skipIfPresent);
     * resolves once the last lines are sent.
     */
    end(error?: Error, skipped?: boolean): Promise<void>;
    /** The local file holding the step's full output. */
    logFile?: string;
}

/** Output lines a failure message ends with. */
export const FAILURE_TAIL_LINES = 50;

export interface JobResult {
    jobId: string;
    code: number;
    output: string;
    /** True when an existing job (running or finished) was found and re-attached to. */
    attached: boolean;
    /**
     * The `collect` files (absolute or `~/` path as given → content; undefined when absent), or,
     * when `skipped`, the `skipIfPresent` ones.
     */
    files: Record<string, string | undefined>;
    /** True when the job was not run because every `skipIfPresent` file exists. */
    skipped?: boolean;
}

export const JOBS_DIR = "~/.dcn-jobs";

const DEFAULT_TIMEOUT_MS = 4 * 3600 * 1000;

/** Deterministic job id: `<stack>-<step>-<16 hex of sha256(stack, step, script)>`. */
export function jobId(stack: string, step: string, script: string): string {
    const h = createHash("sha256").update(stack).update("\0").update(step).update("\0").update(script).digest("hex");
    return `${jobIdPrefix(stack, step)}${h.slice(0, 16)}`;
}

/**
 * What every job id of (stack, step) starts with; exactly the 16 hex digits of JOB_HASH_GLOB
 * follow, so the two never match another (stack, step)'s jobs (a longer stack or step name sharing
 * the prefix has more characters before its hash).
 */
export function jobIdPrefix(stack: string, step: string): string {
    const safe = (s: string) => s.replace(/[^a-zA-Z0-9-]/g, "_");
    // A multi-stack export names up to 100 stacks: keep the directory name well under 255 bytes.
    return `${safe(stack).slice(0, 64)}-${safe(step)}-`;
}

/** Shell glob of the hash part of a job id (after jobIdPrefix). */
export const JOB_HASH_GLOB = "[0-9a-f]".repeat(16);

/** Lines a job prints around a lock wait (see renderJobScript). */
export const LOCK_WAIT = "# dcn-job: waiting for lock ";
export const LOCK_HELD = "# dcn-job: lock held";
const LOCK_HELD_THEN_EXEC = `echo '${LOCK_HELD}'; exec "$@"`;

/**
 * Time spent waiting for locks, from a job's output lines as they arrive: the deadline is pushed
 * back by every wait seen live (a replay on re-attach comes in one burst and adds ~nothing).
 */
export function lockWaitClock(now: () => number = Date.now): { line(l: string): void; waitedMs(): number } {
    let since: number | undefined;
    let total = 0;
    return {
        line(l: string) {
            if (l.startsWith(LOCK_WAIT)) {
                since = now();
            } else if (l === LOCK_HELD && since !== undefined) {
                total += now() - since;
                since = undefined;
            }
        },
        waitedMs: () => total + (since === undefined ? 0 : now() - since),
    };
}

/** Renders the job script: one quoted line per command, echoed before it runs, skipped when its progress marker exists. */
export function renderJobScript(commands: JobCommand[], identity = ""): string {
    const lines = ["#!/bin/sh", "# generated by dcn-storage (providers/remote/jobs.ts)"];
    if (identity) {
        lines.push(`# identity: ${identity.replace(/[^A-Za-z0-9_.:=,-]/g, "_")}`);
    }
    // $0 is <jobs>/<id>/script.sh; the markers live beside the job dir, which is archived on failure.
    lines.push('P="${0%/*}.progress"', 'mkdir -p "$P" || exit $?');
    const occurrences = new Map<string, number>();
    commands.forEach((c) => {
        // A locked command announces when it waits and when it holds the lock: the runner does not
        // count the wait against the step's deadline (ten DCN stacks queue for the one Heat).
        const argv = c.lock ? ["flock", c.lock, "sh", "-c", LOCK_HELD_THEN_EXEC, "sh", ...c.argv] : c.argv;
        const line = shJoin(argv);
        // Markers are named by the command's text, not its position: a restart may run a shorter
        // script under the same job id (e.g. a deploy whose Heat phase is done), and must not skip a
        // command because another one stood at its index.
        const n = occurrences.get(line) ?? 0;
        occurrences.set(line, n + 1);
        const marker = `"$P/${createHash("sha256").update(line).digest("hex").slice(0, 16)}${n ? `-${n}` : ""}"`;
        lines.push(`echo ${shQuote("+ " + line)}`);
        const onFailure = c.allowFailure
            ? `echo ${shQuote("(ignored failure of " + c.argv.slice(0, 4).join(" ") + ")")}`
            : "exit $?";
        const wait = c.lock ? `echo ${shQuote(LOCK_WAIT + c.lock)}; ` : "";
        // With `retry`: the output of each run is what out.log gained since it started.
        const run = c.retry
            ? `n=0; while :; do o=$(wc -c < "\${0%/*}/out.log" 2>/dev/null || echo 0); ${wait}${line} && break; ` +
              `rc=$?; n=$((n + 1)); if [ "$n" -lt ${c.retry.attempts} ] && tail -c +$((o + 1)) "\${0%/*}/out.log" | grep -qF -- ${shQuote(c.retry.when)}; ` +
              `then echo ${shQuote(`(transient failure of ${c.argv.slice(0, 4).join(" ")}: retrying)`)}; sleep 5; ` +
              `else (exit "$rc") || ${onFailure}; break; fi; done`
            : `${wait}${line} || ${onFailure}`;
        lines.push(
            `if [ -f ${marker} ]; then echo '  (finished in an earlier attempt of this job: skipped)'; ` +
                `else ${run}; : > ${marker}; fi`,
        );
    });
    lines.push("exit 0", "");
    return lines.join("\n");
}

// Remote snippets: constant text, every variable part is a positional argument ($1, $2) quoted by shJoin.
const START = [
    "# start",
    // Everything a job writes is private: its directory, script, output, pid and rc, and every file
    // its commands create (tripleoclient's outputs, env files, markers) inherit this umask.
    "umask 077",
    // $4… ($2 of them): when every one exists, the job is not started and their contents are
    // answered instead (`present`, then `file <i> y <base64>` lines). The arguments after them are
    // files to write first: stdin holds one base64 line per file, then the job script. $3: the
    // job id prefix of the job's (stack, step) (jobIdPrefix).
    'd="$1"; k="$2"; pfx="$3"; shift 3',
    'if [ "$k" -gt 0 ]; then',
    '  all=y; i=0; for p in "$@"; do i=$((i + 1)); [ "$i" -le "$k" ] || break; [ -f "$p" ] || all=n; done',
    '  if [ "$all" = y ]; then',
    "    echo present",
    '    i=0; for p in "$@"; do i=$((i + 1)); [ "$i" -le "$k" ] || break; chmod go= "$p" 2>/dev/null; printf "file %s y " "$i"; base64 < "$p" | tr -d "\\n"; echo; done',
    "    cat > /dev/null; exit 0",
    "  fi",
    '  i=0; while [ "$i" -lt "$k" ]; do shift; i=$((i + 1)); done',
    "fi",
    // A fresh temporary file (a leftover keeps its old mode) replaces the file: an older run's
    // world-readable copy becomes 0600.
    'for p in "$@"; do IFS= read -r b || exit 3; (mkdir -p "$(dirname "$p")" && rm -f "$p.tmp" && printf "%s" "$b" | base64 -d > "$p.tmp" && mv "$p.tmp" "$p") || exit 3; done',
    // The jobs directory is private (jobs and archives of older runs included).
    'mkdir -p "$(dirname "$d")" && chmod 700 "$(dirname "$d")"',
    'if mkdir "$d" 2>/dev/null; then',
    // A new job of this (stack, step): progress markers of its other jobs (other inputs) are an
    // old attempt's, and would make a later job of those inputs skip commands whose effect this
    // job may change. Only this job's own markers (a restart of the same inputs) are kept.
    `  for o in "$(dirname "$d")/$pfx"${JOB_HASH_GLOB}.progress; do [ "$o" = "$d.progress" ] || rm -rf -- "$o"; done`,
    '  cat > "$d/script.sh"',
    '  cd "$HOME"',
    '  S=""; command -v setsid >/dev/null 2>&1 && S=setsid',
    '  nohup $S sh -c \'sh "$1/script.sh" > "$1/out.log" 2>&1; echo $? > "$1/rc.tmp"; mv "$1/rc.tmp" "$1/rc"\' dcn-job "$d" < /dev/null > /dev/null 2>&1 &',
    '  echo $! > "$d/pid"',
    "  echo started",
    "else",
    "  cat > /dev/null",
    '  chmod -R go= "$d" "$d.progress" 2>/dev/null',
    // The script's owner line tells the runner whether it found its own job (a retried START whose
    // first answer was lost) or one an earlier run started.
    '  echo "attached $(sed -n 2p "$d/script.sh" 2>/dev/null)"',
    "fi",
].join("\n");

// Long poll: waits on the undercloud (up to $3 tenths of a second) until the job ends, or writes
// past the offset and at least $4 tenths have passed, so the end of a step is seen within ~0.1 s
// and a chatty job costs at most one exec per $4 tenths.
// With $5 (an archive destination): a job that ended with 0 is archived in the same exec (its
// progress markers dropped) after its output and, as `file <i> y <base64>` / `file <i> n` lines
// between the status line and the output, the files $6…; a retry after a lost answer finds the job
// at $5 and answers the same.
const STATUS = [
    "# status",
    "umask 077",
    'd="$1"; off="$2"; waits="${3:-0}"; minout="${4:-0}"; dest="${5:-}"; i=0',
    '[ "$#" -ge 5 ] && shift 5 || set --',
    'while [ "$i" -lt "$waits" ] && [ -d "$d" ] && [ ! -f "$d/rc" ] && { [ "$i" -lt "$minout" ] || [ "$(wc -c < "$d/out.log" 2>/dev/null || echo 0)" -le "$off" ]; }; do sleep 0.1; i=$((i + 1)); done',
    'src="$d"',
    'if [ ! -d "$d" ]; then if [ -n "$dest" ] && [ -f "$dest/rc" ]; then src="$dest"; else echo missing; exit 0; fi; fi',
    'if [ -f "$src/rc" ]; then rc="$(cat "$src/rc")"; echo "rc=$rc"',
    '  if [ "$rc" = 0 ] && [ -n "$dest" ]; then',
    // The files a step produces are read here (they may hold keys): an older run's copy is made private.
    '    n=0; for f in "$@"; do n=$((n + 1)); if [ -f "$f" ]; then chmod go= "$f" 2>/dev/null; printf "file %s y " "$n"; base64 < "$f" | tr -d "\\n"; echo; else echo "file $n n"; fi; done',
    '    tail -c +"$((off + 1))" "$src/out.log" 2>/dev/null || true',
    '    if [ "$src" = "$d" ]; then rm -rf "$d.progress"; mkdir -p "$(dirname "$dest")" && rm -rf "$dest" && { mv "$d" "$dest" 2>/dev/null || [ ! -d "$d" ]; }; fi',
    "    exit 0",
    "  fi",
    'elif [ ! -f "$d/pid" ]; then echo starting',
    'elif kill -0 "$(cat "$d/pid")" 2>/dev/null; then echo running',
    'elif [ -f "$d/rc" ]; then echo "rc=$(cat "$d/rc")"',
    "else echo dead; fi",
    'tail -c +"$((off + 1))" "$src/out.log" 2>/dev/null || true',
].join("\n");

// Batched long poll: one exec waits (up to $3 tenths) until ANY of the jobs $2 (one directory a
// line) has ended or vanished, then runs STATUS ($1, without waiting) for each job $5… (its STATUS
// arguments, one a line), each answer after a line holding the token $4. So one channel watches
// every running job of a connection instead of one channel per job (sshd's MaxSessions is 10).
const POLL = [
    "# poll",
    'st="$1"; dirs="$2"; waits="$3"; tok="$4"; shift 4; i=0; set -f',
    "NL='",
    "'",
    'while [ "$i" -lt "$waits" ]; do',
    '  e=""; IFS="$NL"; for d in $dirs; do if [ ! -d "$d" ] || [ -f "$d/rc" ]; then e=y; fi; done; unset IFS',
    '  [ -n "$e" ] && break',
    "  sleep 0.1; i=$((i + 1))",
    "done",
    'one() { IFS="$NL"; set -- $1; unset IFS; sh -c "$st" sh "$@"; }',
    'for g in "$@"; do printf "\\n%s\\n" "$tok"; one "$g"; done',
].join("\n");

/** Splits a POLL answer into the answers of its jobs (in order); undefined when one is missing. */
export function splitPollAnswer(stdout: string, token: string, jobs: number): string[] | undefined {
    const parts = stdout.split(`\n${token}\n`);
    if (parts.length !== jobs + 1 || parts[0] !== "") {
        return undefined;
    }
    return parts.slice(1);
}

interface PollRequest {
    /** STATUS arguments (directory first). */
    args: string[];
    waitTenths: number;
    resolve: (stdout: string) => void;
    reject: (err: Error) => void;
}

interface Poller {
    pending: PollRequest[];
    inflight: number;
    scheduled: boolean;
}

/** Batched probes in flight per connection at most (a newcomer joins the next batch). */
const MAX_POLL_EXECS = 2;

function pollers(): Map<string, Poller> {
    const g = globalThis as unknown as { __dcnPollers1?: Map<string, Poller> };
    if (!g.__dcnPollers1) {
        g.__dcnPollers1 = new Map();
    }
    return g.__dcnPollers1;
}

/**
 * The STATUS answer of one job, from a batched probe shared with every other job waiting on the
 * same undercloud (requests made in the same turn of the event loop go in one exec).
 */
function batchedStatus(t: SshTarget, args: string[], waitTenths: number): Promise<string> {
    const key = connectionKey(t);
    let p = pollers().get(key);
    if (!p) {
        p = { pending: [], inflight: 0, scheduled: false };
        pollers().set(key, p);
    }
    const poller = p;
    return new Promise<string>((resolve, reject) => {
        poller.pending.push({ args, waitTenths, resolve, reject });
        if (!poller.scheduled) {
            poller.scheduled = true;
            setImmediate(() => {
                poller.scheduled = false;
                dispatchPoll(t, poller);
            });
        }
    });
}

function dispatchPoll(t: SshTarget, p: Poller): void {
    if (p.pending.length === 0 || p.inflight >= MAX_POLL_EXECS) {
        return;
    }
    const batch = p.pending.splice(0);
    p.inflight++;
    const token = `@dcn-poll-${createHash("sha256").update(`${Date.now()}:${Math.random()}`).digest("hex").slice(0, 16)}@`;
    const waits = Math.min(...batch.map((b) => b.waitTenths));
    run(
        t,
        [
            "sh",
            "-c",
            POLL,
            "sh",
            STATUS,
            batch.map((b) => b.args[0]).join("\n"),
            String(waits),
            token,
            ...batch.map((b) => b.args.join("\n")),
        ],
        undefined,
        60000,
    )
        .then((r) => {
            const answers = r.code === 0 ? splitPollAnswer(r.stdout, token, batch.length) : undefined;
            if (!answers) {
                throw new Error(
                    `ssh ${connectionKey(t)}: incomplete poll answer (exit ${r.code}): ` +
                        redact(tail(r.stderr, 3), [t.privateKey]),
                );
            }
            batch.forEach((b, i) => b.resolve(answers[i]));
        })
        .catch((err: Error) => batch.forEach((b) => b.reject(err)))
        .finally(() => {
            p.inflight--;
            dispatchPoll(t, p);
        });
}

const ARCHIVE = [
    "# archive",
    "umask 077",
    'd="$1"; dest="$2"; keep_progress="$3"',
    '[ "$keep_progress" = keep ] || rm -rf "$d.progress"',
    // Two collectors of one job may race: whoever moves it first wins, the other finds it gone.
    'if [ -d "$d" ]; then mkdir -p "$(dirname "$dest")" && rm -rf "$dest" && { mv "$d" "$dest" 2>/dev/null || [ ! -d "$d" ]; }; fi',
].join("\n");

// Stops a job: TERM to its process group (the runner starts it with setsid), then KILL after ~5 s.
const STOP = [
    "# stop",
    'd="$1"',
    '[ -f "$d/pid" ] || exit 0',
    'p="$(cat "$d/pid")"',
    'kill -TERM "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || exit 0',
    'i=0; while kill -0 "$p" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done',
    'kill -KILL "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true',
].join("\n");

/**
 * START's answer when the job dir existed: `attached <the script's owner line>`. True when that job
 * is not ours (an earlier run's), false for a job our own START created (its answer was lost).
 */
export function attachedToEarlierRun(answer: string, owner: string): boolean {
    return answer.startsWith("attached") && !answer.includes(`# owner: ${owner}`);
}

/**
 * The owner of the job START found or started: ours when it started it, the owner line's when it
 * attached; undefined for a job dir of an older runner (no owner line).
 */
export function jobOwner(answer: string, owner: string): string | undefined {
    if (!answer.startsWith("attached")) {
        return owner;
    }
    return /# owner: ([0-9a-f]+)/.exec(answer)?.[1];
}

/** Parsed first line of the status probe. */
export type JobState = { kind: "missing" | "starting" | "running" | "dead" } | { kind: "done"; code: number };

/** Reads `n` lines `file <i> y <base64>` / `file <i> n` (i = 1…n) off the front of `text`. */
export function parseFileLines(text: string, n: number): { files: Array<string | undefined>; rest: string } {
    const files: Array<string | undefined> = [];
    let rest = text;
    for (let i = 1; i <= n; i++) {
        const end = rest.indexOf("\n");
        const line = end < 0 ? rest : rest.slice(0, end);
        rest = end < 0 ? "" : rest.slice(end + 1);
        const f = /^file (\d+) (y|n) ?([A-Za-z0-9+/=]*)$/.exec(line);
        if (!f || Number(f[1]) !== i) {
            throw new Error(`unexpected collected file line ${JSON.stringify(line.slice(0, 60))}`);
        }
        files.push(f[2] === "y" ? Buffer.from(f[3], "base64").toString("utf8") : undefined);
    }
    return { files, rest };
}

/**
 * Parses the status probe output into the state and the new output bytes. `collect` is the number
 * of files the probe was asked for: after a successful end they come as one line each before the
 * output (`files`, in order; undefined for a missing file).
 */
export function parseStatus(
    stdout: string,
    collect = 0,
): { state: JobState; chunk: string; files?: Array<string | undefined> } {
    const nl = stdout.indexOf("\n");
    const head = (nl < 0 ? stdout : stdout.slice(0, nl)).trim();
    const chunk = nl < 0 ? "" : stdout.slice(nl + 1);
    const m = /^rc=(-?\d+)$/.exec(head);
    if (m) {
        const code = Number(m[1]);
        if (collect > 0 && code === 0) {
            const r = parseFileLines(chunk, collect);
            return { state: { kind: "done", code }, chunk: r.rest, files: r.files };
        }
        return { state: { kind: "done", code }, chunk };
    }
    if (head === "missing" || head === "starting" || head === "running" || head === "dead") {
        return { state: { kind: head }, chunk };
    }
    throw new Error(`unexpected job status line ${JSON.stringify(head)}`);
}

/**
 * Splits streamed text into complete lines, keeping the unfinished tail. (A closure, not a class:
 * class field initializers do not survive Pulumi's function serialization.)
 */
export function lineSplitter(): { push(chunk: string): string[]; flush(): string[] } {
    let rest = "";
    return {
        push(chunk: string): string[] {
            const parts = (rest + chunk).split("\n");
            rest = parts.pop() ?? "";
            return parts;
        },
        flush(): string[] {
            const r = rest;
            rest = "";
            return r ? [r] : [];
        },
    };
}

const homeCache = (): Map<string, Promise<string>> => {
    const g = globalThis as unknown as { __dcnHomePromises?: Map<string, Promise<string>> };
    if (!g.__dcnHomePromises) {
        g.__dcnHomePromises = new Map();
    }
    return g.__dcnHomePromises;
};

/** The remote $HOME (cached per undercloud; concurrent first callers share one exec). */
export async function remoteHome(t: SshTarget): Promise<string> {
    const key = connectionKey(t);
    const cached = homeCache().get(key);
    if (cached) {
        return cached;
    }
    const read = (async () => {
        const r = await exec(t, shJoin(["sh", "-c", 'printf %s "$HOME"']));
        const home = r.stdout.trim();
        if (r.code !== 0 || !home.startsWith("/")) {
            throw new Error(
                `cannot read $HOME on ${key}: ${redact(r.stderr.trim() || r.stdout.trim(), [t.privateKey])}`,
            );
        }
        return home;
    })();
    homeCache().set(key, read);
    // A failed read is not cached: the next caller tries again.
    read.catch(() => homeCache().delete(key));
    return read;
}

/**
 * Runs a short command given as argv; never throws on a non-zero exit. Transport errors (a dropped
 * or half-dead connection) are retried on a fresh connection: every short command the providers
 * run is idempotent (reads, atomic writes, rm -f, export -f, probes), long ones are jobs.
 */
export async function run(t: SshTarget, argv: string[], stdin?: string, timeoutMs = 300000): Promise<ExecResult> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await exec(t, shJoin(argv), { stdin, timeoutMs });
        } catch (err) {
            if (attempt >= 6 || !/^ssh /.test((err as Error).message) || /timed out/.test((err as Error).message)) {
                throw err;
            }
            await sleep(400 * attempt);
        }
    }
}

/** Runs a short command and throws with its output when it fails. */
export async function runOk(t: SshTarget, argv: string[], stdin?: string): Promise<ExecResult> {
    const r = await run(t, argv, stdin);
    if (r.code !== 0) {
        throw new Error(
            redact(
                `${argv.slice(0, 4).join(" ")} failed (exit ${r.code}) on the undercloud: ${tail(r.stderr + r.stdout)}`,
                [t.privateKey],
            ),
        );
    }
    return r;
}

/** Atomically writes a file (mode 0600, parent directories created). */
export async function writeFile(t: SshTarget, path: string, content: string): Promise<void> {
    path = expandHome(path, await remoteHome(t));
    await runOk(
        t,
        // A fresh temporary file replaces the file: an older run's world-readable copy becomes 0600.
        [
            "sh",
            "-c",
            'umask 077; mkdir -p "$(dirname "$1")" && rm -f "$1.tmp" && cat > "$1.tmp" && mv "$1.tmp" "$1"',
            "sh",
            path,
        ],
        content,
    );
}

/** Reads a file; `undefined` when it does not exist. */
export async function readFile(t: SshTarget, path: string): Promise<string | undefined> {
    path = expandHome(path, await remoteHome(t));
    const r = await runOk(t, ["sh", "-c", 'if [ -f "$1" ]; then echo y; cat "$1"; else echo n; fi', "sh", path]);
    if (r.stdout.startsWith("n")) {
        return undefined;
    }
    return r.stdout.slice(2);
}

/** Removes files (no error when absent). */
export async function removeFiles(t: SshTarget, paths: string[]): Promise<void> {
    if (paths.length > 0) {
        const home = await remoteHome(t);
        await runOk(t, ["rm", "-f", "--", ...paths.map((p) => expandHome(p, home))]);
    }
}

/**
 * Files the program made outside any job that go when its last job state goes (pruneJobs): a line
 * per absolute path under $HOME, appended by the script that creates the file (e.g. the shared
 * ceph-admin key, when the program generated it). A file that was there before is never listed.
 */
export const OWNED_LIST = `${JOBS_DIR}/owned`;

// $1 the jobs dir, then job id prefixes (jobIdPrefix): every job dir, progress-marker dir and
// archive (`done/<id>.<suffix>`) of those ids goes, except a job still running (its dir and
// markers stay). Then, when the jobs dir holds nothing else of any job (only an empty `done/`,
// lock files nobody holds and the OWNED_LIST), the files that list names and the jobs dir itself
// go too: the undercloud is left as it was before the program's first job. Idempotent.
const PRUNE = [
    "# prune",
    'j="$1"; shift',
    '[ -d "$j" ] || exit 0',
    'running() { [ -d "$1" ] && [ ! -f "$1/rc" ] && [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid" 2>/dev/null)" 2>/dev/null; }',
    'for p in "$@"; do',
    `  for d in "$j/$p"${JOB_HASH_GLOB} "$j/$p"${JOB_HASH_GLOB}.progress; do`,
    '    [ -e "$d" ] || continue',
    '    running "${d%.progress}" && continue',
    '    rm -rf -- "$d" || exit 1',
    "  done",
    `  rm -rf -- "$j/done/$p"${JOB_HASH_GLOB}.* || exit 1`,
    "done",
    'for e in "$j"/* "$j"/.[!.]*; do',
    '  [ -e "$e" ] || continue',
    '  case "${e##*/}" in',
    '    done) [ -z "$(ls -A "$e")" ] || exit 0 ;;',
    "    owned) ;;",
    '    *.lock) flock -n "$e" true || exit 0 ;;',
    "    *) exit 0 ;;",
    "  esac",
    "done",
    'if [ -f "$j/owned" ]; then',
    '  while IFS= read -r f; do case "$f" in "$HOME"/*) rm -f -- "$f" ;; esac; done < "$j/owned"',
    "fi",
    'rm -rf -- "$j"',
].join("\n");

/**
 * Removes what the jobs of these (stack, step)s left under ~/.dcn-jobs (job dirs, progress
 * markers, archives in `done/`), a running job excepted; then, when no job of any stack is left,
 * the lock files, the files of OWNED_LIST and ~/.dcn-jobs itself. For a resource's delete: a
 * later job of the same inputs starts from nothing. Idempotent.
 */
export async function pruneJobs(t: SshTarget, jobs: ReadonlyArray<{ stack: string; step: string }>): Promise<void> {
    const home = await remoteHome(t);
    await runOk(t, [
        "sh",
        "-c",
        PRUNE,
        "sh",
        expandHome(JOBS_DIR, home),
        ...jobs.map((j) => jobIdPrefix(j.stack, j.step)),
    ]);
}

/** Removes these directories when empty, in order (no error when absent or not empty). */
export async function removeEmptyDirs(t: SshTarget, dirs: string[]): Promise<void> {
    if (dirs.length > 0) {
        const home = await remoteHome(t);
        await runOk(t, [
            "sh",
            "-c",
            'for d in "$@"; do rmdir -- "$d" 2>/dev/null; done; exit 0',
            "sh",
            ...dirs.map((d) => expandHome(d, home)),
        ]);
    }
}

/** Last lines of a command output, for error messages. */
export function tail(text: string, lines = 25): string {
    const all = text.trimEnd().split("\n");
    return all.slice(-lines).join("\n");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `4 h`, `90 min`, `12 s`: a job deadline for messages. */
export function formatMinutes(ms = DEFAULT_TIMEOUT_MS): string {
    if (ms >= 3600000 && ms % 3600000 === 0) {
        return `${ms / 3600000} h`;
    }
    return ms >= 60000 && ms % 60000 === 0 ? `${ms / 60000} min` : `${Math.round(ms / 1000)} s`;
}

/**
 * Runs (or re-attaches to) a detached job and waits for it. Throws with the job's last output
 * lines when it exits non-zero; the job directory is then archived so the next attempt starts fresh.
 */
export async function runJob(t: SshTarget, spec: JobSpec): Promise<JobResult> {
    const report = spec.report;
    if (!report) {
        return runJobOnce(t, spec);
    }
    try {
        const r = await runJobOnce(t, spec);
        await report.end(undefined, r.skipped);
        return r;
    } catch (err) {
        await report.end(err as Error);
        throw err;
    }
}

async function runJobOnce(t: SshTarget, spec: JobSpec): Promise<JobResult> {
    const script = renderJobScript(spec.commands, spec.identity);
    // With an identity (the hash of everything the step consumes), the job is that identity, not
    // its script: a rerun that plans fewer commands (phases already done) still finds the job that
    // is running for the same inputs and re-attaches, rather than starting a second one beside it.
    const id = jobId(spec.stack, spec.step, spec.identity !== undefined ? `identity:${spec.identity}` : script);
    const home = await remoteHome(t);
    const dir = expandHome(`${JOBS_DIR}/${id}`, home);
    const pollMs = spec.pollMs ?? 2000;
    const deadline = Date.now() + (spec.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const secrets = [t.privateKey, ...(spec.secrets ?? [])];
    const hide = (text: string) => redact(text, secrets);
    const rawOnLine = spec.onLine ?? (() => undefined);
    const onLine = (line: string) => {
        const l = hide(line);
        rawOnLine(l);
        spec.report?.line(l);
    };
    const archive = async (suffix: string, progress: "keep" | "drop") => {
        const dest = expandHome(`${JOBS_DIR}/done/${id}.${suffix}`, home);
        await runOk(t, ["sh", "-c", ARCHIVE, "sh", dir, dest, progress]);
        return dest;
    };
    // Where a failure's full output is: the local copy (the report's) and the archived job's out.log.
    const logs = (archived: string) =>
        `Full output: ${spec.report?.logFile ? `${spec.report.logFile} (local), ` : ""}${archived}/out.log on the undercloud.`;

    const owner = randomBytes(8).toString("hex");
    let restarts = 0;
    for (;;) {
        // START is idempotent (mkdir decides who starts; the files are written atomically), so
        // transport errors are simply retried.
        let started: ExecResult | undefined;
        const files = spec.files ?? [];
        const skipIfPresent = spec.skipIfPresent ?? [];
        // The script as written carries an owner line after the shebang (not part of the job id).
        const owned = script.replace("\n", `\n# owner: ${owner}\n`);
        const startInput = files.map((f) => Buffer.from(f.content, "utf8").toString("base64") + "\n").join("") + owned;
        for (let attempt = 1; !started; attempt++) {
            try {
                started = await runOk(
                    t,
                    [
                        "sh",
                        "-c",
                        START,
                        "sh",
                        dir,
                        String(skipIfPresent.length),
                        jobIdPrefix(spec.stack, spec.step),
                        ...skipIfPresent.map((f) => expandHome(f, home)),
                        ...files.map((f) => expandHome(f.path, home)),
                    ],
                    startInput,
                );
            } catch (err) {
                if (attempt >= 5 || !/^ssh /.test((err as Error).message)) {
                    throw err;
                }
                onLine(`[job ${id}] connection problem (${(err as Error).message}), retrying`);
                await sleep(500 * attempt);
            }
        }
        if (started.stdout.startsWith("present\n")) {
            const present = parseFileLines(started.stdout.slice("present\n".length), skipIfPresent.length);
            const result: Record<string, string | undefined> = {};
            skipIfPresent.forEach((f, i) => (result[f] = present.files[i]));
            trace("job-skipped", { job: id });
            return { jobId: id, code: 0, output: "", attached: false, files: result, skipped: true };
        }
        const answer = started.stdout.trim();
        // Our own START whose answer was lost (an SSH drop) is not an earlier run's job: attaching
        // to it as one would restart it when it fails, hiding the failure and running it twice.
        const attached = attachedToEarlierRun(answer, owner);
        trace("job-started", { job: id, attached });
        spec.onStarted?.();
        if (attached) {
            onLine(`[job ${id}] re-attaching to an existing job on the undercloud`);
        } else {
            onLine(`[job ${id}] started on the undercloud`);
        }
        let offset = 0;
        let output = "";
        const splitter = lineSplitter();
        const lockWait = lockWaitClock();
        const pastDeadline = () => Date.now() > deadline + lockWait.waitedMs();
        let failures = 0;
        // A probe waits on the undercloud until the job ends (seen within ~0.1 s of its rc file) or
        // up to 2.5 × pollMs, and brings the new output. The job's first probe (≤ 1 s) is its own;
        // then it shares the connection's batched probe with every other running job (one channel
        // and one exec per few seconds for all of them). A successful end is archived, and the
        // `collect` files read, by the probe that sees it (`okDest` is where it goes, also answered
        // from by a retried probe).
        const remoteWaitTenths = Math.max(1, Math.round((pollMs * 2.5) / 100));
        // Named by the run that started the job, not by this runner: two runners attached to one job
        // (two `pulumi` processes) share it, so the one that did not archive the job finds its end
        // there rather than taking the job as vanished and running its commands again.
        const okDest = expandHome(`${JOBS_DIR}/done/${id}.ok-${jobOwner(answer, owner) ?? Date.now()}`, home);
        const collect = spec.collect ?? [];
        const statusArgs = (waits: number) => [
            dir,
            String(offset),
            String(waits),
            String(waits),
            okDest,
            ...collect.map((c) => expandHome(c, home)),
        ];
        let firstProbe = true;
        for (;;) {
            let probe: ExecResult;
            const asked = Date.now();
            try {
                if (firstProbe) {
                    // The first probe is the job's own (a short step is seen ending at once); then it
                    // joins the connection's batched probe.
                    probe = await run(
                        t,
                        ["sh", "-c", STATUS, "sh", ...statusArgs(Math.min(10, remoteWaitTenths))],
                        undefined,
                        60000,
                    );
                } else {
                    probe = { code: 0, stdout: await batchedStatus(t, statusArgs(0), remoteWaitTenths), stderr: "" };
                }
                // A probe whose shell was killed (an undercloud reboot) answers nothing: retry it
                // like a dropped connection rather than failing on an empty status line.
                if (probe.code !== 0 || probe.stdout.trim() === "") {
                    throw new Error(`status probe got no answer (exit ${probe.code})`);
                }
                firstProbe = false;
                failures = 0;
            } catch (err) {
                failures++;
                if (failures > 20 || pastDeadline()) {
                    throw new Error(
                        hide(
                            `lost the undercloud while waiting for job ${id} (${(err as Error).message}); ` +
                                `the job keeps running there and the next run re-attaches to it`,
                        ),
                    );
                }
                onLine(`[job ${id}] connection problem (${(err as Error).message}), retrying`);
                await sleep(Math.min(1000, pollMs));
                continue;
            }
            const { state, chunk, files: collected } = parseStatus(probe.stdout, collect.length);
            if (chunk) {
                offset += Buffer.byteLength(chunk, "utf8");
                output += chunk;
                for (const line of splitter.push(chunk)) {
                    lockWait.line(line);
                    onLine(line);
                }
            }
            if (state.kind === "running" || state.kind === "starting") {
                if (pastDeadline()) {
                    await runOk(t, ["sh", "-c", STOP, "sh", dir]);
                    const archived = await archive(`timeout-${Date.now()}`, "keep");
                    throw new Error(
                        hide(
                            `${spec.step} of stack ${spec.stack} timed out after ${formatMinutes(spec.timeoutMs)} ` +
                                `(job ${id}); stopped it on the undercloud. The next run starts it again and skips ` +
                                `the commands that had finished. ${logs(archived)} Last output:\n` +
                                tail(output, FAILURE_TAIL_LINES),
                        ),
                    );
                }
                // A probe answers early only on news; never spin on a server that answers at once.
                if (Date.now() - asked < 50) {
                    await sleep(Math.min(200, pollMs));
                }
                continue;
            }
            if (state.kind === "done" && state.code === 0) {
                for (const line of splitter.flush()) {
                    onLine(line);
                }
                trace("job-collected", { job: id });
                const result: Record<string, string | undefined> = {};
                collect.forEach((c, i) => (result[c] = collected?.[i]));
                return { jobId: id, code: 0, output, attached, files: result };
            }
            for (const line of splitter.flush()) {
                onLine(line);
            }
            trace("job-seen-end", { job: id, state: state.kind });
            // A failed, vanished or dead job. If we found it from an earlier run, start it again once;
            // if we started it ourselves, report the failure.
            const archived = await archive(`failed-${Date.now()}`, "keep");
            if (attached && restarts === 0 && state.kind !== "done") {
                restarts++;
                onLine(`[job ${id}] the earlier job is gone without an exit code; starting it again`);
                break;
            }
            if (attached && restarts === 0 && state.kind === "done") {
                restarts++;
                onLine(`[job ${id}] an earlier attempt failed (exit ${state.code}); starting it again`);
                break;
            }
            const code = state.kind === "done" ? state.code : -1;
            throw new Error(
                hide(
                    `${spec.step} of stack ${spec.stack} failed on the undercloud (exit ${code}, job ${id}). ` +
                        `${logs(archived)} Last ${FAILURE_TAIL_LINES} lines:\n${tail(output, FAILURE_TAIL_LINES)}`,
                ),
            );
        }
    }
}
