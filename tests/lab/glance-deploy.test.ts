// Real Glance in lab deploys: the seed by hand over SSH starts the central glance-api (stores
// central,dcn0,dcn1) and the edge Glance of each DCN site (GlanceApiEdge, central database);
// the rc file gives the image API to Debian's glance CLI; `openstack server create` COW-boots
// only from the site's own store; lab stop/start; wrong parameters fail the deploy; delete wipes.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { Lab, centralDeployCommand, dcnDeployCommand, portFor, seed } from "./helpers";

const lab = new Lab(portFor("glance-deploy"), 0.02);

interface GlanceView {
    stack: string;
    url: string;
    running: boolean;
    stores: string[];
}
const glance = (): GlanceView[] => (JSON.parse(lab.cli("state", "--json").stdout) as { glance: GlanceView[] }).glance;
const g = (stack: string) => glance().find((x) => x.stack === stack);
const CENTRAL = "source ~/control-planerc && ";

before(async () => {
    lab.start();
    await seed(lab);
});
after(() => lab.destroy());

test("the seed deploys start the central glance-api and the edge Glance of each DCN site", () => {
    assert.deepEqual(g("control-plane")?.stores, ["central", "dcn0", "dcn1"]);
    assert.equal(g("control-plane")?.running, true);
    assert.deepEqual(g("dcn0")?.stores, ["dcn0", "central"]);
    assert.equal(g("dcn0")?.running, true);
    assert.equal(g("dcn1")?.running, true);
    const deploys = lab.log().filter((e) => e.argv.slice(1, 3).join(" ") === "overcloud deploy");
    assert.equal(deploys.length, 3);
    assert.ok(deploys.every((e) => e.exit === 0));
});

test("the rc file gives Debian's glance CLI the central image API; tokens stay out of the log", async () => {
    const stores = await lab.ok(`${CENTRAL}glance stores-info`);
    for (const id of ["central", "dcn0", "dcn1"]) assert.match(stores.stdout, new RegExp(`"id": "${id}"`));
    const created = await lab.ok(
        `${CENTRAL}head -c 65536 /dev/urandom > /tmp/gd-$$.raw && glance image-create --disk-format raw --container-format bare --name t1 --file /tmp/gd-$$.raw --store central; rm -f /tmp/gd-$$.raw`,
    );
    const id = /\| id\s+\| ([0-9a-f-]{36})/.exec(created.stdout)?.[1];
    assert.ok(id, created.stdout);
    // The edge Glance of dcn0 shares the central database: the same image id is known there.
    const edge = await lab.ok(`${CENTRAL}OS_IMAGE_URL=${g("dcn0")!.url} glance image-show ${id}`);
    assert.match(edge.stdout, /\| stores\s+\| central\s+\|/);
    // Without a token Glance refuses (labauth, no plain noauth).
    const anon = await lab.ssh(`curl -s -o /dev/null -w '%{http_code}' ${g("control-plane")!.url}/v2/images`);
    assert.equal(anon.stdout, "401");
    // An overcloud has no flavor until one is made; it has no tenant network either (--nic none).
    const noFlavor = await lab.ssh(
        `${CENTRAL}openstack server create --image ${id} --flavor m1.tiny --nic none --availability-zone dcn0 vm-x`,
    );
    assert.match(noFlavor.stderr, /No Flavor found for m1.tiny/);
    await lab.ok(`${CENTRAL}openstack flavor create --ram 256 --disk 1 --vcpus 1 m1.tiny -f json`);
    const noNet = await lab.ssh(
        `${CENTRAL}openstack server create --image ${id} --flavor m1.tiny --availability-zone dcn0 vm-x`,
    );
    assert.match(noNet.stderr, /Unable to automatically allocate a network/);
    // An image that is only central cannot boot at dcn1 (NovaDisableImageDownloadToRbd).
    const refused = await lab.ssh(
        `${CENTRAL}openstack server create --image ${id} --flavor m1.tiny --nic none --availability-zone dcn1 vm-refused`,
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not on my ceph \(cluster dcn1/);
    // Copied to dcn0 it boots there as a COW clone of the local image.
    await lab.ok(`${CENTRAL}glance image-import ${id} --import-method copy-image --stores dcn0`);
    let stores0 = "";
    for (let i = 0; i < 30 && !/central,dcn0/.test(stores0); i++) {
        await new Promise((r) => setTimeout(r, 500));
        stores0 = (await lab.ok(`${CENTRAL}glance image-show ${id} | grep '| stores'`)).stdout;
    }
    assert.match(stores0, /central,dcn0/);
    // Without --wait the server is still building when the command returns.
    const building = await lab.ok(
        `${CENTRAL}openstack server create --image ${id} --flavor m1.tiny --nic none --availability-zone dcn0 vm-b -f json`,
    );
    assert.equal((JSON.parse(building.stdout) as Record<string, string>).status, "BUILD");
    const boot = await lab.ok(
        `${CENTRAL}openstack server create --image ${id} --flavor m1.tiny --nic none --availability-zone dcn0 --wait vm0 -f json`,
    );
    const server = JSON.parse(boot.stdout) as Record<string, string>;
    assert.equal(server.status, "ACTIVE");
    assert.equal(server["OS-EXT-AZ:availability_zone"], "dcn0");
    assert.match(server["lab:root_disk"], new RegExp(`parent images/${id}@snap`));
    assert.match((await lab.ok(`${CENTRAL}openstack server list`)).stdout, /vm0/);
    // The clones keep images/<id>@snap protected: the image can go only once the servers are gone.
    await lab.ok(`${CENTRAL}openstack server delete vm-b && openstack server delete --wait vm0`);
    const inUse = await lab.ssh(`${CENTRAL}glance image-delete ${id}`);
    assert.notEqual(inUse.code, 0, "vm-b's clone still holds the snapshot right after a delete without --wait");
    for (let i = 0; i < 40 && (await lab.ssh(`${CENTRAL}openstack server show vm-b`)).code === 0; i++)
        await new Promise((r) => setTimeout(r, 250));
    await lab.ok(`${CENTRAL}glance image-delete ${id} && openstack flavor delete m1.tiny`);

    const creates = lab.log().filter((e) => e.argv.slice(1, 3).join(" ") === "server create");
    assert.deepEqual(
        creates.map((e) => [e.exit === 0, e.mutating]),
        [
            [false, true],
            [false, true],
            [false, true],
            [true, true],
            [true, true],
        ],
    );
    const tokens = JSON.parse(fs.readFileSync(path.join(lab.dir, "glance", "tokens.json"), "utf8")) as Record<
        string,
        { token: string }
    >;
    const logText = fs.readFileSync(path.join(lab.dir, "commands.jsonl"), "utf8");
    for (const t of Object.values(tokens)) assert.ok(!logText.includes(t.token));
});

test("lab stop stops every glance-api and lab start restarts them", () => {
    lab.stop();
    assert.ok(glance().every((x) => !x.running));
    lab.start();
    assert.deepEqual(
        glance().map((x) => [x.stack, x.running]),
        [
            ["control-plane", true],
            ["dcn0", true],
            ["dcn1", true],
        ],
    );
});

test("a GlanceMultistoreConfig store without a CephExternalMultiConfig entry fails the central deploy", async () => {
    await lab.put(
        "dcn/control-plane/glance-dcn2.yaml",
        `parameter_defaults:\n  GlanceMultistoreConfig:\n    dcn0: {GlanceBackend: rbd, CephClusterName: dcn0}\n    dcn1: {GlanceBackend: rbd, CephClusterName: dcn1}\n    dcn2: {GlanceBackend: rbd, CephClusterName: dcn2}\n`,
    );
    const before = g("control-plane")!;
    const r = await lab.ssh(centralDeployCommand("-e glance-dcn2.yaml"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FAILED!.*\/etc\/ceph\/dcn2\.conf/);
    assert.match(r.stderr, /store dcn2 .*CephExternalMultiConfig has no item for cluster dcn2/);
    // The running Glance is untouched (the deploy stopped before configuring it).
    assert.deepEqual(g("control-plane"), before);
});

test("glance-api that cannot start fails the deploy with a failed Ansible task naming the problem", async () => {
    await lab.put("dcn/dcn1/bad-glance.yaml", `parameter_defaults:\n  GlanceBackend: file\n`);
    const r = await lab.ssh(dcnDeployCommand("dcn1", "-e bad-glance.yaml"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /fatal: \[.*\]: FAILED! => .*glance_api_edge failed to start: .*GlanceBackend file/);
    assert.equal(lab.state().stacks.find((s) => s.name === "dcn1")?.status, "DEPLOY_FAILED");
});

test("overcloud delete stops and wipes the stack's Glance", async () => {
    const dir = path.join(lab.dir, "glance", "dcn0");
    const pid = (JSON.parse(fs.readFileSync(path.join(dir, "glance-api.json"), "utf8")) as { pid: number }).pid;
    await lab.ok(`openstack overcloud delete dcn0 -y`);
    assert.equal(g("dcn0"), undefined);
    assert.ok(!fs.existsSync(dir));
    // Gone, or a zombie nobody reaped yet (detached daemons are reparented to PID 1 here).
    let state = "gone";
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    } catch {
        // no such process
    }
    assert.ok(["gone", "Z", "X"].includes(state), `glance-api pid ${pid} is still ${state}`);
    assert.equal(g("control-plane")?.running, true);
});
