// Issue 11 (defect 10): a moved work dir (settings.workRoot) is a safe update. Provider `update`
// against the in-process SSH server (real shell, temp $HOME) with an `openstack` on PATH that only
// logs and fails: when nothing but the location changed, metal, Ceph, the overcloud, the Ceph
// export and the Glance env file move their files and run no TripleO command; the same directory
// spelled another way is left alone; a real change besides the move still re-runs the step.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { closeAll } from "../../providers/remote/ssh";
import { baremetalNodesProvider } from "../../providers/baremetalNodes";
import { cephClusterProvider } from "../../providers/cephCluster";
import { cephExportProvider } from "../../providers/cephExport";
import { glanceMultistoreProvider } from "../../providers/glanceMultistore";
import { overcloudStackProvider } from "../../providers/overcloudStack";
import { TestServer, startServer } from "./support/sshServer";

let srv: TestServer;
let base: {
    undercloud: { host: string; port: number; user: string; hostKey: string };
    privateKey: string;
    providerVersion: string;
};
let home: string;
const at = (...p: string[]) => path.join(home, ...p);
const openstackCalls = () =>
    fs.existsSync(at("openstack.log")) ? fs.readFileSync(at("openstack.log"), "utf8").trim().split("\n") : [];

function put(rel: string, content: string) {
    fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
    fs.writeFileSync(at(rel), content, { mode: 0o600 });
}

before(async () => {
    srv = await startServer();
    home = srv.home;
    base = {
        undercloud: { host: "127.0.0.1", port: srv.port, user: "stack", hostKey: srv.hostKeyLine },
        privateKey: srv.clientPrivateKey,
        providerVersion: "1",
    };
    const bin = at("bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "openstack"), `#!/bin/sh\necho "$*" >> "$HOME/openstack.log"\nexit 2\n`, {
        mode: 0o755,
    });
    process.env.PATH = `${bin}:${process.env.PATH}`;
});

after(async () => {
    closeAll();
    await srv.close();
});

describe("a moved work dir", () => {
    const metalIn = () => ({
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
        timeoutMinutes: 5,
    });
    const metalOut = () => ({
        ...metalIn(),
        rolesFile: at("dcn/dcn0/roles-dcn0.yaml"),
        baremetalFile: at("dcn/dcn0/baremetal-dcn0.yaml"),
        metalFile: at("dcn/dcn0/deployed-metal-dcn0.yaml"),
        networkFile: at("dcn/dcn0/deployed-network-dcn0.yaml"),
        vipsFile: "",
        nodes: [{ hostname: "oc0-ceph-1", role: "DistributedComputeHCI", node: "oc0-ceph-1", ctlplaneIp: "1" }],
        metalHash: "m1",
        metalSpec: "s1",
        healthy: true,
    });

    it("metal: the files move, no node is provisioned or unprovisioned, a retry is harmless", async () => {
        for (const f of ["roles", "baremetal", "deployed-metal", "deployed-network"]) {
            put(`dcn/dcn0/${f}-dcn0.yaml`, `${f}\n`);
        }
        const news = { ...metalIn(), workDir: "~/sites/dcn0" };
        const { outs } = await baremetalNodesProvider.update!("dcn0", metalOut(), news);
        assert.equal(outs.metalFile, at("sites/dcn0/deployed-metal-dcn0.yaml"));
        assert.equal(outs.rolesFile, at("sites/dcn0/roles-dcn0.yaml"));
        assert.equal(outs.workDir, "~/sites/dcn0");
        assert.deepEqual([outs.metalHash, outs.nodes.length], ["m1", 1]);
        assert.equal(fs.readFileSync(outs.metalFile, "utf8"), "deployed-metal\n");
        assert.equal(fs.statSync(outs.metalFile).mode & 0o777, 0o600);
        assert.ok(!fs.existsSync(at("dcn/dcn0")), "the old work dir is gone");
        // Interrupted before the state recorded it: the same update again finds the files moved.
        const again = await baremetalNodesProvider.update!("dcn0", metalOut(), news);
        assert.equal(again.outs.metalFile, outs.metalFile);
        assert.ok(fs.existsSync(outs.networkFile));
        assert.deepEqual(openstackCalls(), []);
    });

    it("the same directory spelled another way (~/x vs $HOME/x) keeps its files", async () => {
        put("same/dcn0/deployed-metal-dcn0.yaml", "m\n");
        put("same/dcn0/roles-dcn0.yaml", "r\n");
        put("same/dcn0/deployed-network-dcn0.yaml", "n\n");
        const olds = {
            ...metalOut(),
            workDir: "~/same/dcn0",
            metalFile: at("same/dcn0/deployed-metal-dcn0.yaml"),
            rolesFile: at("same/dcn0/roles-dcn0.yaml"),
            networkFile: at("same/dcn0/deployed-network-dcn0.yaml"),
        };
        const { outs } = await baremetalNodesProvider.update!("dcn0", olds, { ...metalIn(), workDir: at("same/dcn0") });
        assert.equal(fs.readFileSync(outs.metalFile, "utf8"), "m\n");
        assert.ok(fs.existsSync(at("same/dcn0/roles-dcn0.yaml")));
        assert.deepEqual(openstackCalls(), []);
    });

    it("Ceph: the deployed-ceph and pools files move with the metal files, no ceph deploy", async () => {
        put("dcn/dcn1/deployed-ceph-dcn1.yaml", "ceph\n");
        put("dcn/dcn1/pools-dcn1.yml", "pools\n");
        const cephIn = {
            ...base,
            stack: "dcn1",
            clusterName: "dcn1",
            metalFile: at("dcn/dcn1/deployed-metal-dcn1.yaml"),
            metalSpec: "m1",
            rolesFile: at("dcn/dcn1/roles-dcn1.yaml"),
            networkDataFile: "~/oc0-network-data.yaml",
            containerPrepareFile: "~/containers-prepare-parameter.yaml",
            workDir: "~/dcn/dcn1",
            singleHostDefaults: true,
            pools: [],
            clientKeyGeneration: 0,
            timeoutMinutes: 5,
        };
        const olds = {
            ...cephIn,
            cephFile: at("dcn/dcn1/deployed-ceph-dcn1.yaml"),
            poolsFile: at("dcn/dcn1/pools-dcn1.yml"),
            fsid: "f1",
            clientUserName: "openstack",
            clientKey: "AQ==",
            cephHash: "c1",
            clientVarsFile: at("overcloud-deploy/dcn1/ceph_client.yml"),
            healthy: true,
        };
        const news = {
            ...cephIn,
            workDir: "~/sites/dcn1",
            metalFile: at("sites/dcn1/deployed-metal-dcn1.yaml"),
            rolesFile: at("sites/dcn1/roles-dcn1.yaml"),
        };
        const { outs } = await cephClusterProvider.update!("dcn1/dcn1", olds, news);
        assert.equal(outs.cephFile, at("sites/dcn1/deployed-ceph-dcn1.yaml"));
        assert.equal(fs.readFileSync(outs.cephFile, "utf8"), "ceph\n");
        assert.deepEqual([outs.fsid, outs.cephHash, outs.clientKey], ["f1", "c1", "AQ=="]);
        assert.ok(!fs.existsSync(at("dcn/dcn1/deployed-ceph-dcn1.yaml")));
        assert.deepEqual(openstackCalls(), []);
    });

    const stackIn = (workRoot: string) => ({
        ...base,
        stack: "dcn2",
        kind: "dcn",
        templatesDir: "~/templates",
        rolesFile: at(`${workRoot}/dcn2/roles-dcn2.yaml`),
        networkDataFile: "~/oc0-network-data.yaml",
        files: {
            commonEnvFiles: [],
            containerPrepareFile: "~/containers-prepare-parameter.yaml",
            vipsFile: "",
            networkFile: at(`${workRoot}/dcn2/deployed-network-dcn2.yaml`),
            metalFile: at(`${workRoot}/dcn2/deployed-metal-dcn2.yaml`),
            cephFile: at(`${workRoot}/dcn2/deployed-ceph-dcn2.yaml`),
            glanceFile: `~/${workRoot}/dcn2/glance-dcn2.yaml`,
            dcnCephExportFile: "",
            centralExportFile: at("overcloud-deploy/control-plane/control-plane-export.yaml"),
            centralCephExportFile: `~/${workRoot}/control-plane/ceph-export-control-plane.yaml`,
        },
        overrides: { CephClusterName: "dcn2" },
        consumedSpecs: { metal: "m1", ceph: "c1" },
        deployArgs: [],
        az: "dcn2",
        workDir: `~/${workRoot}/dcn2`,
        timeoutMinutes: 5,
    });
    const stackOut = (workRoot: string) => ({
        ...stackIn(workRoot),
        status: "DEPLOY_SUCCESS",
        overridesFile: at(`${workRoot}/dcn2/overrides-dcn2.yaml`),
        exportFile: at("overcloud-deploy/dcn2/dcn2-export.yaml"),
        rcFile: at("overcloud-deploy/dcn2/dcn2rc"),
        endpoints: {},
        deployHash: "d1",
        deployedAt: "2025-01-01T00:00:00.000Z",
        exportHash: "",
    });

    it("overcloud: overrides and phase markers move, no redeploy (markers carry the new paths' hash)", async () => {
        put("dcn/dcn2/overrides-dcn2.yaml", "parameter_defaults: {}\n");
        put("dcn/dcn2/.deploy-heat.done", "d1\n");
        put("dcn/dcn2/.deploy-config.done", "d1\n");
        const { outs } = await overcloudStackProvider.update!("dcn2", stackOut("dcn"), stackIn("sites"));
        assert.equal(outs.overridesFile, at("sites/dcn2/overrides-dcn2.yaml"));
        assert.equal(fs.readFileSync(outs.overridesFile, "utf8"), "parameter_defaults: {}\n");
        assert.notEqual(outs.deployHash, "d1", "the -e paths changed, so does the hash");
        assert.equal(fs.readFileSync(at("sites/dcn2/.deploy-heat.done"), "utf8"), `${outs.deployHash}\n`);
        assert.equal(fs.readFileSync(at("sites/dcn2/.deploy-config.done"), "utf8"), `${outs.deployHash}\n`);
        assert.deepEqual([outs.status, outs.deployedAt], ["DEPLOY_SUCCESS", "2025-01-01T00:00:00.000Z"]);
        assert.ok(!fs.existsSync(at("dcn/dcn2")), "the old work dir is gone");
        assert.deepEqual(openstackCalls(), []);
    });

    it("overcloud: a real change besides the move still deploys (markers are not carried over)", async () => {
        put("old/dcn2/overrides-dcn2.yaml", "parameter_defaults: {}\n");
        put("old/dcn2/.deploy-heat.done", "d1\n");
        put("old/dcn2/.deploy-config.done", "d1\n");
        const news = { ...stackIn("new"), overrides: { CephClusterName: "dcn2", NovaCrossAZAttach: true } };
        await assert.rejects(overcloudStackProvider.update!("dcn2", stackOut("old"), news));
        assert.ok(
            openstackCalls().some((c) => c.startsWith("overcloud deploy") && c.includes("--stack dcn2")),
            `no deploy was attempted: ${openstackCalls().join("; ")}`,
        );
        assert.ok(!fs.existsSync(at("new/dcn2/.deploy-config.done")));
        assert.ok(!fs.existsSync(at("old/dcn2/.deploy-heat.done")));
        fs.rmSync(at("openstack.log"));
    });

    it("Ceph export: the file moves, no new export", async () => {
        put("dcn/control-plane/ceph-export-control-plane.yaml", "export\n");
        const exp = {
            ...base,
            stacks: ["control-plane"],
            outputFile: "~/dcn/control-plane/ceph-export-control-plane.yaml",
            sourceSpecs: ["c0"],
            keyClientName: "openstack",
            configDownloadDir: "",
            timeoutMinutes: 5,
        };
        const olds = { ...exp, clusters: [], exportHash: "e0" };
        const news = { ...exp, outputFile: "~/sites/control-plane/ceph-export-control-plane.yaml" };
        const { outs } = await cephExportProvider.update!("control-plane", olds, news);
        assert.deepEqual([outs.outputFile, outs.exportHash], [news.outputFile, "e0"]);
        assert.equal(fs.readFileSync(at("sites/control-plane/ceph-export-control-plane.yaml"), "utf8"), "export\n");
        assert.ok(!fs.existsSync(at("dcn/control-plane/ceph-export-control-plane.yaml")));
        assert.deepEqual(openstackCalls(), []);
    });

    it("Glance env file: written at the new place, none left at the old one", async () => {
        const g = {
            ...base,
            stack: "dcn3",
            file: "~/dcn/dcn3/glance-dcn3.yaml",
            backendId: "dcn3",
            description: "dcn3 rbd glance store",
            stores: [],
            importMethods: "web-download,copy-image",
            showMultipleLocations: false,
        };
        const created = await glanceMultistoreProvider.create(g);
        const news = { ...g, file: "~/sites/dcn3/glance-dcn3.yaml" };
        const { outs } = await glanceMultistoreProvider.update!("dcn3/glance", created.outs, news);
        assert.equal(outs.contentHash, created.outs.contentHash);
        assert.ok(fs.existsSync(at("sites/dcn3/glance-dcn3.yaml")));
        assert.ok(!fs.existsSync(at("dcn/dcn3/glance-dcn3.yaml")));
    });
});
