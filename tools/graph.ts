// The resource graph `npm run graph` draws (scripts/graph.sh): `pulumi stack graph`'s DOT with
// every resource that has no dependency edge left out (the stack, the providers, the site
// components: with parent edges ignored they float unconnected) and the rest grouped in one box
// per site. The sites are the program's own record (the `sites` stack output), not a second copy
// of the naming rules: a resource belongs to the site whose name is the longest prefix of its own
// (`<site>` or `<site>-…`); one that matches none stays outside the boxes.
//
// Usage: tsx tools/graph.ts <graph.dot> <site> [<site> …]   (the DOT goes to stdout)
import * as fs from "node:fs";

const NODE = /^\s*(\S+) \[label="([^"]*)"\];\s*$/;
const EDGE = /^\s*(\S+) -> (\S+)( \[.*\])?;\s*$/;

/** The site a resource name belongs to: the longest site name it is or starts with `<site>-`. */
export function siteOf(resource: string, sites: readonly string[]): string | undefined {
    return [...sites].sort((a, b) => b.length - a.length).find((s) => resource === s || resource.startsWith(`${s}-`));
}

const quote = (s: string) => `"${s.replace(/["\\]/g, "\\$&")}"`;

/**
 * `pulumi stack graph` DOT (one `Id [label="name"];` line per resource, `A -> B [...]` per
 * dependency) → the same graph without unconnected resources, one `cluster_<site>` box per site.
 * `fragment` lines (graph attributes) go first.
 */
export function clusterBySite(dot: string, sites: readonly string[], fragment: readonly string[] = []): string {
    const labels = new Map<string, string>();
    const edges: string[] = [];
    const connected = new Set<string>();
    for (const line of dot.split("\n")) {
        const e = EDGE.exec(line);
        if (e) {
            edges.push(line.trim());
            connected.add(e[1]).add(e[2]);
            continue;
        }
        const n = NODE.exec(line);
        if (n) labels.set(n[1], n[2]);
    }
    const bySite = new Map<string, string[]>();
    const loose: string[] = [];
    for (const [id, label] of labels) {
        if (!connected.has(id)) continue;
        const line = `${id} [label=${quote(label)}];`;
        const site = siteOf(label, sites);
        if (site === undefined) loose.push(line);
        else bySite.set(site, [...(bySite.get(site) ?? []), line]);
    }
    const out = ["strict digraph {", ...fragment.map((f) => `    ${f}`)];
    for (const site of sites) {
        const nodes = bySite.get(site);
        if (!nodes) continue;
        out.push(`    subgraph ${quote(`cluster_${site}`)} {`, `        label=${quote(site)};`);
        out.push(...nodes.sort().map((n) => `        ${n}`), "    }");
    }
    out.push(...loose.sort().map((n) => `    ${n}`), ...edges.map((e) => `    ${e}`), "}");
    return out.join("\n") + "\n";
}

if (require.main === module) {
    const [file, ...sites] = process.argv.slice(2);
    if (!file || sites.length === 0) {
        process.stderr.write("usage: tsx tools/graph.ts <graph.dot> <site> [<site> …]\n");
        process.exit(2);
    }
    const fragment = [
        "rankdir=LR;",
        'node [shape=box, fontname="Helvetica", fontsize=10];',
        'graph [fontname="Helvetica", fontsize=11, style=rounded, color="#999999"];',
        'edge [fontname="Helvetica", fontsize=9];',
    ];
    process.stdout.write(clusterBySite(fs.readFileSync(file, "utf8"), sites, fragment));
}
