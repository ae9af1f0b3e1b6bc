// Removing a DCN site through the program, against a private lab (imitation TripleO): the seed,
// then dcn1 (AZ dcn1: oc0-compute-0 runs its nova-compute and cinder-volume) removed from the
// config. While a server (then a volume) lives in dcn1's AZ, `preview` and `up` refuse, naming
// it, and nothing mutating runs on the undercloud. Once they are gone, `up` quiesces dcn1's
// services first, updates central, deletes dcn1, and only after its nodes are unprovisioned
// removes its compute services, aggregate and volume services from central: nothing of dcn1 is
// left (providers/centralCloud.ts; ci-framework's scaledown_site.yml adapted to TripleO).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { PulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { type LabLogEntry, type PrivateLab, type ProgramOnLab, devConfig, programOnLab } from "../support/lab";

let t: ProgramOnLab;
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
type LogEntry = LabLogEntry & { end: string; exit: number };

const CENTRAL = "source ~/control-planerc && ";
interface LabStateView {
    stacks: Array<{ name: string; status: string }>;
    aggregates: Array<{ name: string; hosts: string[] }>;
    glance: Array<{ stack: string; stores: string[] }>;
    computeServices: Array<{ host: string; stack: string; status: string }>;
    volumeServices: Array<{ host: string; stack: string; zone: string }>;
}
const labState = (): LabStateView => JSON.parse(privateLab.lab("state", "--json"));
const ssh = (cmd: string) => privateLab.lab("ssh", "--", cmd);
const text = (e: LogEntry) => e.argv.join(" ");

describe(
    "removing a DCN site cleans the central cloud",
    { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" },
    () => {
        before(async () => {
            const config = devConfig();
            (config["dcn-storage:settings"] as Record<string, unknown>).validation = { enabled: false };
            t = await programOnLab("removal", "removal", config);
            ({ lab: privateLab, ws } = t);
            await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        });

        after(() => t?.dispose());

        it("the deploy registered dcn1 in central: aggregate, compute and volume services", () => {
            const s = labState();
            // The lab's aggregate holds every host of the stack (oc0-ceph-3, CephAll, too): the cleanup removes those by hand.
            assert.ok(s.aggregates.find((a) => a.name === "dcn1")?.hosts.includes("oc0-compute-0.localdomain"));
            assert.deepEqual(
                s.computeServices.filter((c) => c.stack === "dcn1").map((c) => c.host),
                ["oc0-compute-0.localdomain"],
            );
            assert.deepEqual(
                s.volumeServices.filter((v) => v.stack === "dcn1").map((v) => [v.host, v.zone]),
                [["oc0-compute-0.localdomain@tripleo_ceph", "dcn1"]],
            );
            const listed = JSON.parse(
                ssh(`${CENTRAL}openstack compute service list --service nova-compute -f json`),
            ) as Array<Record<string, string>>;
            assert.equal(listed.find((c) => c.Host === "oc0-compute-0.localdomain")?.Zone, "dcn1");
        });

        it("refuses the removal, naming the server left in dcn1's AZ, before anything runs", async () => {
            const created = ssh(
                `${CENTRAL}head -c 65536 /dev/urandom > /tmp/rm-$$.raw && glance image-create --disk-format raw --container-format bare --name rm1 --file /tmp/rm-$$.raw --store central; rm -f /tmp/rm-$$.raw`,
            );
            const image = /\| id\s+\| ([0-9a-f-]{36})/.exec(created)?.[1];
            assert.ok(image, created);
            ssh(`${CENTRAL}glance image-import ${image} --import-method copy-image --stores dcn1`);
            for (
                let i = 0;
                i < 40 && !/central,dcn1/.test(ssh(`${CENTRAL}glance image-show ${image} | grep '| stores' || true`));
                i++
            )
                await new Promise((r) => setTimeout(r, 500));
            ssh(`${CENTRAL}openstack flavor create --ram 256 --disk 1 --vcpus 1 m1.tiny -f value -c id`);
            const server = JSON.parse(
                ssh(
                    `${CENTRAL}openstack server create --image ${image} --flavor m1.tiny --nic none --availability-zone dcn1 --wait vm-stays -f json`,
                ),
            ) as Record<string, string>;

            await ws.ok(["config", "rm", "--path", "sites[2]"]);
            const from = privateLab.log().length;
            const preview = await ws.run(["preview", "--non-interactive"]);
            assert.notEqual(preview.code, 0);
            assert.match(
                preview.stdout + preview.stderr,
                /site dcn1 cannot be removed: its availability zone dcn1 in the central cloud control-plane/,
            );
            assert.match(preview.stdout + preview.stderr, new RegExp(`servers vm-stays \\(${server.id}, ACTIVE\\)`));
            const up = await ws.run(["up", "--yes", "--non-interactive", "--skip-preview"]);
            assert.notEqual(up.code, 0);
            assert.match(up.stdout + up.stderr, /site dcn1 cannot be removed/);
            const log = privateLab.log().slice(from) as LogEntry[];
            assert.deepEqual(log.filter((e) => e.mutating).map(text), []);
            assert.ok(
                log.some((e) => /^openstack server list --all-projects --availability-zone dcn1/.test(text(e))),
                "the query ran",
            );
            const s = labState();
            assert.ok(s.stacks.some((x) => x.name === "dcn1"));
            assert.deepEqual(s.glance.find((g) => g.stack === "control-plane")?.stores, ["central", "dcn0", "dcn1"]);
            assert.ok(s.aggregates.some((a) => a.name === "dcn1"));

            ssh(`${CENTRAL}openstack server delete --wait vm-stays && glance image-delete ${image}`);
            // A volume left in the AZ is refused the same way.
            const vol = JSON.parse(
                ssh(`${CENTRAL}openstack volume create --size 1 --availability-zone dcn1 vol-stays -f json`),
            ) as {
                id: string;
            };
            const preview2 = await ws.run(["preview", "--non-interactive"]);
            assert.notEqual(preview2.code, 0);
            assert.match(preview2.stdout + preview2.stderr, new RegExp(`volumes vol-stays \\(${vol.id}, available\\)`));
            ssh(`${CENTRAL}openstack volume delete vol-stays`);
        });

        it("once nothing lives there, up removes dcn1 and leaves no aggregate, service or store behind", async () => {
            const from = privateLab.log().length;
            await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
            const log = privateLab.log().slice(from) as LogEntry[];
            const at = (re: RegExp) => log.findIndex((e) => re.test(text(e)));
            const disable = at(
                /^openstack compute service set --disable --disable-reason .* oc0-compute-0\.localdomain nova-compute$/,
            );
            const volumeDisable = at(
                /^openstack volume service set --disable .* oc0-compute-0\.localdomain@tripleo_ceph cinder-volume$/,
            );
            const centralDeploy = at(/^openstack overcloud deploy .*--stack control-plane/);
            const dcn1Delete = at(/^openstack overcloud delete dcn1/);
            const unprovision = log.findIndex(
                (e, i) => i > dcn1Delete && /^openstack overcloud node unprovision .*--stack dcn1/.test(text(e)),
            );
            const serviceDelete = at(/^openstack compute service delete /);
            const aggregateDelete = at(/^openstack aggregate delete dcn1$/);
            const cinderManage = at(
                /^ssh tripleo-admin@\S+ sudo podman exec cinder_api cinder-manage service remove cinder-volume oc0-compute-0\.localdomain@tripleo_ceph$/,
            );
            assert.ok(disable >= 0 && volumeDisable >= 0, "dcn1's services disabled");
            assert.ok(centralDeploy > disable && centralDeploy > volumeDisable, "quiesce before central's update");
            assert.ok(dcn1Delete > centralDeploy, "dcn1 deleted after central no longer uses it");
            assert.ok(unprovision > dcn1Delete, "dcn1's nodes unprovisioned");
            assert.ok(serviceDelete > unprovision, "compute services deleted once the nodes are gone");
            assert.ok(aggregateDelete > serviceDelete);
            assert.ok(cinderManage > unprovision, "volume service removed once the nodes are gone");
            for (const i of [serviceDelete, aggregateDelete, cinderManage]) assert.equal(log[i].exit, 0, text(log[i]));

            const s = labState();
            assert.ok(!s.stacks.some((x) => x.name === "dcn1"));
            assert.ok(!s.aggregates.some((a) => a.name === "dcn1"), "no dcn1 aggregate");
            assert.deepEqual(
                s.computeServices.filter((c) => c.stack === "dcn1"),
                [],
            );
            assert.deepEqual(
                s.volumeServices.filter((v) => v.stack === "dcn1" || v.zone === "dcn1"),
                [],
            );
            assert.deepEqual(s.glance.find((g) => g.stack === "control-plane")?.stores, ["central", "dcn0"]);
            // dcn0 is untouched in central.
            assert.ok(s.aggregates.some((a) => a.name === "dcn0"));
            assert.ok(s.computeServices.some((c) => c.stack === "dcn0" && c.status === "enabled"));
            const shown = await ws.run(["preview", "--expect-no-changes", "--non-interactive"]);
            assert.equal(shown.code, 0, shown.stdout + shown.stderr);
            assert.match(
                ssh(`${CENTRAL}openstack aggregate show dcn1 2>&1 || true`),
                /No aggregate with a name or ID of 'dcn1' exists/,
            );
        });
    },
);
