/**
 * Pure helpers of the benchmarks: turn a lab command log into the deployment's step graph and
 * compute its lower bound (critical path with the one-Heat-at-a-time rule) and its sequential time.
 *
 * Step graph (issue "Benchmarks", P1/P2):
 *   per site: metal → ceph; all ceph → exports (DCN sites' ceph export); central ceph → central ceph export;
 *   exports + central ceph → central Heat → central config-download → central export
 *   → per DCN (also after the central ceph export): Heat → config-download. Heat phases never overlap (one ephemeral Heat).
 * Durations are the measured ones (end − start of the lab commands of the step, summed when a step
 * is several commands run one after the other).
 */

export interface LogEntry {
    start: string;
    end: string | null;
    argv: string[];
    stack: string | null;
    exit: number | null;
    mutating?: boolean;
}

export interface Step {
    id: string;
    /** Seconds. */
    duration: number;
    deps: string[];
    /** Uses the single ephemeral Heat: never overlaps another heat step. */
    heat?: boolean;
}

export interface Schedule {
    makespan: number;
    start: Record<string, number>;
    heatOrder: string[];
    /** True when every admissible Heat order was tried (else the tail-first rule). */
    exact: boolean;
}

/** Words after the tool, e.g. `overcloud node provision`. */
export const sub = (e: LogEntry, n = 3) => e.argv.slice(1, 1 + n).join(" ");

/** The stack(s) a command is about: the log's `stack`, else `--stack X`, else the deploy's `--stack`. */
export function stackOf(e: LogEntry): string | null {
    if (e.stack) return e.stack;
    const i = e.argv.indexOf("--stack");
    return i >= 0 ? (e.argv[i + 1] ?? null) : null;
}

export function seconds(e: LogEntry): number {
    if (!e.end) throw new Error(`command still running or killed: ${e.argv.join(" ")}`);
    return (Date.parse(e.end) - Date.parse(e.start)) / 1000;
}

/** The site a stack-less command works for, from a path of its own under the work root (`…/dcn/<site>/…`). */
export function siteOfPaths(e: LogEntry, workRoot = "dcn"): string | null {
    for (const a of e.argv) {
        const m = new RegExp(`/${workRoot}/([A-Za-z0-9_-]+)/`).exec(a);
        if (m) return m[1];
    }
    return null;
}

/** Which step a command belongs to, or null for reads, bookkeeping and the post-deploy validation. */
export function stepOf(e: LogEntry, central: string): string | null {
    const words = sub(e, 4);
    if (e.argv[0] !== "openstack") return null;
    const s = stackOf(e) ?? (/^overcloud (roles generate|network provision)/.test(words) ? siteOfPaths(e) : null);
    if (/^overcloud (roles generate|network provision|network vip provision|node provision)/.test(words)) {
        return s ? `metal:${s}` : null;
    }
    if (words.startsWith("overcloud ceph deploy")) return s ? `ceph:${s}` : null;
    if (words.startsWith("overcloud export ceph")) return s === central ? "central-ceph-export" : "exports";
    if (words.startsWith("overcloud export"))
        return s === central || e.argv.includes(central) ? "central-export" : null;
    if (words.startsWith("overcloud deploy")) {
        if (!s) return null;
        if (e.argv.includes("--stack-only")) return `heat:${s}`;
        if (e.argv.includes("--config-download-only") || e.argv.includes("--setup-only")) return `config:${s}`;
        // A full deploy is both phases in one command: counted as Heat (the conservative choice).
        return `heat:${s}`;
    }
    return null;
}

/** Sum of the durations of the successful commands of each step (they run one after the other). */
export function stepDurations(log: LogEntry[], central: string): Map<string, number> {
    const d = new Map<string, number>();
    for (const e of log) {
        if (e.exit !== 0) continue;
        const id = stepOf(e, central);
        if (!id) continue;
        d.set(id, (d.get(id) ?? 0) + seconds(e));
    }
    return d;
}

/** The step graph of one central site and its DCN sites, with measured durations (0 when absent). */
export function stepGraph(durations: Map<string, number>, central: string, dcns: string[]): Step[] {
    const dur = (id: string) => durations.get(id) ?? 0;
    const sites = [central, ...dcns];
    const steps: Step[] = [];
    for (const s of sites) {
        steps.push({ id: `metal:${s}`, duration: dur(`metal:${s}`), deps: [] });
        steps.push({ id: `ceph:${s}`, duration: dur(`ceph:${s}`), deps: [`metal:${s}`] });
    }
    steps.push({ id: "exports", duration: dur("exports"), deps: sites.map((s) => `ceph:${s}`) });
    // Central's own Ceph export is consumed by the DCN deploys only.
    steps.push({ id: "central-ceph-export", duration: dur("central-ceph-export"), deps: [`ceph:${central}`] });
    steps.push({
        id: `heat:${central}`,
        duration: dur(`heat:${central}`),
        deps: ["exports", `ceph:${central}`],
        heat: true,
    });
    steps.push({ id: `config:${central}`, duration: dur(`config:${central}`), deps: [`heat:${central}`] });
    steps.push({ id: "central-export", duration: dur("central-export"), deps: [`config:${central}`] });
    for (const s of dcns) {
        steps.push({
            id: `heat:${s}`,
            duration: dur(`heat:${s}`),
            deps: ["central-export", "central-ceph-export"],
            heat: true,
        });
        steps.push({ id: `config:${s}`, duration: dur(`config:${s}`), deps: [`heat:${s}`] });
    }
    return steps;
}

function topo(steps: Step[]): Step[] {
    const byId = new Map(steps.map((s) => [s.id, s]));
    const out: Step[] = [];
    const state = new Map<string, 1 | 2>();
    const visit = (s: Step) => {
        const st = state.get(s.id);
        if (st === 2) return;
        if (st === 1) throw new Error(`cycle at ${s.id}`);
        state.set(s.id, 1);
        for (const d of s.deps) {
            const dep = byId.get(d);
            if (!dep) throw new Error(`${s.id}: unknown dependency ${d}`);
            visit(dep);
        }
        state.set(s.id, 2);
        out.push(s);
    };
    steps.forEach(visit);
    return out;
}

/** Earliest start of every step given a fixed order of the heat steps (they run one at a time). */
export function scheduleWithHeatOrder(
    steps: Step[],
    heatOrder: string[],
): { makespan: number; start: Record<string, number> } {
    const byId = new Map(steps.map((s) => [s.id, s]));
    const finish = new Map<string, number>();
    const start: Record<string, number> = {};
    // Each heat step also depends on the previous one in the order.
    const extra = new Map<string, string>();
    heatOrder.forEach((id, i) => i > 0 && extra.set(id, heatOrder[i - 1]));
    const pending = new Set(steps.map((s) => s.id));
    while (pending.size > 0) {
        let progressed = false;
        for (const id of [...pending]) {
            const s = byId.get(id)!;
            const deps = [...s.deps, ...(extra.has(id) ? [extra.get(id)!] : [])];
            if (!deps.every((d) => finish.has(d))) continue;
            const t0 = Math.max(0, ...deps.map((d) => finish.get(d)!));
            start[id] = t0;
            finish.set(id, t0 + s.duration);
            pending.delete(id);
            progressed = true;
        }
        if (!progressed) throw new Error(`heat order ${heatOrder.join(",")} contradicts the dependencies`);
    }
    return { makespan: Math.max(0, ...finish.values()), start };
}

/** Longest path from each step's end to the end of the graph, ignoring the Heat rule. */
function tails(steps: Step[]): Map<string, number> {
    const order = topo(steps).reverse();
    const tail = new Map<string, number>();
    const children = new Map<string, Step[]>();
    for (const s of steps) for (const d of s.deps) children.set(d, [...(children.get(d) ?? []), s]);
    for (const s of order) {
        tail.set(s.id, Math.max(0, ...(children.get(s.id) ?? []).map((c) => c.duration + tail.get(c.id)!)));
    }
    return tail;
}

/**
 * Lower bound: the shortest makespan over all admissible orders of the heat steps (exact up to
 * `exactLimit` heat steps; beyond, the rule "the ready heat step with the longest tail first",
 * which is optimal when the remaining heat steps are released together, as the DCN ones are).
 */
export function lowerBound(steps: Step[], exactLimit = 8): Schedule {
    const heat = steps.filter((s) => s.heat);
    const byId = new Map(steps.map((s) => [s.id, s]));
    // Heat steps that must precede another heat step through the graph.
    const ancestors = (id: string, acc = new Set<string>()): Set<string> => {
        for (const d of byId.get(id)!.deps) {
            if (!acc.has(d)) {
                acc.add(d);
                ancestors(d, acc);
            }
        }
        return acc;
    };
    const heatBefore = new Map(heat.map((h) => [h.id, [...ancestors(h.id)].filter((a) => byId.get(a)!.heat)]));
    if (heat.length <= exactLimit) {
        let best: Schedule | undefined;
        const rec = (order: string[]) => {
            if (order.length === heat.length) {
                const r = scheduleWithHeatOrder(steps, order);
                if (!best || r.makespan < best.makespan) best = { ...r, heatOrder: [...order], exact: true };
                return;
            }
            for (const h of heat) {
                if (order.includes(h.id)) continue;
                if (!heatBefore.get(h.id)!.every((a) => order.includes(a))) continue;
                order.push(h.id);
                rec(order);
                order.pop();
            }
        };
        rec([]);
        return best ?? { ...scheduleWithHeatOrder(steps, []), heatOrder: [], exact: true };
    }
    const tail = tails(steps);
    const order: string[] = [];
    while (order.length < heat.length) {
        const ready = heat.filter(
            (h) => !order.includes(h.id) && heatBefore.get(h.id)!.every((a) => order.includes(a)),
        );
        ready.sort((a, b) => tail.get(b.id)! - tail.get(a.id)! || a.id.localeCompare(b.id));
        order.push(ready[0].id);
    }
    return { ...scheduleWithHeatOrder(steps, order), heatOrder: order, exact: false };
}

/**
 * Per step of the log's successful commands: its first start and last end (ms) and the seconds its
 * commands were running.
 */
export function stepSpans(
    log: LogEntry[],
    central: string,
): { first: Map<string, number>; last: Map<string, number>; busy: Map<string, number> } {
    const first = new Map<string, number>();
    const last = new Map<string, number>();
    const busy = new Map<string, number>();
    for (const e of log) {
        if (e.exit !== 0 || !e.end) continue;
        const id = stepOf(e, central);
        if (!id) continue;
        const a = Date.parse(e.start);
        const b = Date.parse(e.end);
        first.set(id, Math.min(first.get(id) ?? a, a));
        last.set(id, Math.max(last.get(id) ?? b, b));
        busy.set(id, (busy.get(id) ?? 0) + (b - a) / 1000);
    }
    return { first, last, busy };
}

/**
 * How late each step started after its dependencies had finished (seconds), from the log: the
 * time the tool (Pulumi, the providers, polling) added between steps. Heat steps waiting for the
 * previous Heat phase count that wait as a dependency.
 */
export function startDelays(log: LogEntry[], steps: Step[], central: string): Record<string, number> {
    const { first, last } = stepSpans(log, central);
    const heatDone = steps.filter((s) => s.heat && last.has(s.id));
    const byId = new Map(steps.map((s) => [s.id, s]));
    // A step with no command of its own (e.g. an export read from a file) ends when its deps end.
    const endOf = (id: string): number => last.get(id) ?? Math.max(-Infinity, ...(byId.get(id)?.deps ?? []).map(endOf));
    const out: Record<string, number> = {};
    for (const s of steps) {
        const t = first.get(s.id);
        if (t === undefined) continue;
        const ready = [
            ...s.deps.map(endOf),
            ...(s.heat
                ? heatDone.filter((h) => h.id !== s.id && last.get(h.id)! <= t).map((h) => last.get(h.id)!)
                : []),
        ];
        const r = Math.max(...ready);
        if (Number.isFinite(r)) out[s.id] = (t - r) / 1000;
    }
    return out;
}

/** Critical path ignoring the Heat rule (a looser bound, reported for comparison). */
export function criticalPath(steps: Step[]): number {
    const finish = new Map<string, number>();
    for (const s of topo(steps)) finish.set(s.id, Math.max(0, ...s.deps.map((d) => finish.get(d)!)) + s.duration);
    return Math.max(0, ...finish.values());
}

/** The seed's sequential order: metal ×N, ceph ×N, exports, central (Heat, config), export, each DCN. */
export function sequentialOrder(central: string, dcns: string[]): string[] {
    const sites = [central, ...dcns];
    return [
        ...sites.map((s) => `metal:${s}`),
        ...sites.map((s) => `ceph:${s}`),
        "exports",
        "central-ceph-export",
        `heat:${central}`,
        `config:${central}`,
        "central-export",
        ...dcns.flatMap((s) => [`heat:${s}`, `config:${s}`]),
    ];
}

/** Sum of the step durations (the sequential time predicted from the same durations). */
export function sequentialSum(steps: Step[]): number {
    return steps.reduce((a, s) => a + s.duration, 0);
}

/** One step of the run's actual critical chain: its span in the log and how late it started. */
export interface ChainLink {
    step: string;
    /** Epoch ms of its first command's start / last command's end. */
    start: number;
    end: number;
    /** Sum of its commands' durations (s): what the lower bound counts. */
    busy: number;
    /** Seconds between the end of the link before it (its latest dependency) and its start. */
    delay: number;
}

/**
 * The run's actual critical chain: from the step that ended last, back through the dependency (or,
 * for a Heat step, the Heat phase before it) that ended last before it started. Where the wall time
 * beyond the lower bound went is then: before the chain's first command, each link's `delay`
 * (hand-over: polling, SSH execs, the engine), each link's span minus `busy` (gaps between the
 * commands of one step) and what follows the last link.
 */
export function criticalChain(log: LogEntry[], steps: Step[], central: string): ChainLink[] {
    const { first, last, busy } = stepSpans(log, central);
    const byId = new Map(steps.map((s) => [s.id, s]));
    const ran = steps.filter((s) => last.has(s.id));
    if (ran.length === 0) return [];
    // A step without commands of its own is skipped through to its dependencies.
    const preds = (s: Step): Step[] => {
        const out: Step[] = [];
        for (const d of s.deps) {
            const dep = byId.get(d);
            if (!dep) continue;
            out.push(...(last.has(d) ? [dep] : preds(dep)));
        }
        if (s.heat) {
            const t = first.get(s.id)!;
            out.push(...ran.filter((h) => h.heat && h.id !== s.id && last.get(h.id)! <= t));
        }
        return out;
    };
    let cur = ran.reduce((a, b) => (last.get(b.id)! > last.get(a.id)! ? b : a));
    const chain: ChainLink[] = [];
    for (;;) {
        const ps = preds(cur).filter((p) => last.get(p.id)! <= first.get(cur.id)! + 1);
        const prev = ps.length ? ps.reduce((a, b) => (last.get(b.id)! > last.get(a.id)! ? b : a)) : undefined;
        chain.unshift({
            step: cur.id,
            start: first.get(cur.id)!,
            end: last.get(cur.id)!,
            busy: busy.get(cur.id)!,
            delay: prev ? (first.get(cur.id)! - last.get(prev.id)!) / 1000 : 0,
        });
        if (!prev) break;
        cur = prev;
    }
    return chain;
}
