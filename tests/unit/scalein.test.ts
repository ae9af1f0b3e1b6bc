// Scale-in as TripleO does it (tripleo-docs baremetal_provision.rst "Scaling Down",
// deployed_ceph.rst "Scale Down"): the baremetal file keeps removed instances at their positions
// with `provisioned: false` (so tripleo-ansible's module_utils/baremetal_deploy.py `expand()` keeps
// every other instance's HostnameMap index and emits <Role>RemovalPolicies), the refusal of a
// scale-in that would break the site's Ceph cluster, and the parsing and quoting of what the drain
// reads back from the nodes.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
    BaremetalNodesInputs,
    RoleSpec,
    baremetalNodesProvider,
    layoutOf,
    mergeLayout,
    removedInstances,
    renderBaremetalFile,
    scaleDownCommand,
    scaleInProblems,
} from "../../providers/baremetalNodes";
import { parseCephJson, parseOrchHosts, parseOsdRmStatus, parseOsdTree } from "../../providers/cephCluster";
import { cephAdminHosts, cephadmShell, nodeCommand, parseCephSpecHosts } from "../../providers/remote/nodes";
import { shJoin } from "../../providers/remote/shell";
import { expandForProvision } from "../../lab/undercloud/metal";

const nets = [{ network: "ctlplane", vif: true }, { network: "storage_cloud_0" }];
const role = (name: string, hosts: string[], cephDisks = true): RoleSpec => ({
    name,
    instances: hosts.map((hostname) => ({ hostname })),
    networks: nets,
    cephDisks,
});
const dcn0 = (scaleOut: string[]) => [
    role("DistributedComputeHCI", ["oc0-ceph-1"]),
    role("DistributedComputeHCIScaleOut", scaleOut),
];

/** tripleo-ansible's expand() (the real module code, lab/tripleo/expand_roles.py) when installed. */
const tripleoDir = process.env.TRIPLEO_DIR ?? path.resolve(__dirname, "..", "..", ".tripleo");
const realExpand = fs.existsSync(path.join(tripleoDir, "venv", "bin", "python3"));

type Env = Record<string, unknown>;
function expandReal(file: string, stack: string): Env {
    const r = spawnSync(
        path.join(tripleoDir, "venv", "bin", "python3"),
        [path.resolve(__dirname, "..", "..", "lab", "tripleo", "expand_roles.py")],
        {
            input: JSON.stringify({ baremetal_deployment: parse(file), stack_name: stack, state: "present" }),
            encoding: "utf8",
            env: { ...process.env, TRIPLEO_DIR: tripleoDir },
        },
    );
    const out = JSON.parse(r.stdout) as { environment: { parameter_defaults: Env }; failed?: boolean; msg?: string };
    assert.ok(!out.failed, out.msg);
    return out.environment.parameter_defaults;
}
const expandLab = (file: string, stack: string): Env =>
    expandForProvision(stack, parse(file)).environment.parameter_defaults as Env;

const expanders: Array<[string, (file: string, stack: string) => Env]> = [["the lab's imitation", expandLab]];
if (realExpand) expanders.push(["tripleo-ansible's expand()", expandReal]);

describe("baremetal file across a scale-in", () => {
    const before = layoutOf(dcn0(["oc0-ceph-2", "oc0-ceph-4"]));
    const after = mergeLayout(before, dcn0(["oc0-ceph-4"]));

    it("keeps the removed instance at its position, provisioned: false, count = provisioned ones", () => {
        const doc = parse(renderBaremetalFile(after));
        assert.equal(doc[1].count, 1);
        assert.deepEqual(doc[1].instances, [
            { hostname: "oc0-ceph-2", name: "oc0-ceph-2", provisioned: false },
            { hostname: "oc0-ceph-4", name: "oc0-ceph-4" },
        ]);
        assert.deepEqual(
            removedInstances(before, after).map((r) => r.instance.hostname),
            ["oc0-ceph-2"],
        );
        // Later updates keep it (and remove nothing again).
        const later = mergeLayout(after, dcn0(["oc0-ceph-4"]));
        assert.deepEqual(later, after);
        assert.deepEqual(removedInstances(after, later), []);
    });

    for (const [who, expand] of expanders) {
        it(`${who}: the other instances keep their HostnameMap index; RemovalPolicies name the removed one`, () => {
            const env0 = expand(renderBaremetalFile(before), "dcn0");
            const env1 = expand(renderBaremetalFile(after), "dcn0");
            const key = (env: Env, host: string) =>
                Object.entries(env.HostnameMap as Record<string, string>).find(([, h]) => h === host)?.[0];
            assert.equal(key(env0, "oc0-ceph-4"), "dcn0-distributedcomputehciscaleout-1");
            assert.equal(key(env1, "oc0-ceph-4"), "dcn0-distributedcomputehciscaleout-1");
            assert.equal(env1.DistributedComputeHCIScaleOutCount, 1);
            assert.deepEqual(env1.DistributedComputeHCIScaleOutRemovalPolicies, [{ resource_list: [0] }]);
            assert.equal(env1.DistributedComputeHCIRemovalPolicies, undefined);
        });

        it(`${who}: a new instance takes the next index; a re-added one is provisioned at its old index`, () => {
            const grown = mergeLayout(after, dcn0(["oc0-ceph-4", "oc0-ceph-5"]));
            const env = expand(renderBaremetalFile(grown), "dcn0");
            assert.deepEqual(env.HostnameMap, {
                "dcn0-distributedcomputehci-0": "oc0-ceph-1",
                "dcn0-distributedcomputehciscaleout-0": "oc0-ceph-2",
                "dcn0-distributedcomputehciscaleout-1": "oc0-ceph-4",
                "dcn0-distributedcomputehciscaleout-2": "oc0-ceph-5",
            });
            assert.equal(env.DistributedComputeHCIScaleOutCount, 2);
            const back = expand(renderBaremetalFile(mergeLayout(after, dcn0(["oc0-ceph-2", "oc0-ceph-4"]))), "dcn0");
            assert.equal(back.DistributedComputeHCIScaleOutCount, 2);
            assert.equal(back.DistributedComputeHCIScaleOutRemovalPolicies, undefined);
        });
    }

    it("a role no longer configured stays in the file with count 0", () => {
        const gone = mergeLayout(before, [role("DistributedComputeHCI", ["oc0-ceph-1"])]);
        const doc = parse(renderBaremetalFile(gone));
        assert.deepEqual(
            doc.map((r: { name: string; count: number }) => [r.name, r.count]),
            [
                ["DistributedComputeHCI", 1],
                ["DistributedComputeHCIScaleOut", 0],
            ],
        );
        assert.deepEqual(
            removedInstances(before, gone).map((r) => r.instance.hostname),
            ["oc0-ceph-2", "oc0-ceph-4"],
        );
    });

    it("scale-down command: node delete of the file when the stack has a scale playbook, else unprovision", () => {
        const c = scaleDownCommand("dcn0", "/h/dcn/dcn0/baremetal-dcn0.yaml", 120);
        assert.deepEqual(c.argv.slice(3), ["scale-down", "dcn0", "/h/dcn/dcn0/baremetal-dcn0.yaml", "120"]);
        assert.match(
            c.argv[2],
            /openstack overcloud node delete -y --stack "\$s" --timeout "\$t" --baremetal-deployment "\$f"/,
        );
        assert.match(c.argv[2], /config-download\/\$s\/scale_playbook\.yaml/);
        assert.doesNotMatch(c.argv[2], /--all/);
    });
});

describe("scale-in refusals", () => {
    const mons = { cluster: "dcn0", monRoles: ["Controller", "DistributedComputeHCI"], poolSize: 1 };
    const central = (n: number) => [
        role("Controller", ["c0", "c1", "c2"].slice(0, n), false),
        role("ComputeHCI", ["h0"]),
    ];

    it("keeps a majority of the mons", () => {
        assert.deepEqual(scaleInProblems("control-plane", central(3), central(2), { ...mons, cluster: "central" }), []);
        const [p] = scaleInProblems("control-plane", central(3), central(1), { ...mons, cluster: "central" });
        assert.match(p, /removing c1, c2 leaves 1 of the 3 Ceph mons of cluster central, not a majority/);
    });

    it("never removes the last mon", () => {
        const [p] = scaleInProblems(
            "dcn0",
            dcn0(["oc0-ceph-2"]),
            [role("DistributedComputeHCIScaleOut", ["oc0-ceph-2"])],
            mons,
        );
        assert.match(p, /leaves 0 of the 1 Ceph mons of cluster dcn0, and the cluster cannot live without a mon/);
    });

    it("keeps at least the pool size of OSD hosts", () => {
        assert.deepEqual(scaleInProblems("dcn0", dcn0(["oc0-ceph-2"]), dcn0([]).slice(0, 1), mons), []);
        const [p] = scaleInProblems("dcn0", dcn0(["oc0-ceph-2"]), dcn0([]).slice(0, 1), { ...mons, poolSize: 3 });
        assert.match(p, /leaves 1 OSD host\(s\) in Ceph cluster dcn0, fewer than the pools' 3 replicas/);
        // A compute-only host leaves freely; a scale-out is no scale-in.
        const dcn1 = (c: string[]) => [role("CephAll", ["oc0-ceph-3"]), role("DistributedCompute", c, false)];
        assert.deepEqual(scaleInProblems("dcn1", dcn1(["oc0-compute-0"]), dcn1([]), { ...mons, poolSize: 3 }), []);
        assert.deepEqual(scaleInProblems("dcn0", dcn0([]), dcn0(["x"]), { ...mons, poolSize: 3 }), []);
    });

    it("refuses an instance moving between roles in one step", () => {
        const [p] = scaleInProblems(
            "dcn0",
            dcn0(["oc0-ceph-2"]),
            [role("DistributedComputeHCI", ["oc0-ceph-1", "oc0-ceph-2"])],
            mons,
        );
        assert.match(
            p,
            /instance oc0-ceph-2 of stack dcn0 moves from role DistributedComputeHCIScaleOut to DistributedComputeHCI/,
        );
    });

    it("the provider's check refuses it against the deployed inputs, naming `roles`", async () => {
        const inputs: BaremetalNodesInputs = {
            undercloud: {
                host: "127.0.0.1",
                port: 22,
                user: "stack",
                hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk",
            },
            privateKey: "k",
            providerVersion: "3",
            stack: "dcn0",
            roles: dcn0(["oc0-ceph-2"]),
            networkDataFile: "~/n.yaml",
            templatesDir: "~/templates",
            vips: [],
            concurrency: 2,
            workDir: "~/dcn/dcn0",
            timeoutMinutes: 10,
            ceph: { ...mons, poolSize: 3 },
        };
        const r = await baremetalNodesProvider.check!(inputs, { ...inputs, roles: dcn0([]).slice(0, 1) });
        assert.equal(r.failures!.length, 1);
        assert.equal(r.failures![0].property, "roles");
        assert.match(r.failures![0].reason, /scale-in of stack dcn0 refused/);
        assert.deepEqual((await baremetalNodesProvider.check!({}, inputs)).failures, []);
    });
});

describe("what the drain reads back from the nodes", () => {
    it("validates hostnames, addresses and OSD ids before they reach a shell", () => {
        const spec = `addr: 192.168.24.14\nhostname: oc0-ceph-1\nlabels: [_admin, mon, mgr, osd]\nservice_type: host\n---\naddr: 192.168.24.15\nhostname: oc0-ceph-2\nlabels: [osd]\nservice_type: host\n`;
        assert.deepEqual(
            cephAdminHosts(spec).map((h) => h.addr),
            ["192.168.24.14"],
        );
        assert.deepEqual(cephAdminHosts(spec, ["oc0-ceph-1"]), []);
        assert.throws(() => parseCephSpecHosts(spec.replace("192.168.24.15", "$(reboot)")), /no valid address/);
        assert.throws(() => parseCephSpecHosts(spec.replace("oc0-ceph-2", "'x;y'")), /not a valid hostname/);
        assert.throws(() => parseOrchHosts([{ hostname: "a b" }]), /bad hostname/);
        const tree = {
            nodes: [
                { id: -1, name: "default", type: "root", children: [-2] },
                { id: -2, name: "oc0-ceph-2", type: "host", children: [1, 3] },
            ],
        };
        assert.deepEqual(parseOsdTree(tree, ["oc0-ceph-2"]), [1, 3]);
        assert.throws(
            () =>
                parseOsdTree({ nodes: [{ name: "oc0-ceph-2", type: "host", children: ["1; reboot"] }] }, [
                    "oc0-ceph-2",
                ]),
            /bad OSD id/,
        );
        assert.throws(() => parseOsdRmStatus([{ osd_id: "1 --force" }]), /bad osd_id/);
        assert.deepEqual(parseCephJson("Inferring fsid x\n[1]\n"), [1]);
    });

    it("two shells (undercloud, node) each see exactly the argv", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "node-ssh-"));
        try {
            // A fake `ssh` that runs the node's command line with a fake `sudo` printing its argv.
            fs.writeFileSync(
                path.join(dir, "ssh"),
                `#!/bin/sh\nfor a in "$@"; do last="$a"; done\nprintf '%s\\n' "$@" > "${dir}/ssh.args"\nPATH="${dir}:$PATH" exec sh -c "$last"\n`,
                { mode: 0o755 },
            );
            fs.writeFileSync(path.join(dir, "sudo"), `#!/bin/sh\nprintf '%s\\n' "$@"\n`, { mode: 0o755 });
            const nasty = "images/x'; touch /tmp/pwned #$(id)`id`@snap";
            const remote = cephadmShell("dcn0", ["rbd", "info", "--format", "json", nasty]);
            const out = execFileSync("sh", ["-c", shJoin(nodeCommand("dcn0", "192.168.24.14", remote))], {
                env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, HOME: dir },
                encoding: "utf8",
            });
            assert.deepEqual(out.trimEnd().split("\n"), remote.slice(1));
            const args = fs.readFileSync(path.join(dir, "ssh.args"), "utf8");
            assert.match(args, /^tripleo-admin@192\.168\.24\.14$/m);
            assert.throws(() => nodeCommand("dcn0", "1.2.3.4; reboot", remote), /not an IP address/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
