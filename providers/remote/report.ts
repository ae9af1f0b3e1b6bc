/**
 * A step's progress, as the providers report it (the IO around ./progress's pure model):
 *
 * - the FULL output of the step (every line the job prints, redacted like everything the runner
 *   hands out) goes to a private local file, `logs/<pulumi stack>/<site>/<step>.log` under the
 *   project (0600 in 0700 directories; the previous run's copy is kept as `<step>.prev.log`);
 *   `npm run logs -- <site> [step]` shows them (tools/logs.ts). The undercloud keeps its own copy
 *   (the job dir's `out.log`, archived under `~/.dcn-jobs/done/`).
 * - only the model's lines are printed: phase changes, heartbeats, runner notices, the summary.
 *   They go to the resource's own row when the resource told us its URN (the `logUrn` input, see
 *   providers/resource.ts) and the engine can be reached: a dynamic provider has no engine
 *   connection of its own (its `pulumi.log.*` falls back to console.log, which the engine shows
 *   on the Stack row) and its create/update are not given the URN, but the plugin process is
 *   started with the engine's address as its argument, and the engine's `Log` RPC accepts any URN.
 *   Phase changes and heartbeats are ephemeral there (shown live, not repeated in the final
 *   "Diagnostics:"), the summary is not. Without a URN (resources created before `logUrn`
 *   existed, unit tests) the lines go to `pulumi.log.info` (the Stack row), prefixed by the site.
 */
import type { JobReport } from "./jobs";
import { progressModel } from "./progress";

export interface StepReportOptions {
    /** The site (TripleO stack, or the stacks of a multi-stack step joined by `+`). */
    site: string;
    /** The step (file name of the log): `metal`, `ceph`, `deploy`, `export-ceph`, `delete`, … */
    step: string;
    /** The resource's URN (the `logUrn` input); its stack names the log directory. */
    logUrn?: string;
    /** Heartbeat period (ms), default 60 s. */
    heartbeatMs?: number;
    /** Where to print a progress line; default: the resource's row, else the Stack row. */
    print?: (line: string, ephemeral: boolean) => void;
    /** The log root; default `$DCN_LOG_DIR` or `<cwd>/logs` (the provider runs in the project dir). */
    logRoot?: string;
}

/** File-name-safe form of a path segment. */
function safeSegment(s: string): string {
    return s.replace(/[^A-Za-z0-9_.,+=-]/g, "_").replace(/^\.+/, "_");
}

/** `logs/<pulumi stack>`, from the resource's URN (`unknown-stack` without one). */
export function stackLogDir(o: { logUrn?: string; logRoot?: string }): string {
    const path = require("path") as typeof import("path");
    const root = o.logRoot ?? process.env.DCN_LOG_DIR ?? path.join(projectDir(), "logs");
    const m = /^urn:pulumi:([^:]+)::/.exec(o.logUrn ?? "");
    return path.join(root, safeSegment(m ? m[1] : "unknown-stack"));
}

/** `logs/<pulumi stack>/<site>/<step>.log`. */
export function stepLogPath(o: { site: string; step: string; logUrn?: string; logRoot?: string }): string {
    const path = require("path") as typeof import("path");
    return path.join(stackLogDir(o), safeSegment(o.site), `${safeSegment(o.step)}.log`);
}

/**
 * `logs/<pulumi stack>/timeline.jsonl`: one line per step the providers ran (StepTiming), what
 * `npm run timeline` draws. Written by the program, so it holds on a real undercloud too.
 */
export function timelinePath(o: { logUrn?: string; logRoot?: string }): string {
    const path = require("path") as typeof import("path");
    return path.join(stackLogDir(o), "timeline.jsonl");
}

/** One step of a Pulumi run, as timeline.jsonl records it (times in ms epoch). */
export interface StepTiming {
    /** The Pulumi operation: when the provider process that ran the step started (ISO, seconds). */
    run: string;
    site: string;
    step: string;
    start: number;
    end: number;
    ok: boolean;
    phases: Array<{ phase: string; start: number; end: number }>;
}

/**
 * The id of the Pulumi operation this process serves: one dynamic-provider process serves every
 * resource of one `pulumi up`/`destroy`, so its start time (to the second) tells the runs apart.
 * Computed at each call (a module constant would be serialized with the program's value).
 */
export function runId(): string {
    return new Date(Math.round((Date.now() - process.uptime() * 1000) / 1000) * 1000).toISOString();
}

/**
 * The project directory: the nearest one holding Pulumi.yaml from the working directory up (the
 * engine starts the provider in the program's directory, `bin/` for this project), else the cwd.
 */
export function projectDir(from: string = process.cwd()): string {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    for (let d = path.resolve(from); ; d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, "Pulumi.yaml"))) {
            return d;
        }
        if (path.dirname(d) === d) {
            return path.resolve(from);
        }
    }
}

/** A JobReport: the step's local log file and its progress lines (see the header). */
export function stepReport(o: StepReportOptions): JobReport {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const file = stepLogPath(o);
    const started = Date.now();
    const model = progressModel({ site: o.site, step: o.step, heartbeatMs: o.heartbeatMs }, started);
    const pending: Promise<void>[] = [];
    const print =
        o.print ??
        ((line: string, ephemeral: boolean) => {
            pending.push(inOrder(() => toRow(o.logUrn, line, ephemeral)));
        });
    // Opened with the first line (a job that is not run leaves the previous log alone).
    let fd: number | undefined;
    let opened = false;
    const open = () => {
        opened = true;
        try {
            fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
            if (fs.existsSync(file)) {
                fs.renameSync(file, file.replace(/\.log$/, ".prev.log"));
            }
            fd = fs.openSync(file, "w", 0o600);
            fs.fchmodSync(fd, 0o600);
        } catch (err) {
            print(`${o.site} ${o.step}: cannot write the local log ${file}: ${(err as Error).message}`, false);
        }
    };
    const emit = (lines: string[], ephemeral: boolean) => lines.forEach((l) => print(l, ephemeral));
    // Heartbeats also when the job prints nothing for a while (unref'd: never keeps the process up).
    const timer = setInterval(() => emit(model.tick(Date.now()), true), Math.min(5000, o.heartbeatMs ?? 5000));
    timer.unref?.();
    let ended = false;
    return {
        logFile: file,
        line(l: string) {
            if (!opened) {
                open();
            }
            if (fd !== undefined) {
                try {
                    fs.writeSync(fd, l + "\n");
                } catch {
                    // the local copy is best effort: the undercloud keeps out.log
                }
            }
            emit(model.line(l, Date.now()), true);
        },
        async end(error?: Error, skipped?: boolean) {
            if (ended) {
                return;
            }
            ended = true;
            clearInterval(timer);
            if (skipped) {
                print(`${o.site} ${o.step}: not run, its results are already on the undercloud`, true);
                await Promise.all(pending);
                return;
            }
            if (fd !== undefined) {
                try {
                    fs.closeSync(fd);
                } catch {
                    // already closed
                }
            }
            const first = error ? error.message.split("\n")[0] : undefined;
            const endedAt = Date.now();
            const summary = model.end(endedAt, first);
            recordTiming(o, {
                run: runId(),
                site: o.site,
                step: o.step,
                start: started,
                end: endedAt,
                ok: error === undefined,
                phases: model.spans(),
            });
            const where = fd !== undefined ? `; log ${path.relative(projectDir(), file) || file}` : "";
            // A failure's summary stays in the final "Diagnostics:" (with the error); a success's is live only.
            emit(
                summary.map((l) => l + where),
                error === undefined,
            );
            await Promise.all(pending);
        },
    };
}

/** Runs the sends one after the other (concurrent unary RPCs would reach the engine in any order). */
function inOrder(send: () => Promise<void>): Promise<void> {
    const g = globalThis as unknown as { __dcnLogChain?: Promise<void> };
    const next = (g.__dcnLogChain ?? Promise.resolve()).then(send, send);
    g.__dcnLogChain = next.catch(() => undefined);
    return next;
}

/**
 * Sends one line to the resource's row through the engine's Log RPC (the plugin's first argument is
 * the engine's address), or to `pulumi.log.info` when there is no URN or the engine cannot be reached.
 */
async function toRow(urn: string | undefined, line: string, ephemeral: boolean): Promise<void> {
    const client = urn ? engineClient() : undefined;
    if (urn && client) {
        const engproto = require("@pulumi/pulumi/proto/engine_pb");
        const req = new engproto.LogRequest();
        req.setSeverity(engproto.LogSeverity.INFO);
        req.setMessage(line);
        req.setUrn(urn);
        req.setEphemeral(ephemeral);
        const ok = await new Promise<boolean>((resolve) => client.log(req, (err: unknown) => resolve(!err)));
        if (ok) {
            return;
        }
    }
    const pulumi = require("@pulumi/pulumi");
    await pulumi.log.info(line);
}

type EngineLogClient = { log(req: unknown, cb: (err: unknown) => void): void };

/** One gRPC client of the engine per process (cached on globalThis: this module is serialized by value). */
function engineClient(): EngineLogClient | undefined {
    const g = globalThis as unknown as { __dcnEngineClient?: EngineLogClient | null };
    if (g.__dcnEngineClient !== undefined) {
        return g.__dcnEngineClient ?? undefined;
    }
    g.__dcnEngineClient = null;
    // The dynamic-provider host is started as `node <…/cmd/dynamic-provider> <engine address>`.
    const addr = process.argv[2];
    if (!/dynamic-provider/.test(process.argv[1] ?? "") || !/^[A-Za-z0-9.[\]:-]+:[0-9]+$/.test(addr ?? "")) {
        return undefined;
    }
    try {
        const grpc = require("@grpc/grpc-js");
        const engrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
        g.__dcnEngineClient = new engrpc.EngineClient(addr, grpc.credentials.createInsecure(), {
            "grpc.max_receive_message_length": 4 * 1024 * 1024,
        }) as EngineLogClient;
    } catch {
        g.__dcnEngineClient = null;
    }
    return g.__dcnEngineClient ?? undefined;
}

/** Appends a step's timing to timeline.jsonl (0600; best effort: a timeline is not worth a failed step). */
function recordTiming(o: { logUrn?: string; logRoot?: string }, t: StepTiming): void {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const file = timelinePath(o);
    try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fs.appendFileSync(file, JSON.stringify(t) + "\n", { mode: 0o600 });
    } catch {
        // the step's own log and the undercloud's out.log still hold what happened
    }
}
