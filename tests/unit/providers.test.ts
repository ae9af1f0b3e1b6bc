// Provider check/diff policies (no network) and closure serialization of every provider.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import Module from "node:module";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { UNKNOWN, diffByPolicy, locationMove, movedWith, stableStringify } from "../../providers/common";
import { baremetalNodesProvider, POLICY as METAL } from "../../providers/baremetalNodes";
import { cephClusterProvider, POLICY as CEPH } from "../../providers/cephCluster";
import { cephExportProvider, POLICY as EXPORT } from "../../providers/cephExport";
import { glanceMultistoreProvider, POLICY as GLANCE, renderGlanceEnv } from "../../providers/glanceMultistore";
import { overcloudStackProvider, POLICY as STACK } from "../../providers/overcloudStack";
import { sha256 } from "../../providers/common";

const base = {
    undercloud: { host: "127.0.0.1", port: 2222, user: "stack", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk" },
    privateKey: "KEY",
    providerVersion: "1",
};

const glanceIn = {
    ...base,
    stack: "dcn0",
    file: "~/dcn/dcn0/glance-dcn0.yaml",
    backendId: "dcn0",
    description: "dcn0 rbd glance store",
    stores: [{ id: "central", cephClusterName: "central", description: "central rbd glance store" }],
    importMethods: "web-download,copy-image",
    showMultipleLocations: false,
};

describe("diff policy", () => {
    const policy = { replace: ["stack"], update: ["roles"], quiet: ["privateKey", "providerVersion"] };

    it("identity change → replace with deleteBeforeReplace", () => {
        const d = diffByPolicy(policy, { stack: "a", roles: [] }, { stack: "b", roles: [] });
        assert.deepEqual([d.changes, d.replaces, d.deleteBeforeReplace], [true, ["stack"], true]);
    });

    it("consumed input change → update; connection/key/version → quiet update", () => {
        assert.deepEqual(diffByPolicy(policy, { stack: "a", roles: [1] }, { stack: "a", roles: [2] }).updates, [
            "roles",
        ]);
        const q = diffByPolicy(policy, { stack: "a", privateKey: "k1" }, { stack: "a", privateKey: "k2" });
        assert.deepEqual([q.changes, q.quiets, q.updates, q.replaces], [true, ["privateKey"], [], []]);
    });

    it("provider-code-only change (__provider) is not a change", () => {
        const d = diffByPolicy(policy, { stack: "a", __provider: "old code" }, { stack: "a", __provider: "new code" });
        assert.equal(d.changes, false);
    });

    it("object key order does not matter; unknown values count as changes", () => {
        assert.equal(stableStringify({ b: 1, a: { d: 2, c: 3 } }), stableStringify({ a: { c: 3, d: 2 }, b: 1 }));
        assert.equal(diffByPolicy(policy, { roles: [{ a: 1, b: 2 }] }, { roles: [{ b: 2, a: 1 }] }).changes, false);
        assert.deepEqual(diffByPolicy(policy, { stack: "a" }, { stack: UNKNOWN }).replaces, ["stack"]);
        assert.deepEqual(diffByPolicy(policy, { roles: [1] }, { roles: [UNKNOWN] }).updates, ["roles"]);
    });

    it("every provider classifies its identity keys as replace; file locations are updates that move", () => {
        assert.deepEqual(METAL.replace, ["stack"]);
        assert.deepEqual(CEPH.replace, ["stack", "clusterName"]);
        assert.deepEqual(STACK.replace, ["stack", "kind"]);
        assert.deepEqual([EXPORT.replace, GLANCE.replace], [[], []]);
        for (const [p, loc] of [
            [METAL, "workDir"],
            [CEPH, "workDir"],
            [STACK, "workDir"],
            [EXPORT, "outputFile"],
            [GLANCE, "file"],
        ] as const) {
            assert.equal(p.location, loc);
            assert.ok(p.update.includes(loc));
            assert.ok(p.quiet.includes("privateKey") && p.quiet.includes("providerVersion"));
        }
    });

    it("a moved location: the shared tail is kept, paths follow it, anything else is a real change", () => {
        assert.deepEqual(locationMove("~/dcn/dcn0", "/srv/files/dcn0/"), { from: "~/dcn", to: "/srv/files" });
        assert.deepEqual(locationMove("~/a", "~/b"), { from: "~/a", to: "~/b" });
        const m = locationMove("~/dcn/dcn0", "~/sites/dcn0");
        const home = "/home/stack";
        // Absolute outputs of other resources and ~/ inputs alike, also another site's file.
        assert.ok(movedWith("/home/stack/dcn/dcn0/x.yaml", "~/sites/dcn0/x.yaml", m, home));
        assert.ok(
            movedWith(
                { a: ["~/dcn/control-plane/e.yaml", "~/c.yaml"], h: "h1" },
                { h: "h1", a: ["/home/stack/sites/control-plane/e.yaml", "~/c.yaml"] },
                m,
                home,
            ),
        );
        assert.ok(!movedWith("~/dcn/dcn0/x.yaml", "~/sites/dcn0/y.yaml", m, home));
        assert.ok(!movedWith("~/dcnx/x.yaml", "~/sitesx/x.yaml", m, home));
        assert.ok(!movedWith({ h: "h1" }, { h: "h2" }, m, home));
        assert.ok(!movedWith({ a: 1 }, { a: 1, b: 2 }, m, home));
    });
});

describe("check", () => {
    it("tolerates preview's unknown sentinel in any field", async () => {
        const news = {
            ...glanceIn,
            stores: UNKNOWN,
            backendId: UNKNOWN,
            undercloud: UNKNOWN,
        } as unknown as typeof glanceIn;
        const r = await glanceMultistoreProvider.check!({}, news);
        assert.deepEqual(r.failures, []);
        const m = await overcloudStackProvider.check!(
            {},
            {
                ...base,
                stack: "dcn0",
                kind: "dcn",
                templatesDir: "~/templates",
                rolesFile: UNKNOWN,
                networkDataFile: "~/n.yaml",
                files: UNKNOWN,
                overrides: { CephClusterName: "dcn0" },
                consumedSpecs: { metal: UNKNOWN },
                deployArgs: [],
                az: "dcn0",
                centralRcFile: UNKNOWN,
                workDir: "~/dcn/dcn0",
                timeoutMinutes: 10,
                sanityChecks: true,
            },
        );
        assert.deepEqual(m.failures, []);
    });

    it("rejects unsafe values with the property path", async () => {
        const r = await glanceMultistoreProvider.check!({}, { ...glanceIn, file: "~/x; rm -rf ~", backendId: "dcn 0" });
        assert.deepEqual(r.failures!.map((f) => f.property).sort(), ["backendId", "file"]);
        const c = await cephClusterProvider.check!({}, { ...base, stack: "dcn0", clusterName: "dcn-0" });
        assert.ok(c.failures!.some((f) => f.property === "clusterName" && /a-zA-Z0-9/.test(f.reason)));
        const d = await cephExportProvider.check!(
            {},
            {
                ...base,
                stacks: ["dcn0", "$(id)"],
                outputFile: "/x",
                sourceSpecs: [],
                keyClientName: "openstack",
                configDownloadDir: "",
                timeoutMinutes: 30,
            },
        );
        assert.deepEqual(
            d.failures!.map((f) => f.property),
            ["stacks.1"],
        );
        const b = await baremetalNodesProvider.check!(
            {},
            {
                ...base,
                stack: "dcn0",
                networkDataFile: "~/n.yaml",
                templatesDir: "~/templates",
                vips: [],
                concurrency: 2,
                workDir: "~/dcn/dcn0",
                timeoutMinutes: 1,
                roles: [
                    { name: "A", instances: [{ hostname: "h1" }, { hostname: "h1" }], networks: [], cephDisks: false },
                ],
            },
        );
        assert.deepEqual(b.failures, [
            { property: "roles", reason: "duplicate hostname h1" },
            { property: "roles", reason: "node h1 requested twice" },
        ]);
    });
});

describe("provider diffs", () => {
    it("glance: a remote file that differs from the rendering (drift found by refresh) is a change", async () => {
        const olds = { ...glanceIn, contentHash: sha256(renderGlanceEnv(glanceIn)), storeIds: ["dcn0", "central"] };
        assert.equal((await glanceMultistoreProvider.diff!("x", olds, glanceIn)).changes, false);
        assert.equal(
            (await glanceMultistoreProvider.diff!("x", { ...olds, contentHash: "edited" }, glanceIn)).changes,
            true,
        );
        const added = {
            ...glanceIn,
            stores: [...glanceIn.stores, { id: "dcn9", cephClusterName: "dcn9", description: "x" }],
        };
        const d = await glanceMultistoreProvider.diff!("x", olds, added);
        assert.deepEqual([d.changes, d.replaces], [true, []]);
    });

    it("ceph: a cluster whose client vars were wiped (refresh found it unhealthy) is redeployed", async () => {
        const news = { ...base, stack: "dcn1", clusterName: "dcn1" };
        assert.equal((await cephClusterProvider.diff!("x", { ...news, healthy: true }, news)).changes, false);
        assert.equal((await cephClusterProvider.diff!("x", { ...news, healthy: false }, news)).changes, true);
    });

    it("overcloud: a stack found failed by refresh is redeployed; a stack rename replaces delete-first", async () => {
        const olds = { ...base, stack: "dcn0", kind: "dcn", status: "DEPLOY_SUCCESS" };
        const news = { ...base, stack: "dcn0", kind: "dcn" };
        assert.equal((await overcloudStackProvider.diff!("x", olds, news)).changes, false);
        assert.equal(
            (await overcloudStackProvider.diff!("x", { ...olds, status: "DEPLOY_FAILED" }, news)).changes,
            true,
        );
        const r = await overcloudStackProvider.diff!("x", olds, { ...news, stack: "dcn9" });
        assert.deepEqual([r.replaces, r.deleteBeforeReplace], [["stack"], true]);
    });
});

describe("serialization (what the dynamic-provider plugin loads)", () => {
    const providers = {
        baremetalNodesProvider,
        cephClusterProvider,
        cephExportProvider,
        glanceMultistoreProvider,
        overcloudStackProvider,
    };
    for (const [name, provider] of Object.entries(providers)) {
        it(`${name} serializes without secrets or absolute paths and runs check/diff from the text`, async () => {
            const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
            assert.equal(sf.containsSecrets, false);
            assert.ok(!sf.text.includes(path.resolve(__dirname, "..", "..")), "no absolute checkout path captured");
            const filename = path.join(__dirname, "serialized-provider.js");
            const m = new Module(filename, module);
            m.filename = filename;
            m.paths = (Module as unknown as { _nodeModulePaths(p: string): string[] })._nodeModulePaths(__dirname);
            (m as unknown as { _compile(t: string, f: string): void })._compile(sf.text, filename);
            const copy = (m.exports as { handler: () => pulumi.dynamic.ResourceProvider }).handler();
            const r = await copy.check!({}, { stack: UNKNOWN });
            assert.ok(Array.isArray(r.failures));
            const d = await copy.diff!("id", { stack: "a" }, { stack: "a", __provider: "other" });
            assert.equal(d.changes, false);
        });
    }
});
