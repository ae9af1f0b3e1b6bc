// Provider CRUD against the in-process SSH server (real shell, temp $HOME) for the steps that need
// no TripleO CLI, plus a fake `openstack` on PATH for export/status: idempotent create, read drift,
// full outputs on update, delete tolerating "already gone".
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { closeAll } from "../../providers/remote/ssh";
import { glanceMultistoreProvider, renderGlanceEnv } from "../../providers/glanceMultistore";
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
    // A fake `openstack` for `overcloud export ceph` (writes a two-cluster export) and `overcloud status`.
    const bin = path.join(srv.home, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(
        path.join(bin, "openstack"),
        `#!/bin/sh
echo "$*" >> "$HOME/openstack.log"
case "$1 $2 $3" in
  "overcloud export ceph")
    out=""; while [ $# -gt 0 ]; do [ "$1" = "--output-file" ] && out="$2"; shift; done
    printf 'parameter_defaults:\\n  CephExternalMultiConfig:\\n  - cluster: dcn0\\n    fsid: f0\\n    external_cluster_mon_ips: "[v2:1.2.3.4:3300/0]"\\n    keys: [{name: client.openstack, key: SECRET0==}]\\n  - cluster: dcn1\\n    fsid: f1\\n    keys: [{name: client.openstack, key: SECRET1==}]\\n' > "$out" ;;
  "overcloud status --stack") echo "No deployment status found" >&2; exit 1 ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`,
        { mode: 0o755 },
    );
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

describe("CephExport CRUD", () => {
    const inputs = () => ({
        ...base,
        stacks: ["dcn0", "dcn1"],
        outputFile: "~/dcn/control-plane/ceph-export-dcn-stacks.yaml",
        sourceHashes: ["h0", "h1"],
        keyClientName: "openstack",
        configDownloadDir: "~/overcloud-deploy/",
        timeoutMinutes: 30,
    });

    it("exports with quoted argv, parses the clusters, and deletes idempotently", async () => {
        const { id, outs } = await cephExportProvider.create(inputs());
        assert.equal(id, "dcn0,dcn1");
        assert.deepEqual(
            outs.clusters.map((c: { cluster: string }) => c.cluster),
            ["dcn0", "dcn1"],
        );
        assert.equal(outs.clusters[0].keys[0].key, "SECRET0==");
        const log = fs.readFileSync(path.join(srv.home, "openstack.log"), "utf8");
        assert.match(
            log,
            new RegExp(
                `overcloud export ceph -f --stack dcn0,dcn1 --cephx-key-client-name openstack --config-download-dir ${srv.home}/overcloud-deploy/ --output-file ${srv.home}/dcn/control-plane/ceph-export-dcn-stacks.yaml`,
            ),
        );
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
});
