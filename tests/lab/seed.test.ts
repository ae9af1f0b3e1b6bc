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

test("central's Nova and Cinder records: services of every site, refusals like Nova's, cinder-manage on a controller", async () => {
    const C = "source ~/control-planerc && ";
    const compute = JSON.parse((await lab.ok(`${C}openstack compute service list --long -f json`)).stdout) as Array<
        Record<string, string>
    >;
    const zone = (h: string) => compute.find((c) => c.Host === `${h}.localdomain`)?.Zone;
    // NovaCompute roles only (CephAll runs none): central's HCI node, dcn0's two nodes, dcn1's compute.
    assert.deepEqual(compute.map((c) => c.Host).sort(), [
        "oc0-ceph-0.localdomain",
        "oc0-ceph-1.localdomain",
        "oc0-ceph-2.localdomain",
        "oc0-compute-0.localdomain",
    ]);
    assert.deepEqual([zone("oc0-ceph-0"), zone("oc0-ceph-1"), zone("oc0-compute-0")], ["nova", "dcn0", "dcn1"]);
    assert.ok(compute.every((c) => c.State === "up" && c.Status === "enabled" && "Disabled Reason" in c));
    const volume = JSON.parse((await lab.ok(`${C}openstack volume service list -f json`)).stdout) as Array<
        Record<string, string>
    >;
    // The seed gives central no CinderStorageAvailabilityZone: THT's default zone, nova.
    assert.deepEqual(
        volume.map((v) => `${v.Host} ${v.Zone}`).sort(),
        [
            "hostgroup@tripleo_ceph nova",
            "oc0-ceph-1.localdomain@tripleo_ceph dcn0",
            "oc0-compute-0.localdomain@tripleo_ceph dcn1",
        ].sort(),
    );
    // What python-openstackclient and Nova refuse.
    const reasonOnly = await lab.ssh(
        `${C}openstack compute service set --disable-reason x oc0-ceph-1.localdomain nova-compute`,
    );
    assert.match(reasonOnly.stderr, /Cannot specify option --disable-reason without --disable specified/);
    assert.equal((await lab.ssh(`${C}openstack compute service delete`)).code, 2);
    assert.equal((await lab.ssh(`${C}openstack aggregate remove host dcn1`)).code, 2);
    const notEmpty = await lab.ssh(`${C}openstack aggregate delete dcn1`);
    assert.match(notEmpty.stderr, /Host aggregate is not empty/);
    assert.match(notEmpty.stderr, /1 of 1 aggregates failed to delete/);
    const zoneless = await lab.ssh(`${C}openstack volume create --size 1 --availability-zone nowhere v0`);
    assert.match(zoneless.stderr, /Availability zone 'nowhere' is invalid/);
    const vol = JSON.parse(
        (await lab.ok(`${C}openstack volume create --size 1 --availability-zone dcn1 v1 -f json`)).stdout,
    );
    assert.equal(vol.availability_zone, "dcn1");
    assert.match((await lab.ok(`${C}openstack volume list -f value -c Name`)).stdout, /^v1$/m);
    await lab.ok(`${C}openstack volume delete v1`);
    // Disabled, then removed in a controller's cinder_api container (not on a DCN node, not without sudo).
    await lab.ok(
        `${C}openstack volume service set --disable --disable-reason gone oc0-compute-0.localdomain@tripleo_ceph cinder-volume`,
    );
    const ip = (h: string) =>
        (lab.state() as unknown as { nodes: Array<{ hostname: string; ctlplaneIp: string }> }).nodes.find(
            (n) => n.hostname === h,
        )!.ctlplaneIp;
    const remove =
        "podman exec cinder_api cinder-manage service remove cinder-volume oc0-compute-0.localdomain@tripleo_ceph";
    assert.equal((await lab.ssh(`ssh tripleo-admin@${ip("oc0-compute-0")} sudo ${remove}`)).code, 125);
    assert.notEqual((await lab.ssh(`ssh tripleo-admin@${ip("oc0-controller-0")} ${remove}`)).code, 0);
    const removed = await lab.ok(`ssh tripleo-admin@${ip("oc0-controller-0")} sudo ${remove}`);
    assert.match(removed.stdout, /Service cinder-volume on host oc0-compute-0.localdomain@tripleo_ceph removed\./);
    const again = await lab.ssh(`ssh tripleo-admin@${ip("oc0-controller-0")} sudo ${remove}`);
    assert.equal(again.code, 2);
    assert.match(again.stdout, /Host not found/);
    const cinderLog = lab.log().filter((e) => e.argv.includes("cinder-manage"));
    assert.ok(cinderLog.length > 0 && cinderLog.every((e) => e.mutating));
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
