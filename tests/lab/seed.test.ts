// The seed's order by hand over the lab's SSH (reference §3.1), then: three running Ceph clusters
// whose exports carry their real fsids, rbd as client.openstack with an exported config, state
// and data surviving `lab stop` / `lab start`, the command log contract and redaction.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { Lab, portFor, seed } from "./helpers";

const lab = new Lab(portFor("seed"), 0.02);

before(() => lab.start());
after(() => lab.destroy());

interface ExportItem {
    cluster: string;
    fsid: string;
    external_cluster_mon_ips: string;
    keys: Array<{ name: string; key: string }>;
    dashboard_enabled: boolean;
    ceph_conf_overrides: { client: { keyring: string } };
}

async function exported(file: string): Promise<ExportItem[]> {
    const r = await lab.ok(`cat ~/dcn/${file}`);
    return (parse(r.stdout) as { parameter_defaults: { CephExternalMultiConfig: ExportItem[] } }).parameter_defaults
        .CephExternalMultiConfig;
}

/** Client files an overcloud node would get from CephExternalMultiConfig. */
function clientFiles(item: ExportItem, dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    const keyring = path.join(dir, `${item.cluster}.client.openstack.keyring`);
    fs.writeFileSync(keyring, `[client.openstack]\n\tkey = ${item.keys[0].key}\n`, { mode: 0o600 });
    const conf = path.join(dir, `${item.cluster}.conf`);
    fs.writeFileSync(
        conf,
        `[global]\nfsid = ${item.fsid}\nmon host = ${item.external_cluster_mon_ips.replace(/\/0/g, "")}\nkeyring = ${keyring}\n`,
    );
    return conf;
}

test("the seed order succeeds over SSH and leaves three running clusters", { timeout: 300_000 }, async () => {
    const t0 = Date.now();
    await seed(lab);
    const s = lab.state();
    assert.deepEqual(
        s.stacks.map((x) => [x.name, x.status]),
        [
            ["control-plane", "DEPLOY_SUCCESS"],
            ["dcn0", "DEPLOY_SUCCESS"],
            ["dcn1", "DEPLOY_SUCCESS"],
        ],
    );
    assert.deepEqual(
        s.cephClusters.map((c) => [c.name, c.stack, c.running]),
        [
            ["central", "control-plane", true],
            ["dcn0", "dcn0", true],
            ["dcn1", "dcn1", true],
        ],
    );
    assert.equal(new Set(s.cephClusters.map((c) => c.fsid)).size, 3);
    for (const n of ["oc0-controller-0", "oc0-ceph-0", "oc0-ceph-1", "oc0-ceph-2", "oc0-ceph-3", "oc0-compute-0"])
        assert.equal(s.nodes.find((x) => x.name === n)?.state, "active");
    console.log(`seed flow at time scale ${lab.timeScale}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test("ceph exports carry the real fsids (ceph fsid) and mon addresses", async () => {
    const items = [
        ...(await exported("ceph-export-control-plane.yaml")),
        ...(await exported("ceph-export-2-stacks.yaml")),
    ];
    assert.deepEqual(
        items.map((i) => i.cluster),
        ["central", "dcn0", "dcn1"],
    );
    const s = lab.state();
    for (const item of items) {
        const c = s.cephClusters.find((x) => x.name === item.cluster)!;
        const adminConf = path.join(lab.dir, "ceph", c.stack, `${c.name}.conf`);
        const real = execFileSync("ceph", ["-c", adminConf, "--connect-timeout", "10", "fsid"], {
            encoding: "utf8",
        }).trim();
        assert.equal(item.fsid, real);
        assert.equal(item.dashboard_enabled, false);
        assert.equal(item.ceph_conf_overrides.client.keyring, `/etc/ceph/${item.cluster}.client.openstack.keyring`);
        assert.deepEqual(
            item.keys.map((k) => k.name),
            ["client.openstack"],
        );
        assert.match(
            item.external_cluster_mon_ips,
            /^\[v2:127\.\d+\.\d+\.\d+:3300\/0,v1:127\.\d+\.\d+\.\d+:6789\/0\]$/,
        );
    }
    assert.equal(new Set(items.map((i) => i.external_cluster_mon_ips)).size, 3, "each site has its own mon IP");
});

test("rbd as client.openstack with a site's exported config creates and clones an image", async () => {
    const [dcn0] = await exported("ceph-export-2-stacks.yaml");
    const conf = clientFiles(dcn0, path.join(lab.dir, "client-dcn0"));
    const rbd = (...args: string[]) =>
        execFileSync("timeout", ["60", "rbd", "-c", conf, "--id", "openstack", ...args], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
    rbd("create", "--size", "8M", "images/cirros");
    rbd("snap", "create", "images/cirros@snap");
    rbd("snap", "protect", "images/cirros@snap");
    rbd("clone", "images/cirros@snap", "vms/server1_disk");
    assert.match(rbd("ls", "-l", "vms"), /server1_disk\s+8 MiB\s+images\/cirros@snap/);
});

test("the central rc file works for token issue and the DCN aggregates exist", async () => {
    const tok = await lab.ok(`source ~/control-planerc && openstack token issue -f value -c id`);
    assert.match(tok.stdout.trim(), /^gAAAA/);
    const agg = await lab.ok(`source ~/control-planerc && openstack aggregate show dcn1 -f json`);
    assert.equal(JSON.parse(agg.stdout).availability_zone, "dcn1");
    const bad = await lab.ssh(`source ~/control-planerc && OS_PASSWORD=wrong openstack token issue`);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /HTTP 401/);
    const exp = parse(
        (await lab.ok(`cat ~/overcloud-deploy/control-plane/control-plane-export.yaml`)).stdout,
    ).parameter_defaults;
    assert.equal(exp.AddVipsToEtcHosts, false);
    assert.equal(exp.AuthCloudName, "control-plane");
    assert.ok(exp.EndpointMapOverride.KeystonePublic);
    assert.ok(!Object.keys(exp).some((k) => /^ceph/i.test(k)), "no Ceph* in the stack export");
});

test("command log: one object per command with exactly the contract keys, secrets redacted", async () => {
    const log = lab.log();
    assert.ok(log.length >= 20);
    for (const e of log) assert.deepEqual(Object.keys(e), ["start", "end", "argv", "stack", "exit", "mutating"]);
    const token = log.find((e) => e.argv.slice(0, 3).join(" ") === "openstack token issue")!;
    assert.equal(token.mutating, false);
    const deploys = log.filter((e) => e.argv.slice(0, 3).join(" ") === "openstack overcloud deploy");
    assert.deepEqual(
        deploys.map((e) => [e.stack, e.exit, e.mutating]),
        [
            ["control-plane", 0, true],
            ["dcn0", 0, true],
            ["dcn1", 0, true],
        ],
    );
    const raw =
        fs.readFileSync(path.join(lab.dir, "commands.jsonl"), "utf8") +
        lab.cli("state", "--json").stdout +
        lab.cli("log").stdout;
    assert.doesNotMatch(raw, /[A-Za-z0-9+/]{38}==/);
    const r = await lab.ssh(
        `openstack overcloud ceph deploy x.yaml -o out.yaml --ceph-client-key AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ== --stack nope`,
    );
    assert.notEqual(r.code, 0);
    const last = lab.log().at(-1)!;
    assert.ok(last.argv.includes("<redacted>"));
    assert.doesNotMatch(JSON.stringify(last), /AQBO/);
});

test("state and data survive lab stop / lab start", { timeout: 120_000 }, async () => {
    const before = lab.state();
    lab.stop();
    assert.ok(lab.state().cephClusters.every((c) => !c.running));
    assert.notEqual((await lab.ssh("true")).code, 0, "no SSH while stopped");
    lab.start();
    const after = lab.state();
    assert.deepEqual(after.nodes, before.nodes);
    assert.deepEqual(after.stacks, before.stacks);
    assert.deepEqual(
        after.cephClusters.map((c) => [c.name, c.fsid, c.running]),
        before.cephClusters.map((c) => [c.name, c.fsid, true]),
    );
    const [dcn0] = await exported("ceph-export-2-stacks.yaml");
    const conf = clientFiles(dcn0, path.join(lab.dir, "client-dcn0"));
    const ls = execFileSync("timeout", ["60", "rbd", "-c", conf, "--id", "openstack", "ls", "images"], {
        encoding: "utf8",
    });
    assert.match(ls, /cirros/);
    // tripleoclient's status is a PrettyTable without -f/-c.
    const st = await lab.ok(`openstack overcloud status --stack dcn1`);
    assert.match(st.stdout, /\|\s+dcn1\s+\|\s+DEPLOY_SUCCESS\s+\|/);
});

test(
    "teardown: delete keeps nodes, unprovision frees them and stops the site's cluster",
    { timeout: 120_000 },
    async () => {
        await lab.ok(`openstack overcloud delete dcn1 -y`);
        let s = lab.state();
        assert.ok(!s.stacks.some((x) => x.name === "dcn1"));
        assert.equal(s.nodes.find((n) => n.name === "oc0-ceph-3")?.stack, "dcn1");
        assert.notEqual((await lab.ssh(`test -d ~/overcloud-deploy/dcn1`)).code, 0);
        await lab.ok(`openstack overcloud node unprovision --all -y --stack dcn1 ~/metalsmith/dcn1.yaml`);
        s = lab.state();
        assert.equal(s.nodes.find((n) => n.name === "oc0-ceph-3")?.stack, null);
        assert.equal(s.cephClusters.find((c) => c.name === "dcn1")?.running, false);
        assert.notEqual((await lab.ssh(`metalsmith show oc0-ceph-3`)).code, 0);
        await lab.ok(
            `openstack baremetal node manage oc0-ceph-3 && openstack baremetal node clean oc0-ceph-3 --clean-steps '[{"interface": "deploy", "step": "erase_devices_metadata"}]' --wait && openstack baremetal node provide oc0-ceph-3`,
        );
        s = lab.state();
        assert.ok(!s.cephClusters.some((c) => c.name === "dcn1"), "cleaning the disks wiped the cluster");
        assert.ok(!fs.existsSync(path.join(lab.dir, "ceph", "dcn1", "osd")));
        // §8.12: the central stack keeps its (now stale) dcn1 store until it is updated.
        const central = JSON.parse(lab.cli("state", "--json").stdout).stacks.find(
            (x: { name: string }) => x.name === "control-plane",
        );
        assert.deepEqual(
            central.glanceStores.find((g: { id: string }) => g.id === "dcn1"),
            { id: "dcn1", cluster: "dcn1", usable: false },
        );
    },
);
