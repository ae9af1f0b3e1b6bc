// npm run timeline [-- [--stack <name>] [--run <id>|--list] [-o <file.png>]]: the last Pulumi run
// (or the one named) as a chart: one row per site and step, a bar per phase over time (the Heat
// lock's waits hatched grey), the critical path outlined in red. From the timings the program
// records (`logs/<stack>/timeline.jsonl`, providers/remote/report.ts), not from the lab: it works
// for a real undercloud too. Drawn by graphviz (`neato -n2`, positions in points) into a PNG,
// by default `logs/<stack>/timeline.png`.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { formatDuration } from "../providers/remote/progress";
import type { StepTiming } from "../providers/remote/report";

const WAIT = " waiting for the lock";

/** The runs of a timeline.jsonl, oldest first, each with its steps by start time. */
export function readRuns(text: string): Array<{ run: string; steps: StepTiming[] }> {
    const runs = new Map<string, StepTiming[]>();
    for (const line of text.split("\n")) {
        if (!line.trim()) continue;
        let t: StepTiming;
        try {
            t = JSON.parse(line) as StepTiming;
        } catch {
            continue; // a line cut short by a killed provider
        }
        if (typeof t.run !== "string" || !Array.isArray(t.phases)) continue;
        runs.set(t.run, [...(runs.get(t.run) ?? []), t]);
    }
    return [...runs.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([run, steps]) => ({ run, steps: steps.sort((a, b) => a.start - b.start) }));
}

/** A phase on the chart: its step's index and its own. */
export interface PhaseRef {
    step: number;
    phase: number;
}

/**
 * The critical path: from the phase that ended last, back through what it waited for, and so on.
 * The timings carry no dependency edges, so "waited for" is read from time: among the phases that
 * ended just before this one started (within `slackMs`) the previous phase of the same step wins,
 * then one of the same site (a site's Ceph after its metal), then the one that ended last; when
 * none ended that close, the one that ended last before it. Lock waits are never on it (the Heat
 * phase that held the lock is). Returned in time order.
 */
export function criticalPath(steps: readonly StepTiming[], slackMs = 1500): PhaseRef[] {
    // `start`: when the phase could start. A step's first phase: when the step started (what it
    // waited for ended then; the time before its first phase is the step's own setup).
    type P = PhaseRef & { start: number; end: number; site: string };
    const all: P[] = [];
    steps.forEach((s, i) =>
        s.phases.forEach((p, j) => {
            if (!p.phase.endsWith(WAIT))
                all.push({ step: i, phase: j, start: j === 0 ? s.start : p.start, end: p.end, site: s.site });
        }),
    );
    if (all.length === 0) return [];
    const latest = (ps: P[]) => ps.reduce((a, b) => (b.end > a.end ? b : a));
    let cur = latest(all);
    const path = [cur];
    for (;;) {
        const c = cur;
        const before = all.filter((p) => p !== c && p.end <= c.start + slackMs && p.start < c.start);
        if (before.length === 0) break;
        const near = before.filter((p) => p.end >= c.start - slackMs);
        const sameStep = near.filter((p) => p.step === c.step);
        const sameSite = near.filter((p) => p.site === c.site);
        cur = latest(sameStep.length > 0 ? sameStep : sameSite.length > 0 ? sameSite : near.length > 0 ? near : before);
        path.push(cur);
    }
    return path.reverse().map(({ step, phase }) => ({ step, phase }));
}

/** Rows of the chart: steps grouped by site (sites in the order they started), each by start. */
export function rows(steps: readonly StepTiming[]): number[] {
    const firstStart = new Map<string, number>();
    for (const s of steps) firstStart.set(s.site, Math.min(firstStart.get(s.site) ?? Infinity, s.start));
    return steps
        .map((_, i) => i)
        .sort((a, b) => {
            const sa = steps[a];
            const sb = steps[b];
            return (
                firstStart.get(sa.site)! - firstStart.get(sb.site)! ||
                sa.site.localeCompare(sb.site) ||
                sa.start - sb.start
            );
        });
}

const COLORS: Array<[RegExp, string]> = [
    [/waiting for the lock$/, "#dddddd"],
    [/^Heat$/, "#e67e22"],
    [/^config-download$/, "#3498db"],
    [/^ceph/, "#9b59b6"],
    [/^(network|VIP|nodes|roles)$/, "#27ae60"],
    [/^export/, "#16a085"],
    [/^(delete|unprovision|network delete|scale-in|clean disks)$/, "#7f8c8d"],
];
const colorOf = (phase: string) => COLORS.find(([re]) => re.test(phase))?.[1] ?? "#95a5a6";
const q = (s: string) => `"${s.replace(/["\\]/g, "\\$&")}"`;

/** A "nice" tick step (ms) giving at most ~12 ticks over `span`. */
export function tickStep(span: number): number {
    const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
    return steps.find((s) => span / s <= 12) ?? 7200 * 1000;
}

/** The chart as graphviz DOT for `neato -n2` (every node placed; positions in points). */
export function timelineDot(run: string, steps: readonly StepTiming[], title = ""): string {
    const t0 = Math.min(...steps.map((s) => s.start));
    const t1 = Math.max(...steps.map((s) => s.end));
    const span = Math.max(1, t1 - t0);
    const W = 1000;
    const LEFT = 170;
    const ROW = 24;
    const order = rows(steps);
    const top = (order.length + 1) * ROW + 30;
    const x = (t: number) => LEFT + ((t - t0) / span) * W;
    const critical = new Set(criticalPath(steps).map((r) => `${r.step}/${r.phase}`));
    const out = [
        "digraph timeline {",
        "  graph [bgcolor=white, pad=0.2, splines=false];",
        '  node [shape=box, style=filled, fixedsize=true, fontname="Helvetica", fontsize=9, penwidth=0.5, color="#555555"];',
    ];
    let n = 0;
    const node = (attrs: string) => out.push(`  n${n++} [${attrs}];`);
    const box = (cx: number, cy: number, w: number, h: number, extra: string) =>
        node(
            `pos="${cx.toFixed(1)},${cy.toFixed(1)}!", width=${(w / 72).toFixed(3)}, height=${(h / 72).toFixed(3)}, ${extra}`,
        );
    const wall = formatDuration(span);
    node(
        `shape=plaintext, style="", fixedsize=false, fontsize=12, label=${q(`${title}run ${run}: ${wall} wall; critical path outlined in red`)}, pos="${LEFT + W / 2},${top + 10}!"`,
    );
    order.forEach((i, row) => {
        const s = steps[i];
        const cy = top - (row + 1) * ROW;
        node(
            `shape=plaintext, style="", fixedsize=false, fontsize=10, label=${q(`${s.site} ${s.step}${s.ok ? "" : " (failed)"}`)}, pos="${LEFT - 80},${cy}!"`,
        );
        // The whole step (time outside its phases: SSH, file writes, housekeeping) behind its phases.
        box(
            (x(s.start) + x(s.end)) / 2,
            cy,
            Math.max(1, x(s.end) - x(s.start)),
            ROW - 12,
            `label="", fillcolor="#f4f4f4", color="#bbbbbb"`,
        );
        s.phases.forEach((p, j) => {
            const w = Math.max(1, x(p.end) - x(p.start));
            const label = w > p.phase.length * 5.2 + 4 ? p.phase : "";
            const crit = critical.has(`${i}/${j}`) ? ', color="#c0392b", penwidth=2.5' : "";
            const dashed = p.phase.endsWith(WAIT) ? 'style="filled,dashed", ' : "";
            box(
                (x(p.start) + x(p.end)) / 2,
                cy,
                w,
                ROW - 6,
                `${dashed}label=${q(label)}, fillcolor="${colorOf(p.phase)}"${crit}`,
            );
        });
    });
    const tick = tickStep(span);
    for (let t = 0; t <= span; t += tick) {
        node(
            `shape=plaintext, style="", fixedsize=false, fontsize=9, label=${q(formatDuration(t))}, pos="${x(t0 + t).toFixed(1)},${top - (order.length + 1) * ROW}!"`,
        );
        box(
            x(t0 + t),
            top - ((order.length + 1) * ROW) / 2 - ROW / 4,
            0.5,
            order.length * ROW + ROW / 2,
            `label="", fillcolor="#e0e0e0", color="#e0e0e0"`,
        );
    }
    // Grid lines first, so the bars are drawn over them.
    const body = out.slice(3);
    const grid = body.filter((l) => l.includes('fillcolor="#e0e0e0"'));
    return [...out.slice(0, 3), ...grid, ...body.filter((l) => !grid.includes(l)), "}"].join("\n") + "\n";
}

interface Args {
    stack: string;
    run?: string;
    list: boolean;
    out?: string;
}

export function parseArgs(argv: readonly string[]): Args {
    const a: Args = { stack: process.env.STACK ?? "dev", list: false };
    for (let i = 0; i < argv.length; i++) {
        const v = argv[i];
        if (v === "--stack" && argv[i + 1]) a.stack = argv[++i];
        else if (v === "--run" && argv[i + 1]) a.run = argv[++i];
        else if (v === "--list") a.list = true;
        else if ((v === "-o" || v === "--output") && argv[i + 1]) a.out = argv[++i];
        else
            throw new Error(
                `unknown argument ${JSON.stringify(v)} (usage: npm run timeline -- [--stack <name>] [--run <id>|--list] [-o <file.png>])`,
            );
    }
    return a;
}

function main(): number {
    const args = parseArgs(process.argv.slice(2));
    const root = process.env.DCN_LOG_DIR ?? path.resolve(__dirname, "..", "logs");
    const file = path.join(root, args.stack, "timeline.jsonl");
    if (!fs.existsSync(file)) {
        process.stderr.write(`no timings of stack ${args.stack} yet (${file}): run pulumi up first\n`);
        return 1;
    }
    const runs = readRuns(fs.readFileSync(file, "utf8"));
    if (args.list) {
        for (const r of runs) {
            const wall = Math.max(...r.steps.map((s) => s.end)) - Math.min(...r.steps.map((s) => s.start));
            process.stdout.write(`${r.run}  ${r.steps.length} steps  ${formatDuration(wall)}\n`);
        }
        return 0;
    }
    const chosen = args.run ? runs.find((r) => r.run === args.run) : runs[runs.length - 1];
    if (!chosen) {
        process.stderr.write(`no run ${args.run} in ${file} (npm run timeline -- --list)\n`);
        return 1;
    }
    const out = path.resolve(args.out ?? path.join(root, args.stack, "timeline.png"));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const r = spawnSync("neato", ["-n2", "-Tpng", "-o", out], {
        input: timelineDot(chosen.run, chosen.steps, `stack ${args.stack}, `),
        encoding: "utf8",
    });
    if (r.error || r.status !== 0) {
        process.stderr.write(`graphviz neato failed: ${r.error?.message ?? r.stderr}\n`);
        return 1;
    }
    process.stdout.write(`${out}\n`);
    return 0;
}

if (require.main === module) {
    try {
        process.exit(main());
    } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
        process.exit(2);
    }
}
