// tools/validate against the lab after the seed, as on a real cloud: the overcloud APIs from the
// undercloud with the central rc (a flavor the run creates, `server create --wait --nic none`,
// cleanup servers → image → flavor), the RBD checks through each site's own node (`ssh
// tripleo-admin@<ctlplane ip> sudo cephadm shell -- rbd …`), nothing read from a lab-only path.
// The flow passes for dcn0 and dcn1 and leaves nothing behind; with dcn1's keyring removed from the
// central Glance's view, it fails naming dcn1 while dcn0 still passes; with a third DCN site added
// (and the central stack updated), it passes for all three. The CLI refuses inputs the program's
// schema refuses.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { parse, stringify } from "yaml";
import {
    GLANCE_UPDATE,
    Lab,
    REPO,
    centralDeployCommand,
    dcnDeployCommand,
    dcnGlance,
    dcnOverrides,
    metalCommands,
    portFor,
    seed,
} from "./helpers";
import { parseGlanceTable, parseStoresInfo } from "../../tools/validate/validate";

const lab = new Lab(portFor("validate"), 0.02);

interface Report {
    image: string | null;
    stores: string[];
    sites: Record<string, { copied: boolean; snapProtected: boolean; cowBoot: boolean; error?: string }>;
    error?: string;
}

function validate(...args: string[]): { code: number; report: Report; stderr: string; seconds: number } {
    const t0 = Date.now();
    const r = spawnSync(
        path.join(REPO, "node_modules", ".bin", "tsx"),
        [
            path.join(REPO, "tools", "validate", "cli.ts"),
            "--connection",
            path.join(lab.dir, "connection.json"),
            ...args,
        ],
        { encoding: "utf8", timeout: 300_000 },
    );
    const lines = r.stdout.trim().split("\n");
    return {
        code: r.status ?? -1,
        report: JSON.parse(lines[lines.length - 1]) as Report,
        stderr: r.stderr,
        seconds: (Date.now() - t0) / 1000,
    };
}

test("glanceclient tables: wrapped values are joined; stores-info ids and the default store", () => {
    const table = [
        "+----------+------------------------------------------------+",
        "| Property | Value                                          |",
        "+----------+------------------------------------------------+",
        '| stores   | [{"id": "central", "description": "central",   |',
        '|          | "default": "true"}, {"id": "dc                 |',
        '|          | n0", "description": "x"}]                      |',
        "| id       | 29f73067-cf0a-4976-a520-                       |",
        "|          | f77d6cbca588                                   |",
        "+----------+------------------------------------------------+",
    ].join("\n");
    assert.equal(parseGlanceTable(table).id, "29f73067-cf0a-4976-a520-f77d6cbca588");
    assert.deepEqual(parseStoresInfo(table), { ids: ["central", "dcn0"], defaultStore: "central" });
});

before(async () => {
    lab.start();
    await seed(lab);
});
after(() => lab.destroy());

test("the validation passes for dcn0 and dcn1 after the seed, the way it runs on a real cloud", () => {
    const from = lab.log().length;
    const v = validate("--stack-config", path.join(REPO, "Pulumi.dev.yaml"));
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(v.report.stores, ["central", "dcn0", "dcn1"]);
    assert.deepEqual(v.report.sites, {
        dcn0: { copied: true, snapProtected: true, cowBoot: true },
        dcn1: { copied: true, snapProtected: true, cowBoot: true },
    });
    const log = lab.log().slice(from);
    const cmd = (e: { argv: string[] }) => e.argv.join(" ");
    // Its own flavor, servers waited for, no network needed, in each site's AZ.
    const flavor = log.find((e) => e.argv.slice(1, 3).join(" ") === "flavor create")!;
    assert.ok(flavor, "a flavor of its own");
    const flavorName = flavor.argv[flavor.argv.length - 1];
    const boots = log.filter((e) => e.argv.slice(1, 3).join(" ") === "server create");
    assert.equal(boots.length, 2);
    for (const b of boots) {
        assert.ok(b.argv.includes("--wait"), cmd(b));
        assert.deepEqual(b.argv.slice(b.argv.indexOf("--nic"), b.argv.indexOf("--nic") + 2), ["--nic", "none"]);
        assert.notEqual(b.argv[b.argv.indexOf("--flavor") + 1], "m1.tiny");
    }
    // RBD through a mon node of each site.
    for (const site of ["dcn0", "dcn1"]) {
        assert.ok(
            log.some(
                (e) =>
                    e.stack === site &&
                    /^ssh tripleo-admin@192\.168\.24\.\d+ sudo cephadm shell --config \/etc\/ceph\/\w+\.conf --keyring \S+ -- rbd info --format json images\/[0-9a-f-]{36}@snap$/.test(
                        cmd(e),
                    ),
            ),
            `${site}: rbd info through a node`,
        );
    }
    // Cleanup in the order Ceph allows: the servers (waited for), then the image, then the flavor.
    const del = log.findIndex((e) => e.argv.slice(1, 3).join(" ") === "server delete");
    assert.ok(del >= 0 && log[del].argv.includes("--wait"));
    const flavorDel = log.findIndex((e) => e.argv.slice(1, 3).join(" ") === "flavor delete");
    assert.ok(flavorDel > del, "flavor deleted after the servers");
    assert.ok(!log.some((e) => cmd(e).includes(flavorName) && e.exit !== 0 && e.argv[2] === "delete"));
    console.log(`validation flow: ${v.seconds.toFixed(1)} s`);
});

test("the image, the servers and the flavor are cleaned up; no path only the lab has was read", async () => {
    const images = await lab.ok(`source ~/control-planerc && glance image-list`);
    assert.doesNotMatch(images.stdout, /validate-/);
    const servers = await lab.ok(`source ~/control-planerc && openstack server list -f value`);
    assert.equal(servers.stdout.trim(), "");
    const flavors = await lab.ok(`source ~/control-planerc && openstack flavor list -f value`);
    assert.doesNotMatch(flavors.stdout, /validate-/);
    // The site nodes' /etc/ceph is on the nodes, not on the undercloud.
    const lsCeph = await lab.ssh(`ls ~/overcloud-deploy/dcn0/ceph`);
    assert.notEqual(lsCeph.code, 0);
});

test("the CLI refuses inputs the program's schema refuses (exit 2, naming the key), before connecting", () => {
    const bad = path.join(lab.dir, "bad-stack.yaml");
    const cfg = parse(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8")) as {
        config: Record<string, Array<Record<string, unknown>>>;
    };
    cfg.config["dcn-storage:sites"][1].name = "dcn0;touch /tmp/x";
    fs.writeFileSync(bad, stringify(cfg));
    for (const [args, msg] of [
        [["--stack-config", bad], /dcn-storage:sites\[1\]\.name/],
        [["--sites", "dcn0,$(id)"], /--sites: "\$\(id\)" not a stack name/],
        [["--rc", "~/rc; reboot"], /--rc: .* not an absolute or ~\/ path/],
        [["--network", "a b"], /--network: "a b" is not none, auto or a network name/],
    ] as Array<[string[], RegExp]>) {
        const r = spawnSync(
            path.join(REPO, "node_modules", ".bin", "tsx"),
            [
                path.join(REPO, "tools", "validate", "cli.ts"),
                "--connection",
                path.join(lab.dir, "connection.json"),
                ...args,
            ],
            { encoding: "utf8", timeout: 60_000 },
        );
        assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, msg);
    }
});

test("dcn1's keyring removed from the central Glance's view: dcn1 fails, dcn0 still passes", async () => {
    await lab.ok(`rm $LAB_DIR/glance/control-plane/ceph/dcn1.client.openstack.keyring`);
    const v = validate();
    assert.equal(v.code, 1);
    assert.deepEqual(v.report.sites.dcn0, { copied: true, snapProtected: true, cowBoot: true });
    assert.equal(v.report.sites.dcn1.copied, false);
    assert.equal(v.report.sites.dcn1.cowBoot, false);
    assert.match(v.report.sites.dcn1.error ?? "", /store dcn1 failed/);
    assert.match(v.stderr, /site dcn1 FAILED: copy-image to store dcn1 failed/);
    assert.deepEqual(v.report.stores, ["central", "dcn0"]);
});

test("a third DCN site added (central updated with its store): the validation passes for all three", async () => {
    const HCI = ["internal_api_cloud_0", "storage_cloud_0", "storage_mgmt_cloud_0", "tenant_cloud_0"];
    const networks = [{ network: "ctlplane", vif: true }, ...HCI.map((n) => ({ network: n, subnet: `${n}_subnet` }))];
    await lab.put(
        "metalsmith/dcn2.yaml",
        stringify([
            {
                name: "DistributedComputeHCI",
                count: 1,
                instances: [{ hostname: "oc0-spare-0", name: "oc0-spare-0" }],
                defaults: { networks, network_config: { template: "templates/single_nic_vlans/single_nic_vlans.j2" } },
            },
        ]),
    );
    await lab.put("dcn/dcn2/glance.yaml", dcnGlance("dcn2"));
    await lab.put("dcn/dcn2/overrides.yaml", dcnOverrides("dcn2"));
    await lab.put(
        "dcn/control-plane/glance_update_dcn2.yaml",
        GLANCE_UPDATE +
            "    dcn2: {GlanceBackend: rbd, GlanceStoreDescription: 'dcn2 rbd glance store', CephClientUserName: openstack, CephClusterName: dcn2}\n",
    );
    await lab.ok(`mkdir -p ~/dcn/dcn2 && cp ~/dcn/deployed-network.yaml ~/dcn/dcn2/deployed-network-dcn2.yaml`);
    for (const c of metalCommands("dcn2")) await lab.ok(c);
    await lab.ok(
        `cd ~/dcn/dcn2 && openstack overcloud roles generate DistributedComputeHCI -o dcn_roles.yaml && sed s/STACK/dcn2/g ~/pools_template.yml > ../pools-dcn2.yml && ` +
            `openstack overcloud ceph deploy $PWD/deployed-metal-dcn2.yaml -y -o $PWD/deployed-ceph-dcn2.yaml --single-host-defaults --container-image-prepare ~/containers-prepare-parameter.yaml --network-data ~/oc0-network-data.yaml --roles-data dcn_roles.yaml --cluster dcn2 --stack dcn2 --force --ansible-extra-vars ../pools-dcn2.yml`,
    );
    await lab.ok(
        `cd ~/dcn && openstack overcloud export ceph -f --stack dcn0,dcn1,dcn2 --config-download-dir ~/overcloud-deploy/`,
    );
    // The central update: the 3-site export and store map come after the seed's files (later -e wins).
    await lab.ok(centralDeployCommand("-e glance_update_dcn2.yaml -e ../ceph-export-3-stacks.yaml"));
    await lab.ok(`cd ~/dcn && cp ~/overcloud-deploy/control-plane/control-plane-export.yaml .`);
    await lab.ok(dcnDeployCommand("dcn2"));
    const v = validate();
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(v.report.stores, ["central", "dcn0", "dcn1", "dcn2"]);
    for (const site of ["dcn0", "dcn1", "dcn2"])
        assert.deepEqual(v.report.sites[site], { copied: true, snapProtected: true, cowBoot: true }, site);
    console.log(`validation flow with 3 DCN sites: ${v.seconds.toFixed(1)} s`);
});
