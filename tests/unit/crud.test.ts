// Provider CRUD against the in-process SSH server (real shell, temp $HOME) for the steps that need
// no TripleO CLI, plus a fake `openstack` on PATH that behaves as real tripleoclient 20.0.0 for
// export ceph, status, delete and ceph deploy: idempotent create, read drift, full outputs on
// update, delete tolerating "already gone", and the argv the real CLI accepts.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { closeAll } from "../../providers/remote/ssh";
import { glanceMultistoreProvider, renderGlanceEnv } from "../../providers/glanceMultistore";
import { DEFAULT_POOLS, cephClusterProvider } from "../../providers/cephCluster";
import { cephExportProvider } from "../../providers/cephExport";
import { overcloudStackProvider } from "../../providers/overcloudStack";
import { sha256 } from "../../providers/common";
import { TestServer, startServer } from "./support/sshServer";

let srv: TestServer;
let base: {
    undercloud: { host: string; port: number; user: string; hostKey: string };
    privateKey: string;
    providerVersion: string;
};

before(async () => {
    srv = await startServer();
    base = {
        undercloud: { host: "127.0.0.1", port: srv.port, user: "stack", hostKey: srv.hostKeyLine },
        privateKey: srv.clientPrivateKey,
        providerVersion: "1",
    };
    // A fake `openstack` that behaves as tripleoclient 20.0.0 for export ceph, status, delete and
    // ceph deploy (support/fake-tripleoclient.sh; it logs every argv to ~/openstack.log).
    const bin = path.join(srv.home, "bin");
    fs.mkdirSync(bin);
    fs.copyFileSync(path.join(__dirname, "support", "fake-tripleoclient.sh"), path.join(bin, "openstack"));
    fs.chmodSync(path.join(bin, "openstack"), 0o755);
    // The shared ceph-admin key exists (CEPH_ADMIN_KEY_SCRIPT then skips ssh-keygen).
    fs.mkdirSync(path.join(srv.home, ".ssh"));
    fs.writeFileSync(path.join(srv.home, ".ssh", "ceph-admin-id_rsa"), "", { mode: 0o600 });
    // Put it on PATH for the server's shells.
    fs.writeFileSync(path.join(srv.home, ".profile"), "");
    process.env.PATH = `${bin}:${process.env.PATH}`;
});

after(async () => {
    closeAll();
    await srv.close();
});

describe("GlanceMultistore CRUD", () => {
    const inputs = () => ({
        ...base,
        stack: "dcn0",
        file: "~/dcn/dcn0/glance-dcn0.yaml",
        backendId: "dcn0",
        description: "dcn0 rbd glance store",
        stores: [{ id: "central", cephClusterName: "central", description: "central rbd glance store" }],
        importMethods: "web-download,copy-image",
        showMultipleLocations: false,
    });

    it("create writes the rendered file (0600) and is safe to repeat", async () => {
        const a = await glanceMultistoreProvider.create(inputs());
        const b = await glanceMultistoreProvider.create(inputs());
        assert.deepEqual(a, b);
        const file = path.join(srv.home, "dcn", "dcn0", "glance-dcn0.yaml");
        assert.equal(fs.readFileSync(file, "utf8"), renderGlanceEnv(inputs()));
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        assert.equal(a.outs.contentHash, sha256(renderGlanceEnv(inputs())));
        assert.deepEqual(a.outs.storeIds, ["dcn0", "central"]);
    });

    it("read reports a hand edit as drift, update repairs it with full outputs, read reports gone", async () => {
        const { id, outs } = await glanceMultistoreProvider.create(inputs());
        const file = path.join(srv.home, "dcn", "dcn0", "glance-dcn0.yaml");
        fs.appendFileSync(file, "  GlanceBackendID: oops\n");
        const read = await glanceMultistoreProvider.read!(id, outs);
        assert.notEqual(read.props!.contentHash, outs.contentHash);
        assert.equal((await glanceMultistoreProvider.diff!(id, read.props, inputs())).changes, true);
        const upd = await glanceMultistoreProvider.update!(id, read.props, inputs());
        assert.equal(upd.outs.contentHash, outs.contentHash);
        assert.equal(upd.outs.file, inputs().file);
        fs.rmSync(file);
        assert.equal((await glanceMultistoreProvider.read!(id, outs)).id, "");
    });

    it("delete tolerates an already-deleted file", async () => {
        const { id, outs } = await glanceMultistoreProvider.create(inputs());
        await glanceMultistoreProvider.delete!(id, outs);
        await glanceMultistoreProvider.delete!(id, outs);
        assert.ok(!fs.existsSync(path.join(srv.home, "dcn", "dcn0", "glance-dcn0.yaml")));
    });
});

/** Every argv the fake `openstack` logged so far (the server's $HOME is shared by all tests here). */
function openstackLog(): string[] {
    const f = path.join(srv.home, "openstack.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trimEnd().split("\n") : [];
}

/** A ceph_client.yml as tripleo_cephadm's export writes it (templates/ceph_client.yaml.j2). */
function writeClientVars(stack: string, cluster: string, key: string) {
    const dir = path.join(srv.home, "overcloud-deploy", stack);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, "ceph_client.yml"),
        `---
tripleo_ceph_client_fsid: f-${cluster}
tripleo_ceph_client_cluster: ${cluster}
external_cluster_mon_ips: "[v2:1.2.3.4:3300/0,v1:1.2.3.4:6789/0]"
keys:
- name: client.openstack
  key: ${key}
  caps:
    mgr: allow *
    mon: profile rbd
    osd: profile rbd pool=vms, profile rbd pool=volumes, profile rbd pool=images
`,
    );
}

describe("CephExport CRUD", () => {
    const inputs = () => ({
        ...base,
        stacks: ["dcn0", "dcn1"],
        outputFile: "~/dcn/control-plane/ceph-export-dcn-stacks.yaml",
        sourceSpecs: ["h0", "h1"],
        keyClientName: "openstack",
        configDownloadDir: "",
        timeoutMinutes: 30,
    });
    const key0 = "AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ==";
    const key1 = "AQC+vYNXgDAgAhAAc8UoYt+OTz5uhV7ItLdwUw==";

    // tripleoclient export.py export_ceph lists <config-download-dir>/<stack> and takes the cephadm
    // path only when 'cephadm' is in it (reading ~/overcloud-deploy/<stack>/ceph_client.yml); the
    // seed exports the DCN clusters before those stacks are deployed, when no config-download of
    // theirs exists. With the default "" the job makes <dir of output>/.config-download-<name>/<stack>/cephadm.
    it("exports before any stack deploy via a cephadm marker dir per stack, parses the clusters, deletes idempotently", async () => {
        writeClientVars("dcn0", "dcn0", key0);
        writeClientVars("dcn1", "dcn1", key1);
        const { id, outs } = await cephExportProvider.create(inputs());
        assert.equal(id, "dcn0,dcn1");
        assert.deepEqual(
            outs.clusters.map((c: { cluster: string }) => c.cluster),
            ["dcn0", "dcn1"],
        );
        assert.equal(outs.clusters[0].keys[0].key, key0);
        const cdd = `${srv.home}/dcn/control-plane/.config-download-ceph-export-dcn-stacks`;
        assert.ok(
            openstackLog().includes(
                `overcloud export ceph -f --stack dcn0,dcn1 --cephx-key-client-name openstack --config-download-dir ${cdd} --output-file ${srv.home}/dcn/control-plane/ceph-export-dcn-stacks.yaml`,
            ),
        );
        for (const s of ["dcn0", "dcn1"]) {
            assert.deepEqual(fs.readdirSync(path.join(cdd, s)), ["cephadm"]);
        }
        const read = await cephExportProvider.read!(id, outs);
        assert.equal(read.props!.exportHash, outs.exportHash);
        await cephExportProvider.delete!(id, outs);
        await cephExportProvider.delete!(id, outs);
        assert.equal((await cephExportProvider.read!(id, outs)).id, "");
    });
});

describe("OvercloudStack read", () => {
    it("a stack whose working dir is gone reads as gone (refresh drops it, the next up recreates it)", async () => {
        const props = { ...base, stack: "dcn7", status: "DEPLOY_SUCCESS", endpoints: {} };
        assert.equal((await overcloudStackProvider.read!("dcn7", props)).id, "");
        fs.mkdirSync(path.join(srv.home, "overcloud-deploy", "dcn7"), { recursive: true });
        fs.writeFileSync(path.join(srv.home, "overcloud-deploy", "dcn7", "dcn7rc"), "export OS_CLOUD=dcn7\n");
        const r = await overcloudStackProvider.read!("dcn7", props);
        assert.equal(r.id, "dcn7");
        assert.equal(r.props!.status, "DEPLOY_SUCCESS");
    });

    // tripleoclient v1/overcloud_deploy.py GetDeploymentStatus: a plain cliff Command with only
    // --plan/--stack and --working-dir (so `-f`/`-c` are argparse errors), printing
    // PrettyTable(['Stack Name', 'Deployment Status']) from <working dir>/<stack>-deployment_status.yaml.
    it("status is read from `openstack overcloud status --stack <s>`'s table, without -f/-c", async () => {
        const dir = path.join(srv.home, "overcloud-deploy", "dcn8");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "dcn8rc"), "export OS_CLOUD=dcn8\n");
        fs.writeFileSync(path.join(dir, "dcn8-deployment_status.yaml"), "deployment_status: DEPLOY_FAILED\n");
        const props = { ...base, stack: "dcn8", status: "DEPLOY_SUCCESS", endpoints: {} };
        const r = await overcloudStackProvider.read!("dcn8", props);
        assert.equal(r.props!.status, "DEPLOY_FAILED");
        const calls = openstackLog().filter((l) => l.startsWith("overcloud status") && l.includes("dcn8"));
        assert.deepEqual(calls, ["overcloud status --stack dcn8"]);
    });
});

describe("OvercloudStack delete", () => {
    // tripleoclient v2/overcloud_delete.py DeleteOvercloud.take_action: without --skip-ipa-cleanup
    // the playbooks are ["cli-cleanup-ipa.yml", "cli-overcloud-delete.yaml"], and tripleo-ipa's
    // cli-cleanup-ipa.yml is not shipped with tripleo-ansible 6.0.0 (the run fails before any play).
    it("runs `overcloud delete <stack> --yes --skip-ipa-cleanup`", async () => {
        fs.mkdirSync(path.join(srv.home, "overcloud-deploy", "dcn9"), { recursive: true });
        const props = { ...base, stack: "dcn9", workDir: "~/dcn/dcn9", timeoutMinutes: 5 };
        await overcloudStackProvider.delete!("dcn9", props);
        assert.ok(openstackLog().includes("overcloud delete dcn9 --yes --skip-ipa-cleanup"));
        assert.ok(!fs.existsSync(path.join(srv.home, "overcloud-deploy", "dcn9")));
    });
});

describe("CephCluster deploy: the cephx key", () => {
    // tripleoclient v2/overcloud_ceph.py OvercloudCephDeploy: a NEW key (passwords.create_cephx_key)
    // whenever the --ansible-extra-vars file has tripleo_cephadm_pools but not tripleo_cephadm_keys;
    // the fake does the same, so a re-run keeps the key only if the program passes it in the file.
    const inputs = (metalSpec: string, clientKeyGeneration = 0) => ({
        ...base,
        stack: "dcn3",
        clusterName: "dcn3",
        metalFile: "/w/deployed-metal-dcn3.yaml",
        metalSpec,
        rolesFile: "/w/roles-dcn3.yaml",
        networkDataFile: "~/n.yaml",
        containerPrepareFile: "~/c.yaml",
        workDir: "~/dcn/dcn3",
        singleHostDefaults: true,
        pools: DEFAULT_POOLS,
        clientKeyGeneration,
        timeoutMinutes: 5,
    });
    const cephx = /^[A-Za-z0-9+/]{38}==$/;
    const poolsFile = () => path.join(srv.home, "dcn", "dcn3", "pools-dcn3.yml");
    const clientVars = () => path.join(srv.home, "overcloud-deploy", "dcn3", "ceph_client.yml");

    it("first deploy lets tripleoclient make the key; a re-run keeps it; a generation bump rotates it", async () => {
        const first = await cephClusterProvider.create(inputs("m1"));
        const k1 = first.outs.clientKey as string;
        assert.match(k1, cephx);
        assert.ok(!fs.readFileSync(poolsFile(), "utf8").includes("tripleo_cephadm_keys"));

        // Re-run (new metal): the key in use goes to tripleoclient in the extra-vars file, never argv.
        const again = await cephClusterProvider.update!(first.id, first.outs, inputs("m2"));
        assert.equal(again.outs.clientKey, k1);
        assert.equal(again.outs.clientVarsFile, clientVars());
        assert.ok(fs.readFileSync(clientVars(), "utf8").includes(`key: ${k1}`));
        assert.ok(fs.readFileSync(poolsFile(), "utf8").includes("tripleo_cephadm_keys"));
        assert.equal(fs.statSync(poolsFile()).mode & 0o777, 0o600);
        assert.ok(!openstackLog().some((l) => l.includes(k1)));

        // cephKeyGeneration bumped: tripleoclient makes a new key.
        const rotated = await cephClusterProvider.update!(first.id, again.outs, inputs("m3", 1));
        assert.match(rotated.outs.clientKey as string, cephx);
        assert.notEqual(rotated.outs.clientKey, k1);
    });

    it("state lost (no outputs), deployed-ceph gone but the cluster's ceph_client.yml there: its key is kept", async () => {
        const key = "AQC+vYNXgDAgAhAAc8UoYt+OTz5uhV7ItLdwUw==";
        writeClientVars("dcn4", "dcn4", key);
        const r = await cephClusterProvider.create({ ...inputs("m4"), stack: "dcn4", clusterName: "dcn4" });
        assert.equal(r.outs.clientKey, key);
    });
});
