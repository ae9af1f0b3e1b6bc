// Issue 11 (defects 10): no config change silently destroys a site. Provider check/diff called
// directly with old and new inputs, no network:
// - a moved work dir (settings.workRoot) is an update of metal, Ceph, overcloud, Glance env file and
//   Ceph export, never a replace (a replace ran `overcloud delete` and `node unprovision`);
// - a new Ceph cluster name, stack name or site kind of an existing resource is refused by check
//   with a message saying what to do; a resource not created yet takes any;
// - a new undercloud address, user or host key is refused unless `undercloud.sameAs` names the
//   previous undercloud; the private key still rotates quietly.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { baremetalNodesProvider } from "../../providers/baremetalNodes";
import { cephClusterProvider } from "../../providers/cephCluster";
import { cephExportProvider } from "../../providers/cephExport";
import { glanceMultistoreProvider } from "../../providers/glanceMultistore";
import { overcloudStackProvider } from "../../providers/overcloudStack";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const base = {
    undercloud: { host: "192.0.2.10", port: 22, user: "stack", hostKey: KEY_A },
    privateKey: "KEY",
    providerVersion: "1",
};

const metalIn = {
    ...base,
    stack: "dcn0",
    roles: [
        {
            name: "DistributedComputeHCI",
            instances: [{ hostname: "oc0-ceph-1" }],
            networks: [{ network: "ctlplane", vif: true }],
            cephDisks: true,
        },
    ],
    networkDataFile: "~/oc0-network-data.yaml",
    templatesDir: "~/templates",
    vips: [],
    concurrency: 2,
    workDir: "~/dcn/dcn0",
    timeoutMinutes: 120,
};
const metalOut = {
    ...metalIn,
    rolesFile: "/home/stack/dcn/dcn0/roles-dcn0.yaml",
    baremetalFile: "/home/stack/dcn/dcn0/baremetal-dcn0.yaml",
    metalFile: "/home/stack/dcn/dcn0/deployed-metal-dcn0.yaml",
    networkFile: "/home/stack/dcn/dcn0/deployed-network-dcn0.yaml",
    vipsFile: "",
    nodes: [],
    metalHash: "m1",
    metalSpec: "s1",
    healthy: true,
};

const cephIn = {
    ...base,
    stack: "dcn0",
    clusterName: "dcn0",
    metalFile: metalOut.metalFile,
    metalSpec: "m1",
    rolesFile: metalOut.rolesFile,
    networkDataFile: "~/oc0-network-data.yaml",
    containerPrepareFile: "~/containers-prepare-parameter.yaml",
    workDir: "~/dcn/dcn0",
    singleHostDefaults: true,
    pools: [{ name: "vms", targetSizeRatio: 0.2 }],
    clientKeyGeneration: 0,
    timeoutMinutes: 120,
};
const cephOut = { ...cephIn, cephFile: "/home/stack/dcn/dcn0/deployed-ceph-dcn0.yaml", fsid: "f", healthy: true };

const stackIn = {
    ...base,
    stack: "dcn0",
    kind: "dcn",
    templatesDir: "~/templates",
    rolesFile: metalOut.rolesFile,
    networkDataFile: "~/oc0-network-data.yaml",
    files: {
        commonEnvFiles: [],
        containerPrepareFile: "~/containers-prepare-parameter.yaml",
        vipsFile: "",
        networkFile: metalOut.networkFile,
        metalFile: metalOut.metalFile,
        cephFile: cephOut.cephFile,
        glanceFile: "~/dcn/dcn0/glance-dcn0.yaml",
        dcnCephExportFile: "",
        centralExportFile: "/home/stack/overcloud-deploy/control-plane/control-plane-export.yaml",
        centralCephExportFile: "~/dcn/control-plane/ceph-export-control-plane.yaml",
    },
    overrides: { CephClusterName: "dcn0" },
    consumedSpecs: { metal: "m1", ceph: "c1" },
    deployArgs: [],
    az: "dcn0",
    workDir: "~/dcn/dcn0",
    timeoutMinutes: 240,
};
const stackOut = { ...stackIn, status: "DEPLOY_SUCCESS", deployHash: "d1" };

/** Every path under ~/dcn (or /home/stack/dcn) now under ~/sites (or /home/stack/sites). */
function moved<T>(v: T): T {
    return JSON.parse(JSON.stringify(v).replace(/(~|\/home\/stack)\/dcn\//g, "$1/sites/")) as T;
}

describe("a moved work dir (settings.workRoot) is an update, never a replace", () => {
    it("metal: update, no replace (was: replace → node unprovision of every node)", async () => {
        const d = await baremetalNodesProvider.diff!("dcn0", metalOut, moved(metalIn));
        assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
    });

    it("Ceph: update, no replace", async () => {
        const d = await cephClusterProvider.diff!("dcn0/dcn0", cephOut, moved(cephIn));
        assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
    });

    it("overcloud: update, no replace (was: replace → overcloud delete)", async () => {
        const d = await overcloudStackProvider.diff!("dcn0", stackOut, moved(stackIn));
        assert.deepEqual([d.changes, d.replaces ?? []], [true, []]);
    });

    it("Glance env file and Ceph export: update, no replace", async () => {
        const glance = {
            ...base,
            stack: "dcn0",
            file: "~/dcn/dcn0/glance-dcn0.yaml",
            backendId: "dcn0",
            description: "d",
            stores: [],
            importMethods: "web-download,copy-image",
            showMultipleLocations: false,
        };
        const g = await glanceMultistoreProvider.diff!("x", { ...glance, contentHash: "h" }, moved(glance));
        assert.deepEqual([g.changes, g.replaces ?? []], [true, []]);
        const exp = {
            ...base,
            stacks: ["control-plane"],
            outputFile: "~/dcn/control-plane/ceph-export-control-plane.yaml",
            sourceSpecs: ["c0"],
            keyClientName: "openstack",
            configDownloadDir: "",
            timeoutMinutes: 30,
        };
        const e = await cephExportProvider.diff!("x", { ...exp, exportHash: "e" }, moved(exp));
        assert.deepEqual([e.changes, e.replaces ?? []], [true, []]);
    });

    it("check accepts the moved work dir of existing resources", async () => {
        assert.deepEqual((await baremetalNodesProvider.check!(metalIn, moved(metalIn))).failures, []);
        assert.deepEqual((await cephClusterProvider.check!(cephIn, moved(cephIn))).failures, []);
        assert.deepEqual((await overcloudStackProvider.check!(stackIn, moved(stackIn))).failures, []);
    });
});

describe("identity changes of existing resources are refused by check", () => {
    it("a new Ceph cluster name of a deployed site: refused, naming the fix", async () => {
        const r = await cephClusterProvider.check!(cephIn, { ...cephIn, clusterName: "edge0" });
        const f = r.failures!.find((x) => x.property === "clusterName");
        assert.ok(f, `no refusal: ${JSON.stringify(r.failures)}`);
        assert.match(f.reason, /cannot rename the Ceph cluster/);
        assert.match(f.reason, /\/etc\/ceph\/dcn0\.conf/);
        assert.match(f.reason, /back to dcn0/);
        assert.match(f.reason, /remove the site from dcn-storage:sites/);
    });

    it("a cluster not created yet takes any name (no olds)", async () => {
        const r = await cephClusterProvider.check!({}, { ...cephIn, clusterName: "edge0" });
        assert.deepEqual(r.failures, []);
    });

    it("a new stack name (same URN) of metal, Ceph or the overcloud: refused; a new kind too", async () => {
        for (const [p, olds] of [
            [baremetalNodesProvider, metalIn],
            [cephClusterProvider, cephIn],
            [overcloudStackProvider, stackIn],
        ] as const) {
            const r = await p.check!(olds, { ...olds, stack: "edge0" });
            const f = r.failures!.find((x) => x.property === "stack");
            assert.ok(f, `no refusal: ${JSON.stringify(r.failures)}`);
            assert.match(f.reason, /cannot be renamed in place/);
        }
        const k = await overcloudStackProvider.check!(stackIn, { ...stackIn, kind: "central" });
        assert.match(k.failures!.find((x) => x.property === "kind")?.reason ?? "", /cannot become a central site/);
    });
});

describe("another undercloud", () => {
    const moveTo = (u: Partial<typeof base.undercloud> & { sameAs?: string }) => ({
        ...cephIn,
        undercloud: { ...cephIn.undercloud, ...u },
    });
    const refusal = async (news: typeof cephIn) =>
        (await cephClusterProvider.check!(cephIn, news)).failures!.find((f) => f.property === "undercloud");

    it("a new host, port, user or host key is refused, naming undercloud.sameAs and the previous undercloud", async () => {
        for (const u of [{ host: "192.0.2.99" }, { port: 2222 }, { user: "heat" }, { hostKey: KEY_B }]) {
            const f = await refusal(moveTo(u));
            assert.ok(f, `${JSON.stringify(u)} was not refused`);
            assert.match(f.reason, /dcn-storage:undercloud\.sameAs to "stack@192\.0\.2\.10:22"/);
        }
    });

    it("with sameAs naming the previous undercloud it is accepted; a stale sameAs is not", async () => {
        assert.equal(await refusal(moveTo({ host: "192.0.2.99", sameAs: "stack@192.0.2.10:22" })), undefined);
        assert.equal(await refusal(moveTo({ hostKey: KEY_B, sameAs: "stack@192.0.2.10:22" })), undefined);
        assert.ok(await refusal(moveTo({ host: "192.0.2.99", sameAs: "stack@192.0.2.50:22" })));
    });

    it("the private key still rotates quietly; a new resource may use any undercloud", async () => {
        assert.deepEqual((await cephClusterProvider.check!(cephIn, { ...cephIn, privateKey: "OTHER" })).failures, []);
        assert.deepEqual((await cephClusterProvider.check!({}, moveTo({ host: "192.0.2.99" }))).failures, []);
    });
});
