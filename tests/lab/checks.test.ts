// Each §8 check of the reference (tripleo-dcn.md) that concerns the undercloud, made to refuse a
// wrong call over SSH with a TripleO-like message and a non-zero exit. Tests run in order and
// build on each other (one lab), following the seed's flow with wrong calls along the way.
// Checks 10 and 11 (Glance/Nova data plane) are not undercloud commands and are not covered here.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import {
    Lab,
    NETWORK_PROVISION,
    cephCommand,
    centralDeployCommand,
    dcnDeployCommand,
    exportCeph,
    metalCommands,
    portFor,
    writeSiteFiles,
} from "./helpers";

const lab = new Lab(portFor("checks"), 0.01);

before(() => lab.start());
after(() => lab.destroy());

/**
 * Runs a command that must be refused: exit `code` (1, or argparse's 2), `pattern` on stderr, the
 * command log's record with the same exit, and the lab's state (nodes, stacks, Ceph clusters, …)
 * exactly as before: a refused command changes nothing.
 */
async function refused(command: string, pattern: RegExp, code = 1): Promise<void> {
    const before = lab.cli("state", "--json").stdout;
    const r = await lab.ssh(command);
    assert.equal(r.code, code, `expected refusal (exit ${code}) of: ${command}\n${r.stdout.slice(-1500)}\n${r.stderr}`);
    assert.match(r.stderr, pattern, `stderr of: ${command}`);
    assert.equal(lab.log().at(-1)!.exit, code, "the command log records the refusal");
    assert.deepEqual(JSON.parse(lab.cli("state", "--json").stdout), JSON.parse(before), `state changed by: ${command}`);
}

const provision = (stack: string, file: string, extra = "") =>
    `mkdir -p ~/dcn/${stack} && cd ~/dcn/${stack} && openstack overcloud node provision --stack ${stack} --templates ~/templates --output deployed-metal-${stack}.yaml ${extra} ${file}`;

/** The deployed-metal env of a stack; its registry must name templates of `--templates ~/templates`. */
async function metalEnv(stack: string): Promise<Record<string, unknown>> {
    const home = (await lab.ok("echo ~")).stdout.trim();
    const doc = parse((await lab.ok(`cat ~/dcn/${stack}/deployed-metal-${stack}.yaml`)).stdout);
    const paths = Object.values(doc.resource_registry as Record<string, string>);
    assert.ok(paths.length > 0 && paths.every((x) => x.startsWith(`${home}/templates/`)), paths.join(" "));
    return doc.parameter_defaults;
}

test("check 2: node provision needs provisioned networks, and every network of the baremetal file", async () => {
    await writeSiteFiles(lab);
    await refused(
        provision("control-plane", "~/metalsmith/control-plane.yaml"),
        /^Network external_cloud_0 not found\. No networks exist: run 'openstack overcloud network provision' first\./m,
    );
    await lab.ok(NETWORK_PROVISION);
    await lab.put(
        "bm-badnet.yaml",
        "- name: Compute\n  count: 1\n  defaults:\n    networks:\n      - {network: ctlplane, vif: true}\n      - {network: internal_api_cloud_9, subnet: internal_api_cloud_9_subnet}\n",
    );
    await refused(provision("other", "~/bm-badnet.yaml"), /^Network internal_api_cloud_9 not found$/m);
    assert.ok(
        lab.state().nodes.every((n) => n.stack === null),
        "nothing allocated by refused calls",
    );
});

test("check 3: node provision validation, one stack per node, unique hostnames, -y to overwrite", async () => {
    await lab.put(
        "bm-count.yaml",
        "- name: Compute\n  count: 1\n  instances: [{hostname: a-0, name: oc0-spare-0}, {hostname: a-1, name: oc0-spare-1}]\n",
    );
    await refused(provision("other", "~/bm-count.yaml"), /Number of instance entries 2 cannot be greater than count 1/);
    await lab.put("bm-defaults.yaml", "- name: Compute\n  count: 1\n  defaults: {hostname: x}\n");
    await refused(provision("other", "~/bm-defaults.yaml"), /Cannot specify hostname in defaults/);
    await lab.put("bm-dup.yaml", "- name: Compute\n  count: 2\n  instances: [{hostname: a-0}, {hostname: a-0}]\n");
    await refused(provision("other", "~/bm-dup.yaml"), /Hostname a-0 used more than once/);
    for (const c of metalCommands("control-plane")) await lab.ok(c);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const metal = (await metalEnv("control-plane")) as any;
    assert.equal(metal.ControllerCount, 3);
    assert.equal(metal.HostnameMap["control-plane-controller-0"], "oc0-controller-0");
    assert.ok(metal.DeployedServerPortMap["oc0-ceph-0-ctlplane"].fixed_ips[0].ip_address);
    assert.ok(metal.NodePortMap["oc0-ceph-0"].storage_cloud_0.ip_address);
    await lab.ok("test -f ~/overcloud-deploy/control-plane/tripleo-ansible-inventory.yaml");
    await lab.put(
        "bm-steal.yaml",
        "- name: Compute\n  count: 1\n  instances: [{hostname: thief-0, name: oc0-controller-0}]\n",
    );
    await refused(
        provision("other", "~/bm-steal.yaml"),
        /oc0-controller-0 is already allocated to instance oc0-controller-0 of stack control-plane/,
    );
    await lab.put(
        "bm-host.yaml",
        "- name: Compute\n  count: 1\n  instances: [{hostname: oc0-ceph-0, name: oc0-spare-3}]\n",
    );
    await refused(provision("other", "~/bm-host.yaml"), /Allocation with name oc0-ceph-0 already exists/);
    const metalText = (await lab.ok("cat ~/dcn/control-plane/deployed-metal-control-plane.yaml")).stdout;
    // No TTY: the overwrite prompt is answered "no".
    await refused(
        provision("control-plane", "~/metalsmith/control-plane.yaml"),
        /^Will not overwrite existing file: deployed-metal-control-plane\.yaml$/m,
    );
    assert.equal((await lab.ok("cat ~/dcn/control-plane/deployed-metal-control-plane.yaml")).stdout, metalText);
    await lab.ok(provision("control-plane", "~/metalsmith/control-plane.yaml", "-y"));
    assert.deepEqual(await metalEnv("control-plane"), metal, "-y re-provisions the same nodes");
});

test("check 4: ceph deploy needs the inventory, the metal file, covering roles, mon and OSD hosts, --force for extra vars, a valid key", async () => {
    await refused(
        cephCommand("dcn0"),
        /^Inventory file not found in working directory: .*overcloud-deploy\/dcn0\/tripleo-ansible-inventory\.yaml\. It should have been created by 'openstack overcloud node provision'\.$/m,
    );
    const base = `cd ~/dcn/control-plane && openstack overcloud ceph deploy deployed-metal-control-plane.yaml -y -o deployed-ceph-control-plane.yaml --stack control-plane --cluster central`;
    await lab.ok(`cd ~/dcn/control-plane && openstack overcloud roles generate Controller -o only_controller.yaml`);
    await refused(`${base} --roles-data only_controller.yaml`, /Roles ComputeHCI of .* are not in the roles data file/);
    await lab.ok(
        `cd ~/dcn/control-plane && openstack overcloud roles generate Controller ComputeHCI -o control_plane_roles.yaml`,
    );
    await refused(
        `${base} --roles-data control_plane_roles.yaml --ansible-extra-vars ~/pools_template.yml`,
        /^--ansible-extra-vars requires --force\.$/m,
    );
    // tripleoclient checks --ceph-client-key only where it uses it: pools and no keys in the extra vars.
    await refused(
        `${base} --roles-data control_plane_roles.yaml --force --ansible-extra-vars ~/pools_template.yml --ceph-client-key not-a-key`,
        /^'not-a-key' is not a valid cephx key$/m,
    );
    await refused(
        `cd ~/dcn/control-plane && openstack overcloud ceph deploy missing.yaml -y -o x.yaml --stack control-plane --cluster central --roles-data control_plane_roles.yaml`,
        /^Baremetal environment file does not exist: missing\.yaml$/m,
    );
    // cephadm needs a mon host to bootstrap and OSD hosts (the roles' services decide).
    await lab.put(
        "dcn/control-plane/no_mon_roles.yaml",
        "- name: Controller\n  ServicesDefault: [OS::TripleO::Services::Keystone]\n- name: ComputeHCI\n  ServicesDefault: [OS::TripleO::Services::CephOSD]\n",
    );
    await refused(`${base} --roles-data no_mon_roles.yaml`, /No host of stack control-plane has the CephMon service/);
    await lab.put(
        "dcn/control-plane/no_osd_roles.yaml",
        "- name: Controller\n  ServicesDefault: [OS::TripleO::Services::CephMon]\n- name: ComputeHCI\n  ServicesDefault: [OS::TripleO::Services::NovaCompute]\n",
    );
    await refused(`${base} --roles-data no_osd_roles.yaml`, /No host of stack control-plane has the CephOSD service/);
    await lab.ok("test ! -e ~/dcn/control-plane/deployed-ceph-control-plane.yaml");
});

let centralFsid = "";

test("check 1: Ceph cluster names are [a-zA-Z0-9]+, unique across sites, one per stack (and check 4: output overwritten only with -y)", async () => {
    // Lab-only at ceph deploy (real tripleoclient passes any name on; Heat refuses it at deploy, check 9).
    await refused(
        cephCommand("control-plane").replace("--cluster central", "--cluster control-plane"),
        /Invalid --cluster control-plane/,
    );
    // Without pools first (check 5 needs a cluster without client data).
    await lab.ok(cephCommand("control-plane", false));
    const c = lab.state().cephClusters.find((x) => x.stack === "control-plane")!;
    assert.equal(c.name, "central");
    assert.ok(c.running);
    centralFsid = c.fsid;
    const cephFile = "~/dcn/control-plane/deployed-ceph-control-plane.yaml";
    const cephText = (await lab.ok(`cat ${cephFile}`)).stdout;
    await refused(
        cephCommand("control-plane", false).replace(" -y ", " "),
        /^Will not overwrite existing file: \/.*\/dcn\/control-plane\/deployed-ceph-control-plane\.yaml\. See the --yes parameter/m,
    );
    assert.equal((await lab.ok(`cat ${cephFile}`)).stdout, cephText);
    await refused(
        cephCommand("control-plane").replace("--cluster central", "--cluster other"),
        /already has Ceph cluster central.*one cluster per stack/,
    );
    for (const m of metalCommands("dcn0")) await lab.ok(m);
    await refused(
        cephCommand("dcn0").replace("--cluster dcn0", "--cluster central"),
        /Ceph cluster name central is already used by stack control-plane/,
    );
});

test("check 5: export ceph needs client data with the key, one item per stack in order, -f to overwrite", async () => {
    await refused(
        `cd ~/dcn && openstack overcloud export ceph -f --stack control-plane --config-download-dir ~/overcloud-deploy/`,
        // export.py: no ~/overcloud-deploy/<stack>/ceph_client.yml (no pools, no key), then its old fallback path.
        /^\[Errno 2\] No such file or directory: '\/home\/stack\/ceph_client\.yaml'$/m,
    );
    const ds = parse(
        (await lab.ok("cat ~/dcn/control-plane/deployed-ceph-control-plane.yaml")).stdout,
    ).parameter_defaults;
    assert.equal(ds.CephClusterFSID, centralFsid);
    assert.equal(ds.CephClientKey, undefined, "no key without pools");
    const clientKey = async () => {
        const d = parse((await lab.ok("cat ~/dcn/control-plane/deployed-ceph-control-plane.yaml")).stdout);
        const v = parse((await lab.ok("cat ~/overcloud-deploy/control-plane/ceph_client.yml")).stdout);
        assert.equal(v.keys[0].name, "client.openstack");
        assert.equal(v.keys[0].key, d.parameter_defaults.CephClientKey, "ceph_client.yml has the deployed key");
        assert.match(v.keys[0].key, /^[A-Za-z0-9+/]{38}==$/);
        return v.keys[0].key as string;
    };
    await lab.ok(cephCommand("control-plane"));
    assert.equal(
        lab.state().cephClusters.find((x) => x.stack === "control-plane")!.fsid,
        centralFsid,
        "re-run keeps the cluster",
    );
    const key1 = await clientKey();
    // Pools and no tripleo_cephadm_keys in the extra vars: tripleoclient makes a new key every run.
    await lab.ok(cephCommand("control-plane"));
    const key2 = await clientKey();
    assert.notEqual(key2, key1, "a re-run without --ceph-client-key replaces the key");
    await lab.ok(cephCommand("dcn0"));
    for (const m of metalCommands("dcn1")) await lab.ok(m);
    await lab.ok(cephCommand("dcn1"));
    // export.py lists <config-download-dir>/<stack>: no cephadm (or ceph-ansible) entry, no data.
    await refused(
        `cd ~/dcn && openstack overcloud export ceph -f --stack control-plane --config-download-dir ~/dcn -o x.yaml`,
        /local variable 'ceph_data'/,
    );
    await refused(
        `cd ~/dcn && openstack overcloud export ceph -f --stack control-plane --config-download-dir ~/metalsmith -o x.yaml`,
        /^\[Errno 2\] No such file or directory: '.*\/metalsmith\/control-plane'$/m,
    );
    await exportCeph(lab);
    const central = parse((await lab.ok("cat ~/dcn/ceph-export-control-plane.yaml")).stdout).parameter_defaults
        .CephExternalMultiConfig;
    assert.equal(central.length, 1);
    assert.equal(central[0].fsid, centralFsid);
    assert.deepEqual(
        central[0].keys.map((k: { name: string; key: string }) => [k.name, k.key]),
        [["client.openstack", key2]],
        "the export carries the cluster's current key",
    );
    assert.equal(central[0].dashboard_enabled, false);
    assert.equal(central[0].ceph_conf_overrides.client.keyring, "/etc/ceph/central.client.openstack.keyring");
    await refused(
        `cd ~/dcn && openstack overcloud export ceph --stack control-plane`,
        /File '.*ceph-export-control-plane.yaml' already exists, not exporting./,
    );
    await refused(
        `cd ~/dcn && openstack overcloud export ceph -f --stack dcn0 -k external --config-download-dir ~/overcloud-deploy/ -o x.yaml`,
        /no key client.external/,
    );
    await lab.ok("test ! -e ~/dcn/x.yaml");
    const items = parse((await lab.ok("cat ~/dcn/ceph-export-2-stacks.yaml")).stdout).parameter_defaults
        .CephExternalMultiConfig;
    assert.deepEqual(
        items.map((i: { cluster: string }) => i.cluster),
        ["dcn0", "dcn1"],
    );
});

test("check 6: central Glance stores need matching CephExternalMultiConfig items; ids must not collide", async () => {
    await refused(
        centralDeployCommand().replace("-e ../ceph-export-2-stacks.yaml", ""),
        /GlanceMultistoreConfig store dcn0 uses Ceph cluster dcn0, but CephExternalMultiConfig has no item for cluster dcn0/,
    );
    await lab.put("dcn/collide.yaml", "parameter_defaults:\n  GlanceBackendID: dcn0\n");
    await refused(
        centralDeployCommand("-e ../collide.yaml"),
        /GlanceBackendID dcn0 collides with a GlanceMultistoreConfig store/,
    );
});

test("check 8 (part): a DCN stack needs a successfully deployed central stack", async () => {
    await lab.put(
        "dcn/control-plane-export.yaml",
        "parameter_defaults:\n  AuthCloudName: control-plane\n  EndpointMapOverride: {KeystonePublic: {uri: 'http://10.0.0.5:5000'}}\n",
    );
    await refused(dcnDeployCommand("dcn0"), /central stack control-plane .* is not deployed successfully/);
});

test("check 9: -e order, later files win; unknown parameters are ignored", async () => {
    await lab.put(
        "dcn/bad-cluster.yaml",
        "parameter_defaults:\n  CephClusterName: control-plane\n  GlangeBackendID: typo\n",
    );
    await refused(
        centralDeployCommand("-e ../bad-cluster.yaml"),
        /Parameter 'CephClusterName' is invalid: "control-plane" does not match pattern/,
    );
    // Same file before overrides.yaml: overridden, and the typo is silently ignored.
    await lab.ok(centralDeployCommand().replace("-e overrides.yaml", "-e ../bad-cluster.yaml -e overrides.yaml"));
    assert.equal(lab.state().stacks.find((s) => s.name === "control-plane")?.status, "DEPLOY_SUCCESS");
});

test("check 7: deploy writes <stack>-export.yaml (no ceph.*) and <stack>rc; export needs a deployed stack", async () => {
    await lab.ok(
        "test -f ~/control-planerc && test -f ~/overcloud-deploy/control-plane/control-planerc && test -f ~/overcloud-deploy/control-plane/control-plane-cell-export.yaml",
    );
    const mode = (await lab.ok("stat -c %a ~/overcloud-deploy/control-plane/control-plane-export.yaml")).stdout.trim();
    assert.equal(mode, "600");
    const exp = parse(
        (await lab.ok("cat ~/overcloud-deploy/control-plane/control-plane-export.yaml")).stdout,
    ).parameter_defaults;
    for (const k of [
        "AdminPassword",
        "RabbitPassword",
        "EndpointMapOverride",
        "ExtraHostFileEntries",
        "GlobalConfigExtraMapData",
        "AllNodesExtraMapData",
    ])
        assert.ok(k in exp, k);
    assert.equal(exp.AddVipsToEtcHosts, false);
    assert.ok(!Object.keys(exp).some((k) => /^ceph/i.test(k)));
    await refused(`cd ~/dcn && openstack overcloud export --stack dcn0 -f`, /Passwords file .* not found/);
    await lab.ok(`cd ~/dcn && openstack overcloud export --stack control-plane -f`);
    await refused(`cd ~/dcn && openstack overcloud export --stack control-plane`, /already exists, not exporting/);
});

test("check 8: DCN deploy needs edge services, its own Ceph identity, the central export", async () => {
    await refused(
        dcnDeployCommand("dcn0").replace("-e ~/templates/environments/dcn-storage.yaml", ""),
        /edge services .*GlanceApiEdge.* mapped to OS::Heat::None; include environments\/dcn-storage.yaml/,
    );
    await refused(
        dcnDeployCommand("dcn0", "-e ../control-plane/deployed-ceph-control-plane.yaml"),
        /would reuse the FSID .* of stack control-plane/,
    );
    await refused(dcnDeployCommand("dcn0").replace("-e ../control-plane-export.yaml", ""), /no central stack export/);
    await refused(
        dcnDeployCommand("dcn0").replace("-e ../ceph-export-control-plane.yaml", ""),
        /store central uses Ceph cluster central, but CephExternalMultiConfig has no item/,
    );
    await lab.ok(dcnDeployCommand("dcn0"));
    const agg = await lab.ok("source ~/control-planerc && openstack aggregate show dcn0 -f value -c availability_zone");
    assert.equal(agg.stdout.trim(), "dcn0");
    await refused(
        "source ~/control-planerc && openstack aggregate show dcn1",
        /No aggregate with a name or ID of 'dcn1' exists/,
    );
});

test("check 2 (part): every stack uses the same network data file", async () => {
    await lab.put(
        "other-network-data.yaml",
        "- name: InternalApiCloud0\n  name_lower: internal_api_cloud_0\n  subnets: {internal_api_cloud_0_subnet: {ip_subnet: 172.16.2.0/24}}\n",
    );
    await refused(
        dcnDeployCommand("dcn1").replace("-n ~/oc0-network-data.yaml", "-n ~/other-network-data.yaml"),
        /differs from the provisioned networks.*same network data file/s,
    );
});

test(
    "check 12: delete keeps nodes; ceph deploy on uncleaned disks fails; clean disks then a new FSID",
    { timeout: 120_000 },
    async () => {
        const oldFsid = lab.state().cephClusters.find((c) => c.stack === "dcn0")!.fsid;
        await refused("openstack overcloud delete dcn0", /Action not confirmed, exiting./);
        await lab.ok("openstack overcloud delete dcn0 -y");
        assert.notEqual((await lab.ssh("test -e ~/overcloud-deploy/dcn0")).code, 0);
        assert.equal(
            lab.state().nodes.find((n) => n.name === "oc0-ceph-1")?.stack,
            "dcn0",
            "nodes untouched by delete",
        );
        await lab.ok("openstack overcloud node unprovision --all -y --stack dcn0 ~/metalsmith/dcn0.yaml");
        assert.equal(lab.state().cephClusters.find((c) => c.stack === "dcn0")?.running, false);
        // Re-provision and redeploy Ceph without cleaning: the OSD disks still carry the old cluster.
        for (const m of metalCommands("dcn0")) await lab.ok(m.replace("--output", "-y --output"));
        await refused(cephCommand("dcn0"), /No OSDs were created.*oc0-ceph-1/s);
        await refused(
            `openstack baremetal node clean oc0-ceph-1 --clean-steps '[{"interface": "deploy", "step": "erase_devices_metadata"}]'`,
            /can not be performed on node .* while it is in state "active"/,
        );
        await lab.ok("openstack overcloud node unprovision --all -y --stack dcn0 ~/metalsmith/dcn0.yaml");
        for (const n of ["oc0-ceph-1", "oc0-ceph-2"]) {
            await lab.ok(
                `openstack baremetal node manage ${n} && openstack baremetal node clean ${n} --clean-steps '[{"interface": "deploy", "step": "erase_devices_metadata"}]' --wait && openstack baremetal node provide ${n}`,
            );
        }
        assert.ok(!lab.state().cephClusters.some((c) => c.stack === "dcn0"));
        for (const m of metalCommands("dcn0")) await lab.ok(m.replace("--output", "-y --output"));
        await lab.ok(cephCommand("dcn0"));
        const fresh = lab.state().cephClusters.find((c) => c.stack === "dcn0")!;
        assert.ok(fresh.running);
        assert.notEqual(fresh.fsid, oldFsid, "a new cluster, new FSID");
    },
);
