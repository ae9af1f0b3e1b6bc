/**
 * Benchmarks of the issue's "Benchmarks" section: `tsx bench/run.ts <p1|p2|p3|p4|real|all>`
 * (`real`: the seed through real TripleO, issue 10).
 * Each benchmark logs progress on stderr and prints, as its LAST stdout line, one JSON object with
 * its figures. Every run uses private labs (own LAB_DIR, SSH port, Ceph net) and a private build of
 * the program, so it never touches the shared tree's bin/ or .lab/.
 *
 * Env: BENCH_TIME_SCALE (P1/P2/P4 lab time scale, default 0.2 s per simulated minute),
 * BENCH_P3_SITES (default "3,20,100"), BENCH_P3_ROUNDS (default 2), BENCH_VALIDATION=0 (seed config without the post-deploy
 * multistore validation), BENCH_KEEP=1 keeps the temp dir, BENCH_OUT (dir for logs
 * and CPU profiles, default $TMPDIR/dcn-bench-out).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    LogEntry,
    lowerBound,
    criticalChain,
    criticalPath,
    sequentialOrder,
    sequentialSum,
    stepDurations,
    stepGraph,
    stepOf,
    startDelays,
} from "./critical-path";
import {
    Lab,
    buildProgram,
    log,
    measurePulumi,
    mustSucceed,
    round,
    scaledStackYaml,
    seedStackYaml,
    tmpRoot,
    workspace,
} from "./lib";
import { summarizeProfiles } from "./profile";

const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? "0.2");
const OUT = path.resolve(process.env.BENCH_OUT ?? path.join(os.tmpdir(), "dcn-bench-out"));
const CENTRAL = "control-plane";
const SEED_DCNS = ["dcn0", "dcn1"];

const quote = (s: string) => (/^[A-Za-z0-9_.,:=/@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

function saveLog(name: string, entries: LogEntry[]): string {
    fs.mkdirSync(OUT, { recursive: true });
    const f = path.join(OUT, name);
    fs.writeFileSync(f, entries.map((e) => JSON.stringify(e)).join("\n") + "\n");
    return f;
}

/**
 * The sequential baseline: on a fresh lab at the same scale, the mutating commands the program ran
 * (from its log), grouped by step, steps in the seed's sequential order, one `lab ssh` each. The
 * files the program generated under the work root (~/dcn: roles, env files) are copied first,
 * as an operator would have written them by hand.
 */
async function sequential(root: string, programLab: Lab, programLog: LogEntry[], dcns: string[], spares?: number) {
    const lab = await Lab.create(root, "lab-seq", TIME_SCALE, spares);
    try {
        const work = path.join(programLab.home, "dcn");
        if (fs.existsSync(work)) fs.cpSync(work, path.join(lab.home, "dcn"), { recursive: true });
        // ...without the commands' own outputs (they refuse to overwrite without -y).
        for (const e of programLog) {
            e.argv.forEach((a, i) => {
                if (i > 0 && /^(-o|--output.*)$/.test(e.argv[i - 1]) && a.startsWith(programLab.home)) {
                    fs.rmSync(a.split(programLab.home).join(lab.home), { force: true, recursive: true });
                }
            });
        }
        const byStep = new Map<string, LogEntry[]>();
        const skipped: string[] = [];
        for (const e of programLog) {
            if (e.exit !== 0) continue;
            const step = stepOf(e, CENTRAL);
            if (!step) {
                if (e.mutating) skipped.push(e.argv.slice(0, 4).join(" "));
                continue;
            }
            byStep.set(step, [...(byStep.get(step) ?? []), e]);
        }
        if (skipped.length)
            log(`sequential: commands outside the step graph (validation), not replayed: ${skipped.join("; ")}`);
        const order = sequentialOrder(CENTRAL, dcns);
        const perStep: Record<string, number> = {};
        const began = Date.now();
        for (const step of order) {
            const t0 = Date.now();
            for (const e of byStep.get(step) ?? []) {
                // The program expands ~ to the first lab's home: point the paths at this lab's.
                const argv = e.argv.map((a) => a.split(programLab.home).join(lab.home));
                const r = lab.ssh(`cd "$HOME" && ${argv.map(quote).join(" ")}`);
                if (r.code !== 0)
                    throw new Error(`sequential ${step}: ${e.argv.join(" ")} exited ${r.code}\n${r.out.slice(-3000)}`);
            }
            perStep[step] = round((Date.now() - t0) / 1000);
            log(`sequential ${step} ${perStep[step]} s`);
        }
        const wall = (Date.now() - began) / 1000;
        const seqLog = lab.log();
        saveLog(`sequential-${dcns.length}dcn.jsonl`, seqLog);
        return { wall, perStep, commandSum: sequentialSum(stepGraph(stepDurations(seqLog, CENTRAL), CENTRAL, dcns)) };
    } finally {
        lab.stop();
    }
}

interface UpFigures {
    wall_s: number;
    lower_bound_s: number;
    critical_path_no_heat_rule_s: number;
    step_sum_s: number;
    heat_order: string[];
    lower_bound_exact: boolean;
    busy_s: number;
    peak_rss_mb: number;
    ssh_connections: number;
    commands: number;
    steps: Record<string, number>;
    start_delays: Record<string, number>;
    before_first_command_s: number;
    after_last_command_s: number;
    after_last_step_s: number;
    after_last_step_commands: string[];
    /** The post-deploy validation's own duration (its create in the provider trace), 0 without. */
    validation_s: number;
    /** Lower bound with the validation as one more step after every deploy. */
    lower_bound_with_validation_s: number;
    /** The run's actual critical chain and where its wall time went (see criticalChain). */
    chain: string[];
    chain_gaps_s: Record<string, number>;
    /** From the provider trace (DCN_TRACE_FILE). */
    trace: Record<string, number>;
    load1: [number, number];
    pulumi_parallel: string;
}

interface TraceLine {
    t: number;
    ev: string;
    type?: string;
    name?: string;
    cmd?: string;
    ms?: number;
    waitMs?: number;
}

/** Engine start, validation span and SSH exec figures from the provider trace. */
function traceFigures(file: string): { figures: Record<string, number>; validation: number } {
    const lines = fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as TraceLine);
    const at = (ev: string, type?: string) => lines.find((l) => l.ev === ev && (!type || l.type === type))?.t;
    const up = at("up-start")!;
    // The providers' own short execs (not probes, the validation's commands nor the ceph-admin key).
    const execs = lines.filter(
        (l) => l.ev === "exec" && !/^(sh -c # (status|poll)|source |c=|nice )/.test(l.cmd ?? ""),
    );
    const ms = execs.map((l) => l.ms ?? 0).sort((a, b) => a - b);
    const probes = lines.filter((l) => l.ev === "exec" && /^sh -c # (status|poll)/.test(l.cmd ?? ""));
    const vStart = at("create-start", "MultistoreValidation");
    const vEnd = at("create-end", "MultistoreValidation");
    const creates = lines.filter((l) => l.ev === "create-end" || l.ev === "check-start");
    // Engine hand-over: a create's end → the next resource's check (the program and the engine between them).
    const handovers: number[] = [];
    for (const e of creates.filter((l) => l.ev === "create-end")) {
        const next = creates.find((l) => l.ev === "check-start" && l.t >= e.t);
        if (next && next.t - e.t < 5000) handovers.push(next.t - e.t);
    }
    handovers.sort((a, b) => a - b);
    const med = (x: number[]) => (x.length ? x[Math.floor(x.length / 2)]! : 0);
    return {
        validation: vStart && vEnd ? (vEnd - vStart) / 1000 : 0,
        figures: {
            engine_start_s: round(((at("check-start") ?? up) - up) / 1000),
            first_ssh_ready_s: round(((at("ssh-ready") ?? up) - up) / 1000),
            execs: execs.length,
            exec_median_ms: med(ms),
            exec_p90_ms: ms.length ? ms[Math.floor(ms.length * 0.9)]! : 0,
            exec_channel_wait_max_ms: Math.max(0, ...execs.map((l) => l.waitMs ?? 0)),
            probe_execs: probes.length,
            engine_handover_median_ms: med(handovers),
        },
    };
}

/** A full `up` of a topology on a private lab; figures from the same run's command log. */
async function fullUp(root: string, lab: Lab, binDir: string, stackYaml: string, dcns: string[]) {
    const ws = await workspace(root, binDir, "bench", stackYaml);
    const conn0 = lab.connections();
    log(`up (${dcns.length} DCN) at LAB_TIME_SCALE=${TIME_SCALE} ...`);
    fs.mkdirSync(OUT, { recursive: true });
    const traceFile = path.join(OUT, `trace-up-${dcns.length}dcn.jsonl`);
    fs.rmSync(traceFile, { force: true });
    const load0 = round(os.loadavg()[0]!, 2);
    const upStarted = Date.now();
    fs.writeFileSync(traceFile, JSON.stringify({ t: upStarted, pid: process.pid, ev: "up-start" }) + "\n");
    const m = mustSucceed(
        await measurePulumi(ws, ["up", "--yes", "--non-interactive", "--skip-preview"], {
            DCN_TRACE_FILE: traceFile,
        }),
        "pulumi up",
    );
    const upEnded = Date.now();
    fs.appendFileSync(traceFile, JSON.stringify({ t: upEnded, pid: process.pid, ev: "up-end" }) + "\n");
    const conns = lab.connections() - conn0;
    const entries = lab.log();
    saveLog(`up-${dcns.length}dcn.jsonl`, entries);
    const durations = stepDurations(entries, CENTRAL);
    const steps = stepGraph(durations, CENTRAL, dcns);
    const lb = lowerBound(steps);
    const t = (s: string) => Date.parse(s);
    const delays = startDelays(entries, steps, CENTRAL);
    const lastStepEnd = Math.max(...entries.filter((e) => stepOf(e, CENTRAL) && e.end).map((e) => t(e.end!)));
    const after = entries.filter((e) => t(e.start) >= lastStepEnd);
    const busy =
        (Math.max(...entries.map((e) => t(e.end ?? e.start))) - Math.min(...entries.map((e) => t(e.start)))) / 1000;
    const tr = traceFigures(traceFile);
    const chain = criticalChain(entries, steps, CENTRAL);
    const chainGaps: Record<string, number> = {
        before_chain_s: round((chain[0]!.start - upStarted) / 1000),
        handovers_s: round(chain.reduce((a, l) => a + l.delay, 0)),
        within_steps_s: round(chain.reduce((a, l) => a + (l.end - l.start) / 1000 - l.busy, 0)),
        after_chain_s: round((upEnded - chain.at(-1)!.end) / 1000),
        chain_busy_s: round(chain.reduce((a, l) => a + l.busy, 0)),
    };
    for (const l of chain.slice(1)) chainGaps[`into:${l.step}`] = round(l.delay);
    const fig: UpFigures = {
        wall_s: round(m.wall_s),
        lower_bound_s: round(lb.makespan),
        critical_path_no_heat_rule_s: round(criticalPath(steps)),
        step_sum_s: round(sequentialSum(steps)),
        heat_order: lb.heatOrder,
        lower_bound_exact: lb.exact,
        busy_s: round(busy),
        peak_rss_mb: m.peak_rss_mb,
        ssh_connections: conns,
        commands: entries.length,
        steps: Object.fromEntries([...durations].map(([k, v]) => [k, round(v)])),
        start_delays: Object.fromEntries(Object.entries(delays).map(([k, v]) => [k, round(v)])),
        before_first_command_s: round((Math.min(...entries.map((e) => t(e.start))) - upStarted) / 1000),
        after_last_command_s: round((upEnded - Math.max(...entries.map((e) => t(e.end ?? e.start)))) / 1000),
        after_last_step_s: round(
            after.length ? (Math.max(...after.map((e) => t(e.end ?? e.start))) - lastStepEnd) / 1000 : 0,
        ),
        after_last_step_commands: after.map((e) => e.argv.slice(1, 3).join(" ")),
        validation_s: round(tr.validation),
        lower_bound_with_validation_s: round(lb.makespan + tr.validation),
        chain: chain.map((l) => l.step),
        chain_gaps_s: chainGaps,
        trace: tr.figures,
        load1: [load0, round(os.loadavg()[0]!, 2)],
        // The engine runs at most this many resource operations at once (default 4 × CPUs).
        pulumi_parallel: process.env.PULUMI_PARALLEL ?? `default ${os.availableParallelism() * 4}`,
    };
    log(`up: ${JSON.stringify(fig)}`);
    return { ws, fig, entries, m };
}

async function p1(): Promise<Record<string, unknown>> {
    const root = tmpRoot();
    const lab = await Lab.create(root, "lab-up", TIME_SCALE);
    try {
        const binDir = buildProgram(path.join(root, "build"));
        const { ws, fig, entries, m } = await fullUp(root, lab, binDir, seedStackYaml(lab.dir), SEED_DCNS);
        // No-op up of the deployed seed (P3's 3-site... see p3 for the scaled ones) and P4 figures.
        const c0 = lab.connections();
        const noop = mustSucceed(
            await measurePulumi(ws, ["up", "--yes", "--non-interactive", "--skip-preview"]),
            "no-op up",
        );
        const noopConns = lab.connections() - c0;
        // BENCH_SEQ=0 skips the sequential replay (development runs of the up alone).
        const seq =
            process.env.BENCH_SEQ === "0"
                ? { wall: NaN, commandSum: NaN }
                : await sequential(root, lab, entries, SEED_DCNS);
        const result = {
            bench: "p1",
            time_scale: TIME_SCALE,
            validation: process.env.BENCH_VALIDATION !== "0",
            ...fig,
            sequential_s: round(seq.wall),
            sequential_commands_s: round(seq.commandSum),
            ratio_lb: round(fig.wall_s / fig.lower_bound_s, 3),
            ratio_lb_with_validation: round(fig.wall_s / fig.lower_bound_with_validation_s, 3),
            ratio_seq: round(fig.wall_s / seq.wall, 3),
            target_lb: 1.1,
            target_seq: 0.7,
            noop_up_s: round(noop.wall_s),
            noop_up_ssh_connections: noopConns,
            provider_processes: m.procs,
        };
        ws.dispose();
        return result;
    } finally {
        lab.stop();
        if (!process.env.BENCH_KEEP) fs.rmSync(root, { recursive: true, force: true });
    }
}

async function p2(): Promise<Record<string, unknown>> {
    const root = tmpRoot();
    const dcns = Array.from({ length: 10 }, (_, i) => `dcn${i}`);
    const lab = await Lab.create(root, "lab-up", TIME_SCALE, 24);
    try {
        const binDir = buildProgram(path.join(root, "build"));
        const { ws, fig, entries } = await fullUp(root, lab, binDir, scaledStackYaml(lab.dir, 10), dcns);
        ws.dispose();
        const seq = process.env.BENCH_SEQ === "0" ? { wall: NaN } : await sequential(root, lab, entries, dcns, 24);
        return {
            bench: "p2",
            time_scale: TIME_SCALE,
            dcn_sites: 10,
            ...fig,
            sequential_s: round(seq.wall),
            ratio_lb: round(fig.wall_s / fig.lower_bound_s, 3),
            ratio_lb_with_validation: round(fig.wall_s / fig.lower_bound_with_validation_s, 3),
            ratio_seq: round(fig.wall_s / seq.wall, 3),
            target_lb: 1.1,
        };
    } finally {
        lab.stop();
        if (!process.env.BENCH_KEEP) fs.rmSync(root, { recursive: true, force: true });
    }
}

/**
 * P3: preview of 3/20/100 DCN sites (fresh stacks), with peak memory and a CPU profile of the
 * largest. Each size is an A/B pair measured in the same run, alternated (A B, then B A):
 * A = every stack trace source-mapped (`DCN_SOURCE_MAPPED_STACKS=1`, the program before the
 * index.ts change), B = the program as it is (the SDK's bookkeeping stacks skip the source maps).
 * BENCH_P3_ROUNDS (default 2) pairs per size. The load average is recorded with every figure.
 */
async function p3(): Promise<Record<string, unknown>> {
    const root = tmpRoot();
    const counts = (process.env.BENCH_P3_SITES ?? "3,20,100").split(",").map(Number);
    const rounds = Number(process.env.BENCH_P3_ROUNDS ?? "2");
    // The program reads the lab's connection.json and key: a lab is started (nothing is deployed).
    const lab = await Lab.create(root, "lab-p3", TIME_SCALE, Math.max(24, ...counts));
    const out: Record<string, unknown> = { bench: "p3", rounds };
    const load = () => round(os.loadavg()[0]!, 2);
    const mean = (x: number[]) => x.reduce((p, q) => p + q, 0) / x.length;
    const median = (x: number[]) => {
        const y = [...x].sort((p, q) => p - q);
        return y.length % 2 ? y[(y.length - 1) / 2]! : (y[y.length / 2 - 1]! + y[y.length / 2]!) / 2;
    };
    try {
        const binDir = buildProgram(path.join(root, "build"));
        for (const n of counts) {
            const ws = await workspace(root, binDir, `s${n}`, scaledStackYaml(lab.dir, n));
            const variants = { a: { DCN_SOURCE_MAPPED_STACKS: "1" }, b: {} } as const;
            const wall: Record<"a" | "b", number[]> = { a: [], b: [] };
            const cpu: Record<"a" | "b", number[]> = { a: [], b: [] };
            const rss: Record<"a" | "b", number> = { a: 0, b: 0 };
            const loads: number[] = [];
            let conns = 0;
            let resources: string | undefined;
            for (let i = 0; i < rounds; i++) {
                for (const v of (i % 2 === 0 ? ["a", "b"] : ["b", "a"]) as Array<"a" | "b">) {
                    loads.push(load());
                    const c0 = lab.connections();
                    const m = mustSucceed(
                        await measurePulumi(ws, ["preview", "--non-interactive"], variants[v]),
                        `preview ${n} ${v}`,
                    );
                    conns += lab.connections() - c0;
                    resources = /(\d+) to create/.exec(m.stdout)?.[1] ?? resources;
                    wall[v].push(round(m.wall_s));
                    cpu[v].push(round(m.cpu_s));
                    rss[v] = Math.max(rss[v], m.peak_rss_mb);
                    log(
                        `preview ${n} DCN ${v}: ${round(m.wall_s)} s, cpu ${round(m.cpu_s)} s, ` +
                            `${m.peak_rss_mb} MiB, load ${loads.at(-1)}`,
                    );
                }
            }
            loads.push(load());
            out[`preview_${n}_s`] = round(mean(wall.b));
            out[`preview_${n}_runs_s`] = wall.b;
            out[`preview_${n}_mapped_runs_s`] = wall.a;
            out[`preview_${n}_ratio`] = round(mean(wall.b) / mean(wall.a), 3);
            // Robust to one preview slowed by the other work on the machine.
            out[`preview_${n}_ratio_median`] = round(median(wall.b) / median(wall.a), 3);
            // CPU seconds of the process tree: what the change saves, whatever else runs on the machine.
            out[`preview_${n}_cpu_s`] = cpu.b;
            out[`preview_${n}_mapped_cpu_s`] = cpu.a;
            out[`preview_${n}_cpu_ratio`] = round(mean(cpu.b) / mean(cpu.a), 3);
            out[`preview_${n}_peak_rss_mb`] = rss.b;
            out[`preview_${n}_mapped_peak_rss_mb`] = rss.a;
            out[`preview_${n}_resources`] = resources ? Number(resources) : null;
            out[`preview_${n}_ssh_connections`] = conns;
            out[`preview_${n}_load1`] = [Math.min(...loads), Math.max(...loads)];
            if (n === Math.max(...counts)) {
                // Profile the same preview: every node process of the tree writes a .cpuprofile.
                const profDir = path.join(OUT, `p3-cpuprofile-${n}`);
                fs.rmSync(profDir, { recursive: true, force: true });
                fs.mkdirSync(profDir, { recursive: true });
                const l0 = load();
                const prof = mustSucceed(
                    await measurePulumi(ws, ["preview", "--non-interactive"], {
                        NODE_OPTIONS: `--require ${path.join(__dirname, "cpu-prof-hook.cjs")}`,
                        BENCH_CPU_PROF_DIR: profDir,
                    }),
                    `profiled preview ${n}`,
                );
                out[`preview_${n}_profiled_s`] = round(prof.wall_s);
                out[`preview_${n}_profiled_load1`] = l0;
                out[`preview_${n}_profile`] = summarizeProfiles(profDir);
            }
            ws.dispose();
        }
        out.target_preview_100_s = 20;
        return out;
    } finally {
        lab.stop();
        if (!process.env.BENCH_KEEP) fs.rmSync(root, { recursive: true, force: true });
    }
}

/**
 * P3 experiment (`p3x`): the 100-site preview with three stack-trace policies, rotated in one run:
 * `mapped` = every stack source-mapped (Pulumi's run.js installs source-map-support; the SDK reads
 * `new Error().stack` for every promise and every resource; `DCN_SOURCE_MAPPED_STACKS=1`), `sdk_v8`
 * = the program as it is (the SDK's bookkeeping stacks formatted by V8, others mapped), `all_v8` =
 * `Error.prepareStackTrace = undefined` on top of the private copy of bin/index.js (no source
 * maps for any stack). BENCH_P3X_ROUNDS (default 2).
 */
async function p3x(): Promise<Record<string, unknown>> {
    const root = tmpRoot();
    const n = Number(process.env.BENCH_P3X_SITES ?? "100");
    const rounds = Number(process.env.BENCH_P3X_ROUNDS ?? "2");
    const lab = await Lab.create(root, "lab-p3x", TIME_SCALE, Math.max(24, n));
    try {
        const binDir = buildProgram(path.join(root, "build"));
        const patched = path.join(root, "build-patched", "bin");
        fs.cpSync(binDir, patched, { recursive: true });
        const index = path.join(patched, "index.js");
        fs.writeFileSync(
            index,
            `"use strict";\nError.prepareStackTrace = undefined; // bench p3x: V8's own stack formatting\n` +
                fs.readFileSync(index, "utf8").replace(/^"use strict";\n/, ""),
        );
        const ws = await workspace(root, binDir, `a${n}`, scaledStackYaml(lab.dir, n));
        const wsPatched = await workspace(root, patched, `b${n}`, scaledStackYaml(lab.dir, n));
        const variants = {
            mapped: { ws, env: { DCN_SOURCE_MAPPED_STACKS: "1" } },
            sdk_v8: { ws, env: {} },
            all_v8: { ws: wsPatched, env: {} },
        };
        const names = Object.keys(variants) as Array<keyof typeof variants>;
        const wall: Record<string, number[]> = {};
        const cpu: Record<string, number[]> = {};
        const mem: Record<string, number> = {};
        const loads: number[] = [];
        for (let i = 0; i < rounds; i++) {
            // Rotate the order so no variant always runs first.
            for (let j = 0; j < names.length; j++) {
                const v = names[(i + j) % names.length]!;
                loads.push(round(os.loadavg()[0]!, 2));
                const m = mustSucceed(
                    await measurePulumi(variants[v].ws, ["preview", "--non-interactive"], variants[v].env),
                    `preview ${v}`,
                );
                (wall[v] ??= []).push(round(m.wall_s));
                (cpu[v] ??= []).push(round(m.cpu_s));
                mem[v] = Math.max(mem[v] ?? 0, m.peak_rss_mb);
                log(`p3x round ${i}: ${v} ${round(m.wall_s)} s, cpu ${round(m.cpu_s)} s, load ${loads.at(-1)}`);
            }
        }
        const mean = (x: number[]) => x.reduce((p, q) => p + q, 0) / x.length;
        return {
            bench: "p3x",
            sites: n,
            mapped_s: wall.mapped,
            sdk_v8_s: wall.sdk_v8,
            all_v8_s: wall.all_v8,
            ratio_sdk_v8: round(mean(wall.sdk_v8!) / mean(wall.mapped!), 3),
            ratio_all_v8: round(mean(wall.all_v8!) / mean(wall.mapped!), 3),
            cpu_s: cpu,
            cpu_ratio_sdk_v8: round(mean(cpu.sdk_v8!) / mean(cpu.mapped!), 3),
            cpu_ratio_all_v8: round(mean(cpu.all_v8!) / mean(cpu.mapped!), 3),
            peak_rss_mb: mem,
            load1: [Math.min(...loads), Math.max(...loads)],
        };
    } finally {
        lab.stop();
        if (!process.env.BENCH_KEEP) fs.rmSync(root, { recursive: true, force: true });
    }
}

/** P4: SSH connections opened by one full `up` of the seed (fast scale: only counts matter). */
async function p4(): Promise<Record<string, unknown>> {
    const root = tmpRoot();
    const lab = await Lab.create(root, "lab-p4", 0.05);
    try {
        const binDir = buildProgram(path.join(root, "build"));
        const ws = await workspace(root, binDir, "bench", seedStackYaml(lab.dir));
        const c0 = lab.connections();
        const m = mustSucceed(
            await measurePulumi(ws, ["up", "--yes", "--non-interactive", "--skip-preview"], {}, { sshPort: lab.port }),
            "up",
        );
        const up = lab.connections() - c0;
        const entries = lab.log();
        const c1 = lab.connections();
        mustSucceed(await measurePulumi(ws, ["preview", "--non-interactive"]), "preview");
        const preview = lab.connections() - c1;
        const c2 = lab.connections();
        mustSucceed(await measurePulumi(ws, ["up", "--yes", "--non-interactive", "--skip-preview"]), "no-op up");
        const noop = lab.connections() - c2;
        // What each resource carries: the serialized dynamic provider (`__provider`) per type.
        const exported = JSON.parse((await ws.ok(["stack", "export"])).stdout) as {
            deployment: { resources: Array<{ type: string; inputs?: Record<string, unknown> }> };
        };
        const providerBytes: Record<string, number> = {};
        let stateBytes = 0;
        for (const r of exported.deployment.resources) {
            const p = r.inputs?.__provider;
            const text = typeof p === "string" ? p : p ? JSON.stringify(p) : "";
            if (text) providerBytes[r.type.split(":").pop()!] = text.length;
            stateBytes += JSON.stringify(r).length;
        }
        ws.dispose();
        return {
            bench: "p4",
            time_scale: 0.05,
            undercloud_commands: entries.length,
            ssh_connections_up: up,
            // Sampled every 100 ms with `ss -tnp`: which process held them (may miss a very short one).
            ssh_connections_up_by_process: m.sshConnsByProcess,
            ssh_connections_preview: preview,
            ssh_connections_noop_up: noop,
            provider_processes:
                m.procs["pulumi-resource-"] ??
                Object.entries(m.procs)
                    .filter(([k]) => k.startsWith("pulumi-resource"))
                    .reduce((a, [, v]) => a + v, 0),
            procs: m.procs,
            target: "1 per undercloud per provider process",
            state_bytes: stateBytes,
            provider_closure_bytes_per_resource: providerBytes,
        };
    } finally {
        lab.stop();
        if (!process.env.BENCH_KEEP) fs.rmSync(root, { recursive: true, force: true });
    }
}

/** `analyze <up-log.jsonl> [dcn sites, default dcn0,dcn1]`: the P1 figures of a saved command log. */
async function analyze(): Promise<Record<string, unknown>> {
    const [file, sites] = process.argv.slice(3);
    const dcns = sites ? sites.split(",") : SEED_DCNS;
    const entries = fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim().startsWith("{"))
        .map((l) => JSON.parse(l) as LogEntry);
    const durations = stepDurations(entries, CENTRAL);
    const steps = stepGraph(durations, CENTRAL, dcns);
    const lb = lowerBound(steps);
    // The provider trace of the same up, when saved beside the log (trace-up-<n>dcn.jsonl).
    const traceFile = path.join(path.dirname(file), path.basename(file).replace(/^up-/, "trace-up-"));
    const traced = fs.existsSync(traceFile) ? traceFigures(traceFile) : undefined;
    const chain = criticalChain(entries, steps, CENTRAL);
    return {
        bench: "analyze",
        file,
        chain: chain.map((l) => `${l.step} +${round(l.delay)}`),
        ...(traced ? { trace: traced.figures, validation_s: round(traced.validation) } : {}),
        lower_bound_s: round(lb.makespan),
        heat_order: lb.heatOrder,
        step_sum_s: round(sequentialSum(steps)),
        steps: Object.fromEntries([...durations].map(([k, v]) => [k, round(v)])),
        start_delays: Object.fromEntries(
            Object.entries(startDelays(entries, steps, CENTRAL)).map(([k, v]) => [k, round(v)]),
        ),
    };
}

/**
 * Peak memory of a lab while `fn` runs: every second, the RSS of the processes of the lab
 * undercloud's sessions (tripleoclient, its ephemeral heat-all, Ansible, the lab's CLI), of its
 * Ceph daemons and glance-api processes (everything whose environment names the lab's dir).
 */
async function sampleLabMemory<T>(
    labDir: string,
    fn: () => Promise<T>,
): Promise<{ value: T; peakMb: number; peakHeatMb: number }> {
    const marker = Buffer.from(`LAB_DIR=${path.resolve(labDir)}\0`);
    let peak = 0;
    let peakHeat = 0;
    const rssKb = (pid: string) => {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : 0;
    };
    const sample = () => {
        let sum = 0;
        for (const d of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(d)) continue;
            try {
                if (!fs.readFileSync(`/proc/${d}/environ`).includes(marker)) continue;
                const kb = rssKb(d);
                sum += kb;
                if (fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes("heat-all"))
                    peakHeat = Math.max(peakHeat, kb);
            } catch {
                // gone
            }
        }
        peak = Math.max(peak, sum);
    };
    const timer = setInterval(sample, 1000);
    try {
        const value = await fn();
        return { value, peakMb: Math.round(peak / 1024), peakHeatMb: Math.round(peakHeat / 1024) };
    } finally {
        clearInterval(timer);
    }
}

/**
 * `real`: the seed deploy through REAL tripleoclient + THT + ephemeral Heat (lab/tripleo): wall time,
 * each stack's Heat phase (`--stack-only`) and config-download phase, the lower bound from this
 * run's own step durations (bench/critical-path.ts: one Heat at a time), and the lab's peak memory.
 * No sequential replay: it would cost another full set of real Heat stacks.
 */
async function real(): Promise<Record<string, unknown>> {
    process.env.LAB_TRIPLEO = "real";
    const root = tmpRoot();
    const lab = await Lab.create(root, "lab-real", TIME_SCALE);
    try {
        const binDir = buildProgram(path.join(root, "build"));
        const { value, peakMb, peakHeatMb } = await sampleLabMemory(lab.dir, () =>
            fullUp(root, lab, binDir, seedStackYaml(lab.dir), SEED_DCNS),
        );
        const { ws, fig, entries } = value;
        const phase = (flag: string) =>
            Object.fromEntries(
                entries
                    .filter((e) => e.argv[2] === "deploy" && e.argv.includes(flag) && e.exit === 0 && e.end)
                    .map((e) => [e.stack ?? "?", round((Date.parse(e.end!) - Date.parse(e.start)) / 1000)]),
            );
        ws.dispose();
        return {
            bench: "real",
            time_scale: TIME_SCALE,
            ...fig,
            heat_phase_s: phase("--stack-only"),
            config_download_phase_s: phase("--config-download-only"),
            ratio_lb: round(fig.wall_s / fig.lower_bound_s, 3),
            ratio_lb_with_validation: round(fig.wall_s / fig.lower_bound_with_validation_s, 3),
            lab_peak_rss_mb: peakMb,
            heat_all_peak_rss_mb: peakHeatMb,
        };
    } finally {
        lab.stop();
        if (!process.env.BENCH_KEEP) fs.rmSync(root, { recursive: true, force: true });
    }
}

const benches: Record<string, () => Promise<Record<string, unknown>>> = { p1, p2, p3, p3x, p4, analyze, real };

async function main() {
    const which = process.argv[2] ?? "";
    const names = which === "all" ? ["p1", "p3", "p4", "p2"] : [which];
    if (!names.every((n) => n in benches)) {
        console.error("usage: tsx bench/run.ts <p1|p2|p3|p4|real|all>");
        process.exit(2);
    }
    let failed = false;
    for (const n of names) {
        try {
            const r = await benches[n]();
            console.log(JSON.stringify(r));
        } catch (e) {
            failed = true;
            log(`${n} failed: ${(e as Error).stack ?? e}`);
            console.log(JSON.stringify({ bench: n, error: String((e as Error).message ?? e).slice(0, 2000) }));
        }
    }
    process.exit(failed ? 1 : 0);
}

void main();
