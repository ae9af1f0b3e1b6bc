// Scale-in through the program, against a private lab (imitation TripleO): the seed, then dcn0's
// DistributedComputeHCIScaleOut node (oc0-ceph-2, an OSD host) removed from the config. TripleO's
// flow (tripleo-docs deployed_ceph.rst "Scale Down", baremetal_provision.rst "Scaling Down"): the
// host's OSDs are drained and the host leaves the Ceph cluster (`ceph orch osd rm --zap`, wait,
// `ceph orch host rm`, through a node of the site) BEFORE `openstack overcloud node delete
// --baremetal-deployment`; the baremetal file keeps the instance as `provisioned: false`, so
// oc0-ceph-1 keeps its HostnameMap index and Heat gets the removal policy; the site's cluster
// keeps running with its fsid. Then a scale-in that would break a cluster's mon quorum is refused
// by preview, before any command runs.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import {
    type LabLogEntry,
    type PrivateLab,
    buildProgram,
    devConfig,
    programFixture,
    startPrivateLab,
    writeStackConfig,
} from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-scalein-"));
const labDir = path.join(root, "lab");
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
type LogEntry = LabLogEntry & { end: string; exit: number };

interface LabStateView {
    nodes: Array<{ name: string; stack: string | null; hostname: string | null; disksDirty: boolean }>;
    cephClusters: Array<{ name: string; stack: string; fsid: string; running: boolean; hosts: string[] }>;
    stacks: Array<{ name: string; status: string }>;
}
const labState = (): LabStateView => JSON.parse(privateLab.lab("state", "--json"));
const ssh = (cmd: string) => privateLab.lab("ssh", "--", cmd);

describe("scale-in through the program", { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" }, () => {
    before(async () => {
        buildProgram();
        privateLab = await startPrivateLab(labDir, "0.05", "imitation");
        const fixture = programFixture(path.join(root, "project"), labDir);
        const config = devConfig();
        const settings = config["dcn-storage:settings"] as Record<string, unknown>;
        // The scale-in alone (the multistore validation has its own tests).
        settings.validation = { enabled: false };
        writeStackConfig(fixture, "scalein", config);
        ws = await pulumiWorkspace(fixture, "scalein");
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
    });

    after(() => {
        privateLab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("removing dcn0's OSD host drains it from Ceph before node delete, keeps the entry and the indexes", async () => {
        const s0 = labState();
        const dcn0Before = s0.cephClusters.find((c) => c.stack === "dcn0")!;
        const node2 = s0.nodes.find((n) => n.hostname === "oc0-ceph-2")!;
        assert.ok(dcn0Before.hosts.includes(node2.name), "oc0-ceph-2 is a member of dcn0's cluster");
        const metal0 = parse(ssh("cat ~/dcn/dcn0/deployed-metal-dcn0.yaml")).parameter_defaults;
        const from = privateLab.log().length;

        // The ScaleOut role (its one instance) leaves the site.
        await ws.ok(["config", "rm", "--path", "sites[1].roles[1]"]);
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        const log = (privateLab.log() as LogEntry[]).slice(from);
        const text = (e: LogEntry) => e.argv.join(" ");

        // 1. Ceph first, through a node of the site: OSDs drained, then the host removed.
        const osdRm = log.findIndex((e) =>
            /^ssh tripleo-admin@\S+ sudo cephadm shell .* -- ceph orch osd rm \d/.test(text(e)),
        );
        const hostRm = log.findIndex((e) => /-- ceph orch host rm oc0-ceph-2$/.test(text(e)) && e.exit === 0);
        const nodeDelete = log.findIndex((e) => e.argv.slice(1, 4).join(" ") === "overcloud node delete");
        assert.ok(osdRm >= 0, "ceph orch osd rm through a node");
        assert.match(text(log[osdRm]), /--zap$/);
        assert.ok(hostRm > osdRm, "ceph orch host rm after the OSDs drained");
        // 2. TripleO's scale-down of the baremetal file.
        assert.ok(nodeDelete > hostRm, "overcloud node delete after the host left the cluster");
        assert.equal(log[nodeDelete].exit, 0);
        assert.deepEqual(log[nodeDelete].argv.slice(log[nodeDelete].argv.indexOf("--stack"), -2), [
            "--stack",
            "dcn0",
            "--timeout",
            "120",
        ]);
        assert.ok(log[nodeDelete].argv.includes("--baremetal-deployment"));
        assert.ok(
            !log.some((e) => e.argv.slice(1, 4).join(" ") === "baremetal node clean"),
            "no Ironic disk clean: Ceph zapped the OSD devices",
        );

        // 3. The file keeps the instance, provisioned: false; the indexes stay; Heat gets the removal policy.
        const file = parse(ssh("cat ~/dcn/dcn0/baremetal-dcn0.yaml")) as Array<{
            name: string;
            count: number;
            instances: Array<Record<string, unknown>>;
        }>;
        const scaleOut = file.find((r) => r.name === "DistributedComputeHCIScaleOut")!;
        assert.equal(scaleOut.count, 0);
        assert.deepEqual(scaleOut.instances, [{ hostname: "oc0-ceph-2", name: "oc0-ceph-2", provisioned: false }]);
        const metal1 = parse(ssh("cat ~/dcn/dcn0/deployed-metal-dcn0.yaml")).parameter_defaults;
        assert.deepEqual(metal1.HostnameMap, metal0.HostnameMap, "no HostnameMap index shifts");
        assert.equal(metal1.DistributedComputeHCIScaleOutCount, 0);
        assert.deepEqual(metal1.DistributedComputeHCIScaleOutRemovalPolicies, [{ resource_list: [0] }]);
        assert.equal(metal1.DistributedComputeHCICount, 1);

        // 4. The cluster lives on with its fsid; the node is free and its disks clean.
        const s1 = labState();
        const dcn0After = s1.cephClusters.find((c) => c.stack === "dcn0")!;
        assert.equal(dcn0After.fsid, dcn0Before.fsid);
        assert.ok(dcn0After.running, "dcn0's cluster still running");
        assert.ok(!dcn0After.hosts.includes(node2.name));
        const freed = s1.nodes.find((n) => n.name === node2.name)!;
        assert.equal(freed.stack, null);
        assert.equal(freed.disksDirty, false);
        for (const st of s1.stacks) assert.equal(st.status, "DEPLOY_SUCCESS", st.name);
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.deepEqual(
            out.sites.dcn0.nodes.map((n: { hostname: string }) => n.hostname),
            ["oc0-ceph-1"],
        );
        await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
    });

    it("a scale-in that would break the mon quorum is refused by preview, before anything runs", async () => {
        const from = privateLab.log().length;
        await ws.ok(["config", "rm", "--path", "sites[0].roles[0].instances[2]"]);
        await ws.ok(["config", "rm", "--path", "sites[0].roles[0].instances[1]"]);
        const r = await ws.run(["preview", "--non-interactive"]);
        assert.notEqual(r.code, 0);
        assert.match(
            r.stdout + r.stderr,
            /scale-in of stack control-plane refused: removing oc0-controller-1, oc0-controller-2 leaves 1 of the 3 Ceph mons of cluster central/,
        );
        assert.equal(
            privateLab
                .log()
                .slice(from)
                .filter((e) => e.mutating).length,
            0,
        );
    });
});
