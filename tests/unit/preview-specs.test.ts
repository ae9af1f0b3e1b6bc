// Issue 12 item 1: what a resource hands its dependents is derived by `check` from inputs alone
// (providers/common.ts `derive`), so preview knows it: specs that change exactly when a step's
// result can, paths from the $HOME an earlier check stored. No network: the undercloud address
// is TEST-NET, and a check that tried to connect there would not return within the test's time.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { planTopology } from "../../components/config";
import { cephIdentityOf } from "../../components/site";
import { baremetalNodesProvider, derivedOf as metalDerived } from "../../providers/baremetalNodes";
import { cephClusterProvider, derivedOf as cephDerived } from "../../providers/cephCluster";
import { derivedOf as exportDerived } from "../../providers/cephExport";
import { UNKNOWN, diffByPolicy, specOf } from "../../providers/common";
import {
    POLICY as STACK_POLICY,
    derivedOf as stackDerived,
    overcloudStackProvider,
} from "../../providers/overcloudStack";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const base = {
    undercloud: { host: "192.0.2.10", port: 22, user: "stack", hostKey: KEY },
    privateKey: "KEY",
    providerVersion: "1",
};
const hci = (hostnames: string[]) => ({
    name: "DistributedComputeHCI",
    instances: hostnames.map((hostname) => ({ hostname })),
    networks: [{ network: "ctlplane", vif: true }],
    cephDisks: true,
});
const metalIn = {
    ...base,
    stack: "dcn0",
    roles: [hci(["oc0-ceph-1"])],
    networkDataFile: "~/oc0-network-data.yaml",
    templatesDir: "~/templates",
    vips: [],
    concurrency: 2,
    workDir: "~/dcn/dcn0",
    timeoutMinutes: 120,
};
const cephIn = {
    ...base,
    stack: "dcn0",
    clusterName: "dcn0",
    metalFile: "/home/stack/dcn/dcn0/deployed-metal-dcn0.yaml",
    metalSpec: "m1",
    rolesFile: "/home/stack/dcn/dcn0/roles-dcn0.yaml",
    networkDataFile: "~/oc0-network-data.yaml",
    containerPrepareFile: "~/containers-prepare-parameter.yaml",
    workDir: "~/dcn/dcn0",
    singleHostDefaults: true,
    pools: [{ name: "vms", targetSizeRatio: 0.2 }],
    clientKeyGeneration: 0,
    timeoutMinutes: 120,
};
const central = {
    ...base,
    stack: "control-plane",
    kind: "central" as const,
    templatesDir: "~/templates",
    rolesFile: "/home/stack/dcn/control-plane/roles-control-plane.yaml",
    networkDataFile: "~/oc0-network-data.yaml",
    files: {
        commonEnvFiles: ["~/templates/environments/podman.yaml"],
        containerPrepareFile: "~/containers-prepare-parameter.yaml",
        vipsFile: "",
        networkFile: "/home/stack/dcn/control-plane/deployed-network-control-plane.yaml",
        metalFile: "/home/stack/dcn/control-plane/deployed-metal-control-plane.yaml",
        cephFile: "/home/stack/dcn/control-plane/deployed-ceph-control-plane.yaml",
        glanceFile: "~/dcn/control-plane/glance-control-plane.yaml",
        dcnCephExportFile: "~/dcn/control-plane/ceph-export-dcn-stacks.yaml",
        centralExportFile: "",
        centralCephExportFile: "",
    },
    overrides: { CephClusterName: "central" },
    consumedSpecs: { metal: "m", ceph: "c", glance: "g1", dcnCephExport: "e1" },
    deployArgs: [],
    az: "central",
    workDir: "~/dcn/control-plane",
    timeoutMinutes: 240,
};

describe("specs: what dependents consume, derived from inputs", () => {
    it("metal: a new instance changes the spec; a moved work dir or another concurrency does not", () => {
        const spec = metalDerived(metalIn, undefined).metalSpec;
        assert.match(String(spec), /^[0-9a-f]{64}$/);
        assert.notEqual(
            metalDerived({ ...metalIn, roles: [hci(["oc0-ceph-1", "oc0-spare-0"])] }, undefined).metalSpec,
            spec,
        );
        assert.equal(metalDerived({ ...metalIn, workDir: "~/sites/dcn0", concurrency: 4 }, undefined).metalSpec, spec);
    });

    it("Ceph: the metal's spec and the key generation change it; the metal's moved paths do not", () => {
        const spec = cephDerived(cephIn, undefined).cephSpec;
        assert.notEqual(cephDerived({ ...cephIn, metalSpec: "m2" }, undefined).cephSpec, spec);
        assert.notEqual(cephDerived({ ...cephIn, clientKeyGeneration: 1 }, undefined).cephSpec, spec);
        const moved = {
            ...cephIn,
            workDir: "~/sites/dcn0",
            metalFile: "/home/stack/sites/dcn0/deployed-metal-dcn0.yaml",
        };
        assert.equal(cephDerived(moved, undefined).cephSpec, spec);
    });

    it("central's export spec ignores what the DCN sites give central (stores, Ceph export); its deploy spec does not", () => {
        const d = stackDerived(central, undefined);
        const newSite = { ...central, consumedSpecs: { ...central.consumedSpecs, glance: "g2", dcnCephExport: "e2" } };
        assert.equal(stackDerived(newSite, undefined).exportSpec, d.exportSpec);
        assert.notEqual(stackDerived(newSite, undefined).deploySpec, d.deploySpec);
        const envFiles = { ...central, files: { ...central.files, commonEnvFiles: [] } };
        assert.notEqual(stackDerived(envFiles, undefined).exportSpec, d.exportSpec);
        assert.equal(stackDerived({ ...central, kind: "dcn" }, undefined).exportSpec, "");
        // A moved work dir moves generated files only: no new deploy.
        const moved = JSON.parse(JSON.stringify(central).replace(/(~|\/home\/stack)\/dcn\//g, "$1/sites/"));
        assert.equal(stackDerived(moved, undefined).deploySpec, d.deploySpec);
    });

    it("the Ceph export's spec follows its sources, not its path", () => {
        const exp = {
            ...base,
            stacks: ["dcn0"],
            outputFile: "~/dcn/control-plane/ceph-export-dcn-stacks.yaml",
            sourceSpecs: ["i0"],
            keyClientName: "openstack",
            configDownloadDir: "",
            timeoutMinutes: 30,
        };
        const spec = exportDerived(exp).exportSpec;
        assert.equal(exportDerived({ ...exp, outputFile: "~/sites/x.yaml" }).exportSpec, spec);
        assert.notEqual(exportDerived({ ...exp, sourceSpecs: ["i1"] }).exportSpec, spec);
    });

    it("a cluster's export identity: a scale-out without mons keeps it; a mon, a key rotation, a new cluster do not", () => {
        const dev = parse(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")).config;
        const plan = (sites: unknown) => planTopology(sites, dev["dcn-storage:settings"]).dcns[0];
        const seed = structuredClone(dev["dcn-storage:sites"]);
        const id = cephIdentityOf(plan(seed), "dcn0/dcn0/f1");
        const scaleOut = structuredClone(seed);
        scaleOut[1].roles[1].instances.push("oc0-spare-0"); // DistributedComputeHCIScaleOut: no mon
        assert.equal(cephIdentityOf(plan(scaleOut), "dcn0/dcn0/f1"), id);
        const newMon = structuredClone(seed);
        newMon[1].roles[0].instances.push("oc0-spare-0"); // DistributedComputeHCI runs a mon
        assert.notEqual(cephIdentityOf(plan(newMon), "dcn0/dcn0/f1"), id);
        const rotated = structuredClone(seed);
        rotated[1].cephKeyGeneration = 1;
        assert.notEqual(cephIdentityOf(plan(rotated), "dcn0/dcn0/f1"), id);
        assert.notEqual(cephIdentityOf(plan(seed), "dcn0/dcn0/f2"), id, "a cluster made anew");
    });

    it("a spec of an unknown input is unknown", () => {
        assert.equal(specOf({ a: UNKNOWN }), undefined);
        assert.equal(metalDerived({ ...metalIn, roles: UNKNOWN as never }, undefined).metalSpec, undefined);
    });
});

describe("check derives them; diff neither compares them nor re-runs for a key it adopts", () => {
    it("a new resource: specs, no paths, no connection", async () => {
        const began = Date.now();
        const r = await baremetalNodesProvider.check!({}, metalIn);
        assert.deepEqual(r.failures, []);
        assert.equal(r.inputs.metalSpec, metalDerived(metalIn, undefined).metalSpec);
        assert.equal(r.inputs.metalFile, undefined);
        assert.equal(r.inputs.undercloudHome, undefined);
        assert.ok(Date.now() - began < 2000, "no connection attempted");
    });

    it("an existing resource: the paths from the $HOME the previous check stored, without a connection", async () => {
        const olds = { ...metalIn, undercloudHome: "/home/stack" };
        const r = await baremetalNodesProvider.check!(olds, { ...metalIn, privateKey: "ROTATED" });
        assert.equal(r.inputs.metalFile, "/home/stack/dcn/dcn0/deployed-metal-dcn0.yaml");
        assert.equal(r.inputs.vipsFile, "");
        assert.equal(r.inputs.undercloudHome, "/home/stack");
        const c = await cephClusterProvider.check!({ ...cephIn, undercloudHome: "/home/stack" }, cephIn);
        assert.equal(c.inputs.cephFile, "/home/stack/dcn/dcn0/deployed-ceph-dcn0.yaml");
        assert.equal(c.inputs.clientVarsFile, "/home/stack/overcloud-deploy/dcn0/ceph_client.yml");
        const s = await overcloudStackProvider.check!({ ...central, undercloudHome: "/home/stack" }, central);
        assert.equal(s.inputs.rcFile, "/home/stack/overcloud-deploy/control-plane/control-planerc");
        assert.equal(s.inputs.exportFile, "/home/stack/overcloud-deploy/control-plane/control-plane-export.yaml");
    });

    it("preview: a spec from an unknown input is the unknown sentinel (a saved plan accepts any value), not absent", async () => {
        const r = await cephClusterProvider.check!({}, { ...cephIn, metalSpec: UNKNOWN });
        assert.equal(r.inputs.cephSpec, UNKNOWN);
    });

    it("diff: derived keys are not compared; an adopted key the old outputs lack is quiet, a changed one re-runs", () => {
        const olds = { ...central, consumedSpecs: undefined, consumedHashes: { metal: "x" }, deploySpec: "old" };
        delete (olds as Record<string, unknown>).consumedSpecs;
        const news = { ...central, deploySpec: "new", exportSpec: "e", rcFile: "/r" };
        const d = diffByPolicy(STACK_POLICY, olds, news);
        assert.deepEqual([d.updates, d.quiets], [[], ["consumedSpecs"]]);
        const changed = diffByPolicy(STACK_POLICY, central, {
            ...central,
            consumedSpecs: { ...central.consumedSpecs, glance: "g2" },
        });
        assert.deepEqual(changed.updates, ["consumedSpecs"]);
    });
});

describe("unknown inputs at preview", () => {
    it("an overcloud whose files are one unknown (a new site's paths) has unknown specs", () => {
        const d = stackDerived({ ...central, files: UNKNOWN as never }, undefined);
        assert.deepEqual([d.deploySpec, d.exportSpec], [undefined, undefined]);
    });
});
