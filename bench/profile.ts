/**
 * Summary of V8 .cpuprofile files (node --cpu-prof): per process, wall span, self time by
 * category (closure serialization, gRPC, SSH, YAML, zod, our code, GC, idle) and the functions with
 * the largest inclusive time (outermost frame only, so recursion is not counted twice).
 */
import * as fs from "node:fs";
import * as path from "node:path";

interface ProfNode {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    hitCount?: number;
    children?: number[];
}
interface Profile {
    nodes: ProfNode[];
    startTime: number;
    endTime: number;
    samples: number[];
    timeDeltas: number[];
}

export function category(url: string, fn: string): string {
    if (fn === "(garbage collector)") return "gc";
    if (fn === "(idle)") return "idle";
    if (fn === "(program)") return "v8-program";
    if (/@pulumi\/pulumi\/runtime\/closure\//.test(url)) return "pulumi-closure-serialization";
    if (/@pulumi\/pulumi\/dynamic\//.test(url)) return "pulumi-dynamic";
    if (/@grpc|google-protobuf|protobufjs/.test(url)) return "grpc-protobuf";
    if (/@pulumi\/pulumi\/(runtime|resource|output|provider)/.test(url)) return "pulumi-runtime";
    if (/@pulumi\/pulumi\//.test(url)) return "pulumi-other";
    if (/typescript\//.test(url)) return "typescript (closure parsing)";
    if (/ssh2|cpu-features/.test(url)) return "ssh2";
    if (/node_modules\/yaml\//.test(url)) return "yaml";
    if (/node_modules\/zod\//.test(url)) return "zod";
    if (/\/bin\/providers\//.test(url) || /\/providers\//.test(url)) return "our-providers";
    if (/\/bin\/(components|index)/.test(url)) return "our-program";
    if (/node_modules/.test(url)) return `other:${url.split("node_modules/").pop()!.split("/")[0]}`;
    if (url.startsWith("node:") || url === "") return "node-internals";
    return "other";
}

export interface ProfileSummary {
    file: string;
    role: string;
    span_s: number;
    self_ms_by_category: Record<string, number>;
    top_inclusive_ms: Array<[string, number]>;
}

function summarize(file: string): ProfileSummary {
    const p = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    for (let i = 0; i < p.samples.length; i++) {
        self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
    }
    const cats: Record<string, number> = {};
    for (const n of p.nodes) {
        const ms = self.get(n.id) ?? 0;
        if (!ms) continue;
        const c = category(n.callFrame.url, n.callFrame.functionName);
        cats[c] = (cats[c] ?? 0) + ms;
    }
    // Inclusive time per function name (outermost occurrence on each path).
    const incl = new Map<string, number>();
    const total = (id: number): number => {
        const n = byId.get(id)!;
        return (self.get(id) ?? 0) + (n.children ?? []).reduce((a, c) => a + total(c), 0);
    };
    const totals = new Map<number, number>();
    const fill = (id: number): number => {
        const n = byId.get(id)!;
        const t = (self.get(id) ?? 0) + (n.children ?? []).reduce((a, c) => a + fill(c), 0);
        totals.set(id, t);
        return t;
    };
    const root = p.nodes[0].id;
    fill(root);
    void total;
    const walk = (id: number, onPath: Set<string>) => {
        const n = byId.get(id)!;
        const f = n.callFrame;
        const key = `${f.functionName || "(anonymous)"} ${path.basename(f.url)}:${f.lineNumber + 1}`;
        const fresh = !onPath.has(key);
        if (fresh && !f.functionName.startsWith("(")) incl.set(key, (incl.get(key) ?? 0) + totals.get(id)!);
        if (fresh) onPath.add(key);
        for (const c of n.children ?? []) walk(c, onPath);
        if (fresh) onPath.delete(key);
    };
    walk(root, new Set());
    const urls = p.nodes.map((n) => n.callFrame.url);
    const role = urls.some((u) => /\/bin\/index\.js$/.test(u))
        ? "program (language host)"
        : urls.some((u) => /dynamic-provider|dynamic\/provider/.test(u) || /ssh2/.test(u))
          ? "dynamic provider"
          : "other node process";
    const r1 = (x: number) => Math.round(x);
    return {
        file: path.basename(file),
        role,
        span_s: Math.round((p.endTime - p.startTime) / 1e4) / 100,
        self_ms_by_category: Object.fromEntries(
            Object.entries(cats)
                .sort((a, b) => b[1] - a[1])
                .map(([k, v]) => [k, r1(v)]),
        ),
        top_inclusive_ms: [...incl]
            .filter(([k]) => !/^\(anonymous\) :0$/.test(k))
            .sort((a, b) => b[1] - a[1])
            .slice(0, 25)
            .map(([k, v]) => [k, r1(v)] as [string, number]),
    };
}

export function summarizeProfiles(dir: string): ProfileSummary[] {
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => summarize(path.join(dir, f)))
        .sort((a, b) => b.span_s - a.span_s);
}

if (require.main === module) {
    console.log(JSON.stringify(summarizeProfiles(process.argv[2]), null, 2));
}
