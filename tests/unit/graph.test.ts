// tools/graph.ts: the picture of `npm run graph` from `pulumi stack graph`'s DOT (a fixture written
// by pulumi v3.192 for the seed: tests/fixtures/graph/stack-graph.dot).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { clusterBySite, siteOf } from "../../tools/graph";

const dot = fs.readFileSync(path.join(__dirname, "..", "fixtures", "graph", "stack-graph.dot"), "utf8");
const SITES = ["control-plane", "dcn0", "dcn1"];

/** Node labels per cluster (`""`: outside every cluster) of a clustered DOT. */
function clusters(out: string): Map<string, string[]> {
    const m = new Map<string, string[]>();
    let current = "";
    for (const line of out.split("\n")) {
        const c = /subgraph "cluster_([^"]+)"/.exec(line);
        if (c) current = c[1];
        else if (/^\s*}\s*$/.test(line)) current = "";
        const n = /\[label="([^"]+)"\];$/.exec(line);
        if (n) m.set(current, [...(m.get(current) ?? []), n[1]]);
    }
    return m;
}

describe("npm run graph: one box per site, no unconnected nodes", () => {
    it("a resource belongs to the site whose name is the longest prefix of its own", () => {
        assert.equal(siteOf("control-plane-dcn-ceph-export", SITES), "control-plane");
        assert.equal(siteOf("dcn1-ceph", ["dcn1", "dcn10"]), "dcn1");
        assert.equal(siteOf("dcn10-ceph", ["dcn1", "dcn10"]), "dcn10");
        assert.equal(siteOf("dcn0", SITES), "dcn0");
        assert.equal(siteOf("dcn-storage-dev", SITES), undefined);
    });

    it("groups every connected resource of the seed by site and drops the stack, providers and components", () => {
        const out = clusterBySite(dot, SITES);
        const got = clusters(out);
        assert.deepEqual(got.get("control-plane")?.sort(), [
            "control-plane-ceph",
            "control-plane-ceph-export",
            "control-plane-dcn-ceph-export",
            "control-plane-glance",
            "control-plane-metal",
            "control-plane-overcloud",
            "control-plane-sanity",
            "control-plane-validation",
        ]);
        for (const s of ["dcn0", "dcn1"])
            assert.deepEqual(got.get(s)?.sort(), [
                `${s}-ceph`,
                `${s}-glance`,
                `${s}-metal`,
                `${s}-overcloud`,
                `${s}-sanity`,
            ]);
        assert.equal(got.get(""), undefined, "nothing outside the boxes");
        for (const gone of ["dcn", "dcn0", "dcn1", "control-plane", "default", "default_1_2_1", "dcn-storage-dev"])
            assert.ok(!out.includes(`label="${gone}"]`), `${gone} is drawn`);
        // Every dependency edge is kept as it was.
        const edges = (s: string) =>
            s
                .split("\n")
                .filter((l) => l.includes("->"))
                .map((l) => l.trim())
                .sort();
        assert.deepEqual(edges(out), edges(dot));
    });

    it("a resource of no site stays outside the boxes; graph attributes go first", () => {
        const out = clusterBySite(dot, ["dcn0", "dcn1"], ["rankdir=LR;"]);
        assert.match(out, /^strict digraph \{\n {4}rankdir=LR;\n/);
        assert.ok(clusters(out).get("")?.includes("control-plane-overcloud"));
    });
});
