// Pure helpers of the providers: rendered files, parsed outputs, the ordered -e list.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
    RoleSpec,
    filesOf,
    metalCommands,
    parseDeployedMetal,
    layoutOf,
    mergeLayout,
    removedInstances,
    renderBaremetalFile,
    renderVipData,
    roleNames,
    validateRoles,
    cleanDisksCommand,
    unprovisionCommand,
    BaremetalNodesInputs,
    STILL_DEPLOYED_SCRIPT,
} from "../../providers/baremetalNodes";
import {
    CLIENT_USER,
    DEFAULT_POOLS,
    cephCommands,
    cephFilesOf,
    clientVarsPath,
    parseClientVarsKey,
    parseDeployedCeph,
    renderPoolsFile,
    CephClusterInputs,
} from "../../providers/cephCluster";
import { exportCommand, exportConfigDownloadDir, parseCephExport, CephExportInputs } from "../../providers/cephExport";
import { renderGlanceEnv, storeProblems } from "../../providers/glanceMultistore";
import {
    DeployFiles,
    deployCommand,
    deployJobCommands,
    stackExportCommand,
    isAlreadyGone,
    orderedEnvFiles,
    parseDeploymentStatus,
    parseEndpoints,
    parsePhaseProbe,
    parseStatusTable,
    PHASE_PROBE_SCRIPT,
    statusRecordCommand,
    renderOverridesFile,
    sanityCommands,
    siteOverrides,
    OvercloudStackInputs,
} from "../../providers/overcloudStack";

const dcn0Roles: RoleSpec[] = [
    {
        name: "DistributedComputeHCI",
        instances: [{ hostname: "oc0-ceph-1" }],
        networks: [{ network: "ctlplane", vif: true }, { network: "storage_cloud_0" }],
        networkConfigTemplate: "templates/single_nic_vlans/single_nic_vlans.j2",
        cephDisks: true,
    },
    {
        name: "DistributedComputeHCIScaleOut",
        instances: [{ hostname: "oc0-ceph-2", node: "node-2" }],
        networks: [{ network: "ctlplane" }, { network: "internal_api_cloud_0", subnet: "internal_api_cloud_0_subnet" }],
        cephDisks: true,
    },
];

const conn = {
    undercloud: { host: "127.0.0.1", port: 2222, user: "stack", hostKey: "ssh-ed25519 AAAA" },
    privateKey: "k",
    providerVersion: "1",
};

describe("baremetal file", () => {
    it("renders roles, counts, instances and networks (ctlplane as vif, <net>_subnet default)", () => {
        const doc = parse(renderBaremetalFile(layoutOf(dcn0Roles)));
        assert.deepEqual(doc[0], {
            name: "DistributedComputeHCI",
            count: 1,
            instances: [{ hostname: "oc0-ceph-1", name: "oc0-ceph-1" }],
            defaults: {
                networks: [
                    { network: "ctlplane", vif: true },
                    { network: "storage_cloud_0", subnet: "storage_cloud_0_subnet" },
                ],
                network_config: { template: "templates/single_nic_vlans/single_nic_vlans.j2" },
            },
        });
        assert.deepEqual(doc[1].instances, [{ hostname: "oc0-ceph-2", name: "node-2" }]);
        assert.equal(doc[1].defaults.network_config, undefined);
    });

    it("marks removed instances provisioned: false for a scale-in", () => {
        const news: RoleSpec[] = [dcn0Roles[0]];
        const before = layoutOf(dcn0Roles);
        const after = mergeLayout(before, news);
        assert.deepEqual(
            removedInstances(before, after).map((r) => r.instance.hostname),
            ["oc0-ceph-2"],
        );
        const doc = parse(renderBaremetalFile(after));
        assert.equal(doc[1].count, 0);
        assert.deepEqual(doc[1].instances, [{ hostname: "oc0-ceph-2", name: "node-2", provisioned: false }]);
    });

    it("validates duplicates like node provision does", () => {
        assert.deepEqual(validateRoles(dcn0Roles), []);
        const dup: RoleSpec[] = [...dcn0Roles, { ...dcn0Roles[0], name: "CephAll" }];
        assert.deepEqual(validateRoles(dup), ["duplicate hostname oc0-ceph-1", "node oc0-ceph-1 requested twice"]);
    });

    it("renders VIP data and role names in roles-file order", () => {
        assert.deepEqual(parse(renderVipData([{ network: "ctlplane", dnsName: "overcloud" }, { network: "x" }])), [
            { network: "ctlplane", dns_name: "overcloud" },
            { network: "x" },
        ]);
        assert.deepEqual(roleNames(dcn0Roles), ["DistributedComputeHCI", "DistributedComputeHCIScaleOut"]);
    });

    it("metal job: roles generate, locked network provision, VIPs only when asked, node provision last", () => {
        const inputs: BaremetalNodesInputs = {
            ...conn,
            stack: "dcn0",
            roles: dcn0Roles,
            networkDataFile: "~/oc0-network-data.yaml",
            templatesDir: "~/templates",
            vips: [],
            concurrency: 2,
            workDir: "~/dcn/dcn0",
            timeoutMinutes: 10,
        };
        const f = filesOf("dcn0", "/home/stack/dcn/dcn0");
        const cmds = metalCommands(inputs, f, "/home/stack/oc0-network-data.yaml", "/home/stack");
        const net = cmds.find((c) => c.argv.includes("network"))!;
        assert.equal(net.lock, "/home/stack/.dcn-jobs/network.lock");
        assert.ok(!cmds.some((c) => c.argv.includes("vip")));
        assert.deepEqual(cmds[cmds.length - 1].argv.slice(0, 5), [
            "openstack",
            "overcloud",
            "node",
            "provision",
            "--network-config",
        ]);
        const withVips = metalCommands({ ...inputs, vips: [{ network: "ctlplane" }] }, f, "/n.yaml", "/home/stack");
        assert.ok(
            withVips.some((c) => c.argv.join(" ").startsWith("openstack overcloud network vip provision --stack dcn0")),
        );
    });

    // tripleoclient v1/overcloud_roles.py RolesBaseCommand: --roles-path defaults to
    // /usr/share/openstack-tripleo-heat-templates/roles, not the deploy's tree. v2/overcloud_network.py
    // OvercloudNetworkProvision / OvercloudVirtualIPsProvision and v2/overcloud_node.py ProvisionNode:
    // --templates defaults to the same /usr/share tree, and the deployed-*.yaml files they write name
    // templates under it (tripleo_network_populate_environment.py: os.path.join(templates,
    // 'network/deployed_networks.yaml')). The deploy resolves registry paths against its own
    // --templates: utils.py process_multiple_environments rewrites only paths under user_tht_root.
    it("metal job: roles, network, VIP and node provision all use the deploy's --templates tree", () => {
        const inputs: BaremetalNodesInputs = {
            ...conn,
            stack: "dcn0",
            roles: dcn0Roles,
            networkDataFile: "~/oc0-network-data.yaml",
            templatesDir: "~/templates/",
            vips: [{ network: "ctlplane", dnsName: "overcloud" }],
            concurrency: 2,
            workDir: "~/dcn/dcn0",
            timeoutMinutes: 10,
        };
        const f = filesOf("dcn0", "/home/stack/dcn/dcn0");
        const cmds = metalCommands(inputs, f, "/home/stack/oc0-network-data.yaml", "/home/stack").map((c) => c.argv);
        const verb = (...words: string[]) =>
            cmds.find((a) => a.slice(2, 2 + words.length).join(" ") === words.join(" "))!;
        assert.deepEqual(verb("roles", "generate"), [
            "openstack",
            "overcloud",
            "roles",
            "generate",
            "--roles-path",
            "/home/stack/templates/roles",
            "-o",
            f.rolesFile,
            "DistributedComputeHCI",
            "DistributedComputeHCIScaleOut",
        ]);
        assert.deepEqual(verb("network", "provision"), [
            "openstack",
            "overcloud",
            "network",
            "provision",
            "--templates",
            "/home/stack/templates",
            "--output",
            f.networkFile,
            "/home/stack/oc0-network-data.yaml",
        ]);
        assert.deepEqual(verb("network", "vip", "provision"), [
            "openstack",
            "overcloud",
            "network",
            "vip",
            "provision",
            "--stack",
            "dcn0",
            "--templates",
            "/home/stack/templates",
            "--output",
            f.vipsFile,
            f.vipDataFile,
        ]);
        assert.deepEqual(verb("node", "provision"), [
            "openstack",
            "overcloud",
            "node",
            "provision",
            "--network-config",
            "--stack",
            "dcn0",
            "--templates",
            "/home/stack/templates",
            "--concurrency",
            "2",
            "--output",
            "/home/stack/dcn/dcn0/deployed-metal-dcn0.yaml",
            "/home/stack/dcn/dcn0/baremetal-dcn0.yaml",
        ]);
    });

    it("unprovision and disk cleaning commands", () => {
        assert.deepEqual(unprovisionCommand("dcn0", "/f.yaml", true).argv, [
            "openstack",
            "overcloud",
            "node",
            "unprovision",
            "--all",
            "-y",
            "--stack",
            "dcn0",
            "/f.yaml",
        ]);
        assert.ok(!unprovisionCommand("dcn0", "/f.yaml", false).argv.includes("--all"));
        const c = cleanDisksCommand("oc0-ceph-1");
        assert.equal(c.argv[0], "sh");
        assert.equal(c.argv[c.argv.length - 1], "oc0-ceph-1");
        assert.match(c.argv[2], /erase_devices_metadata/);
    });

    it("parses the deployed-metal file (§4.1)", () => {
        const text = `resource_registry: {}
parameter_defaults:
  DistributedComputeHCICount: 1
  HostnameMap:
    dcn0-distributedcomputehci-0: oc0-ceph-1
    dcn0-distributedcomputehciscaleout-0: oc0-ceph-2
  DeployedServerPortMap:
    oc0-ceph-1-ctlplane: {fixed_ips: [{ip_address: 192.168.24.24}]}
    oc0-ceph-2-ctlplane: {fixed_ips: [{ip_address: 192.168.24.17}]}
`;
        assert.deepEqual(parseDeployedMetal(text, dcn0Roles), [
            { hostname: "oc0-ceph-1", role: "DistributedComputeHCI", node: "oc0-ceph-1", ctlplaneIp: "192.168.24.24" },
            {
                hostname: "oc0-ceph-2",
                role: "DistributedComputeHCIScaleOut",
                node: "node-2",
                ctlplaneIp: "192.168.24.17",
            },
        ]);
        assert.deepEqual(parseDeployedMetal("", dcn0Roles), []);
    });
});

describe("ceph", () => {
    const clientVars = "/home/stack/overcloud-deploy/dcn0/ceph_client.yml";
    const key = "AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ==";
    // tripleoclient v2/overcloud_ceph.py OvercloudCephDeploy.take_action generates a cephx key
    // (passwords.create_cephx_key) exactly when: not --skip-cephx-keys and
    // 'tripleo_cephadm_pools' in extra_vars_file and 'tripleo_cephadm_keys' not in extra_vars_file.
    const tripleoclientMakesAKey = (doc: Record<string, unknown>) =>
        "tripleo_cephadm_pools" in doc && !("tripleo_cephadm_keys" in doc);

    it("renders pools.yml with the client vars path", () => {
        const doc = parse(renderPoolsFile(DEFAULT_POOLS, clientVars));
        assert.deepEqual(
            doc.tripleo_cephadm_pools.map((p: { name: string }) => p.name),
            ["vms", "volumes", "images"],
        );
        assert.equal(doc.tripleo_cephadm_pools[2].target_size_ratio, 0.2);
        assert.equal(doc.tripleo_cephadm_pools[0].application, "rbd");
        assert.equal(doc.tripleo_ceph_client_vars, clientVars);
    });

    it("pools.yml without a key (first deploy): tripleoclient generates the key", () => {
        const doc = parse(renderPoolsFile(DEFAULT_POOLS, clientVars));
        assert.ok(tripleoclientMakesAKey(doc));
        assert.equal(doc.tripleo_cephadm_keys, undefined);
        assert.equal(doc.ceph_client_key, undefined);
        assert.equal(doc.ceph_client_username, undefined);
        assert.equal(parse(renderPoolsFile(DEFAULT_POOLS, clientVars, undefined)).tripleo_cephadm_keys, undefined);
    });

    // The key kept: tripleo_cephadm_keys exactly as tripleoclient utils.py get_tripleo_cephadm_keys
    // (username, key, pools) builds it — [dict(name='client.' + username, key=key, mode='0600',
    // caps=dict(mgr='allow *', mon='profile rbd', osd=', '.join('profile rbd pool=' + x for pools)))] —
    // plus ceph_client_key / ceph_client_username, the two vars v2/overcloud_ceph.py passes to
    // tripleo_cephadm's deployed_ceph.yaml.j2 (CephClientKey, CephClientUserName) when it makes the key.
    it("pools.yml with the key in use: tripleo_cephadm_keys shaped as get_tripleo_cephadm_keys, so no new key", () => {
        const doc = parse(renderPoolsFile(DEFAULT_POOLS, clientVars, key));
        assert.ok(!tripleoclientMakesAKey(doc));
        assert.deepEqual(doc.tripleo_cephadm_keys, [
            {
                name: "client.openstack",
                key,
                mode: "0600",
                caps: {
                    mgr: "allow *",
                    mon: "profile rbd",
                    osd: "profile rbd pool=vms, profile rbd pool=volumes, profile rbd pool=images",
                },
            },
        ]);
        assert.equal(doc.ceph_client_key, key);
        assert.equal(doc.ceph_client_username, "openstack");
        assert.equal(CLIENT_USER, "openstack");
        // The pools and the client vars path are unchanged by the key.
        const without = parse(renderPoolsFile(DEFAULT_POOLS, clientVars));
        assert.deepEqual(doc.tripleo_cephadm_pools, without.tripleo_cephadm_pools);
        assert.equal(doc.tripleo_ceph_client_vars, clientVars);
        // osd caps follow the pools given.
        const two = parse(
            renderPoolsFile(
                [
                    { name: "vms", targetSizeRatio: 0.5 },
                    { name: "images", targetSizeRatio: 0.5 },
                ],
                clientVars,
                key,
            ),
        );
        assert.equal(two.tripleo_cephadm_keys[0].caps.osd, "profile rbd pool=vms, profile rbd pool=images");
    });

    // tripleoclient v2/overcloud_ceph.py: "tripleo_ceph_client_vars": os.path.join(working_dir,
    // 'ceph_client.yml') with working_dir = utils.get_default_working_dir(stack) =
    // ~/overcloud-deploy/<stack>; export.py export_ceph reads
    // os.path.join(oooutils.get_default_working_dir(stack), 'ceph_client.yml').
    it("client vars live at ~/overcloud-deploy/<stack>/ceph_client.yml (tripleoclient's working dir)", () => {
        assert.equal(clientVarsPath("dcn0", "/home/stack"), clientVars);
        assert.equal(
            clientVarsPath("control-plane", "/home/stack"),
            "/home/stack/overcloud-deploy/control-plane/ceph_client.yml",
        );
    });

    // The ceph_client.yml tripleo_cephadm writes (roles/tripleo_cephadm/templates/ceph_client.yaml.j2,
    // rendered by the template module with trim_blocks): keys[] from `ceph auth get` per key.
    it("reads the client key from a ceph_client.yml as tripleo_cephadm's export writes it", () => {
        const text = `---
tripleo_ceph_client_fsid: 539e2b96-316e-4c23-b7df-035a3037ddd1
tripleo_ceph_client_cluster: dcn0
external_cluster_mon_ips: "[v2:172.16.11.61:3300/0,v1:172.16.11.61:6789/0]"
keys:
- name: client.openstack
  key: ${key}
  caps:
    mgr: allow *
    mon: profile rbd
    osd: profile rbd pool=vms, profile rbd pool=volumes, profile rbd pool=images
`;
        assert.equal(parseClientVarsKey(text, "openstack"), key);
        assert.equal(parseClientVarsKey(text, "glance"), undefined);
        assert.equal(parseClientVarsKey(undefined, "openstack"), undefined);
        assert.equal(parseClientVarsKey("", "openstack"), undefined);
        // tripleo_ceph_client's fallback (no keys), and a key tripleoclient would reject
        // (cephx = re.compile(r"^[a-zA-Z0-9+/]{38}==$")).
        assert.equal(parseClientVarsKey("tripleo_ceph_client_fsid: x\n", "openstack"), undefined);
        assert.equal(parseClientVarsKey(text.replace(key, "not-a-key"), "openstack"), undefined);
    });

    it("ceph deploy command: --force with the pools file, cluster and stack", () => {
        const inputs: CephClusterInputs = {
            ...conn,
            stack: "dcn0",
            clusterName: "dcn0",
            metalFile: "/h/dcn/dcn0/deployed-metal-dcn0.yaml",
            metalSpec: "x",
            rolesFile: "/h/dcn/dcn0/roles-dcn0.yaml",
            networkDataFile: "~/oc0-network-data.yaml",
            containerPrepareFile: "~/containers-prepare-parameter.yaml",
            workDir: "~/dcn/dcn0",
            singleHostDefaults: true,
            pools: DEFAULT_POOLS,
            clientKeyGeneration: 0,
            timeoutMinutes: 10,
        };
        const f = cephFilesOf("dcn0", "/h/dcn/dcn0");
        const cmds = cephCommands(inputs, f, "/h");
        assert.ok(cmds[0].lock?.endsWith("/.dcn-jobs/ceph-admin-key.lock"));
        assert.deepEqual(cmds[1].argv, [
            "openstack",
            "overcloud",
            "ceph",
            "deploy",
            "/h/dcn/dcn0/deployed-metal-dcn0.yaml",
            "-y",
            "-o",
            "/h/dcn/dcn0/deployed-ceph-dcn0.yaml",
            "--single-host-defaults",
            "--container-image-prepare",
            "/h/containers-prepare-parameter.yaml",
            "--network-data",
            "/h/oc0-network-data.yaml",
            "--roles-data",
            "/h/dcn/dcn0/roles-dcn0.yaml",
            "--cluster",
            "dcn0",
            "--stack",
            "dcn0",
            "--force",
            "--ansible-extra-vars",
            "/h/dcn/dcn0/pools-dcn0.yml",
        ]);
    });

    it("parses the deployed-ceph file (§4.2)", () => {
        const p = parseDeployedCeph(`parameter_defaults:
  CephClusterFSID: 539e2b96-316e-4c23-b7df-035a3037ddd1
  CephClusterName: dcn0
  CephClientUserName: openstack
  CephClientKey: AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ==
`);
        assert.deepEqual(p, {
            fsid: "539e2b96-316e-4c23-b7df-035a3037ddd1",
            clusterName: "dcn0",
            clientUserName: "openstack",
            clientKey: "AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ==",
        });
    });

    it("export command and CephExternalMultiConfig parsing (§4.3)", () => {
        const inputs: CephExportInputs = {
            ...conn,
            stacks: ["dcn0", "dcn1"],
            outputFile: "~/dcn/cp/x.yaml",
            sourceSpecs: [],
            keyClientName: "openstack",
            configDownloadDir: "~/overcloud-deploy/",
            timeoutMinutes: 30,
        };
        assert.deepEqual(exportCommand(inputs, "/h"), [
            "openstack",
            "overcloud",
            "export",
            "ceph",
            "-f",
            "--stack",
            "dcn0,dcn1",
            "--cephx-key-client-name",
            "openstack",
            "--config-download-dir",
            "/h/overcloud-deploy/",
            "--output-file",
            "/h/dcn/cp/x.yaml",
        ]);
        const clusters = parseCephExport(`parameter_defaults:
  CephExternalMultiConfig:
    - cluster: dcn0
      fsid: f0
      external_cluster_mon_ips: "[v2:172.16.11.61:3300/0,v1:172.16.11.61:6789/0]"
      keys:
        - {name: client.openstack, key: K0==, caps: {mon: "profile rbd"}}
      dashboard_enabled: false
    - cluster: dcn1
      fsid: f1
      external_cluster_mon_ips: "[v2:172.16.11.62:3300/0]"
      keys: [{name: client.openstack, key: K1==}]
`);
        assert.deepEqual(clusters, [
            {
                cluster: "dcn0",
                fsid: "f0",
                monIps: "[v2:172.16.11.61:3300/0,v1:172.16.11.61:6789/0]",
                keys: [{ name: "client.openstack", key: "K0==" }],
            },
            {
                cluster: "dcn1",
                fsid: "f1",
                monIps: "[v2:172.16.11.62:3300/0]",
                keys: [{ name: "client.openstack", key: "K1==" }],
            },
        ]);
    });

    // tripleoclient export.py export_ceph: config_download_files = os.listdir(<config-download-dir>/<stack>);
    // 'cephadm' in it selects the cephadm path, which then reads ~/overcloud-deploy/<stack>/ceph_client.yml
    // (neither 'cephadm' nor 'ceph-ansible': ceph_data is unbound and the command crashes). The
    // default --config-download-dir, ~/overcloud-deploy/<stack>/config-download, exists only once the
    // stack is deployed, and ~/overcloud-deploy/<stack> itself has no 'cephadm' entry.
    it("export ceph: default config-download dir is a marker dir next to the export file", () => {
        const inputs: CephExportInputs = {
            ...conn,
            stacks: ["dcn0", "dcn1"],
            outputFile: "~/dcn/control-plane/ceph-export-dcn-stacks.yaml",
            sourceSpecs: [],
            keyClientName: "openstack",
            configDownloadDir: "",
            timeoutMinutes: 30,
        };
        const cdd = "/h/dcn/control-plane/.config-download-ceph-export-dcn-stacks";
        assert.equal(exportConfigDownloadDir(inputs, "/h"), cdd);
        const argv = exportCommand(inputs, "/h");
        assert.equal(argv[argv.indexOf("--config-download-dir") + 1], cdd);
        assert.equal(argv[argv.indexOf("--output-file") + 1], "/h/dcn/control-plane/ceph-export-dcn-stacks.yaml");
        // An explicit dir is used as given (~ expanded).
        assert.equal(exportConfigDownloadDir({ ...inputs, configDownloadDir: "~/cd" }, "/h"), "/h/cd");
    });
});

describe("glance multistore env", () => {
    it("central: default store plus one rbd store per DCN site", () => {
        const doc = parse(
            renderGlanceEnv({
                backendId: "central",
                description: "central rbd glance store",
                importMethods: "web-download,copy-image",
                showMultipleLocations: true,
                stores: [
                    { id: "dcn0", cephClusterName: "dcn0", description: "dcn0 rbd glance store" },
                    { id: "dcn1", cephClusterName: "dcn1", description: "dcn1 rbd glance store" },
                ],
            }),
        );
        assert.deepEqual(doc.parameter_defaults, {
            GlanceBackend: "rbd",
            GlanceBackendID: "central",
            GlanceStoreDescription: "central rbd glance store",
            GlanceEnabledImportMethods: "web-download,copy-image",
            GlanceShowMultipleLocations: true,
            GlanceMultistoreConfig: {
                dcn0: {
                    GlanceBackend: "rbd",
                    GlanceStoreDescription: "dcn0 rbd glance store",
                    CephClientUserName: "openstack",
                    CephClusterName: "dcn0",
                },
                dcn1: {
                    GlanceBackend: "rbd",
                    GlanceStoreDescription: "dcn1 rbd glance store",
                    CephClientUserName: "openstack",
                    CephClusterName: "dcn1",
                },
            },
        });
    });

    it("DCN: own store plus central", () => {
        const doc = parse(
            renderGlanceEnv({
                backendId: "dcn0",
                description: "d",
                importMethods: "web-download,copy-image",
                showMultipleLocations: false,
                stores: [{ id: "central", cephClusterName: "central", description: "c" }],
            }),
        );
        assert.equal(doc.parameter_defaults.GlanceBackendID, "dcn0");
        assert.deepEqual(Object.keys(doc.parameter_defaults.GlanceMultistoreConfig), ["central"]);
        assert.equal(doc.parameter_defaults.GlanceShowMultipleLocations, undefined);
    });

    it("store id collisions", () => {
        assert.deepEqual(storeProblems("central", [{ id: "dcn0", cephClusterName: "dcn0", description: "" }]), []);
        assert.equal(storeProblems("central", [{ id: "central", cephClusterName: "x", description: "" }]).length, 1);
    });
});

describe("overcloud deploy", () => {
    // What real tripleoclient 20.0.0 prints for `openstack overcloud status --stack <s>`
    // (v1/overcloud_deploy.py GetDeploymentStatus.take_action: PrettyTable(['Stack Name',
    // 'Deployment Status']) with one row, printed with prettytable 3.6.0), or, with no status file,
    // print('No deployment was found for %s' % stack).
    const STATUS_TABLE_DCN0 = `+------------+-------------------+
| Stack Name | Deployment Status |
+------------+-------------------+
|    dcn0    |   DEPLOY_SUCCESS  |
+------------+-------------------+
`;
    const STATUS_TABLE_CENTRAL_FAILED = `+---------------+-------------------+
|   Stack Name  | Deployment Status |
+---------------+-------------------+
| control-plane |   DEPLOY_FAILED   |
+---------------+-------------------+
`;

    it("status: reads the Deployment Status from tripleoclient's PrettyTable", () => {
        assert.equal(parseStatusTable(STATUS_TABLE_DCN0), "DEPLOY_SUCCESS");
        assert.equal(parseStatusTable(STATUS_TABLE_CENTRAL_FAILED), "DEPLOY_FAILED");
        assert.equal(parseStatusTable("No deployment was found for dcn0\n"), undefined);
        assert.equal(parseStatusTable(""), undefined);
        // The header row alone is not a status.
        assert.equal(parseStatusTable(STATUS_TABLE_DCN0.split("\n").slice(0, 3).join("\n")), undefined);
    });

    // GetDeploymentStatus is a plain cliff command.Command (not a Lister/ShowOne): its parser has
    // only --plan/--stack and --working-dir, so `-f value -c "Deployment Status"` is rejected by
    // argparse ("unrecognized arguments", exit 2). The fake below behaves so.
    it("status record: the deploy job's last command writes the stack's status table atomically, no -f/-c", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-status-"));
        try {
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            fs.writeFileSync(
                path.join(bin, "openstack"),
                `#!/bin/sh
echo "$*" >> "${dir}/argv"
for a in "$@"; do case "$a" in -f|-c|--format|--column)
  echo "openstack overcloud status: error: unrecognized arguments: $a" >&2; exit 2;; esac; done
printf '%s' '${STATUS_TABLE_DCN0}'
`,
                { mode: 0o755 },
            );
            const out = path.join(dir, "rec");
            const [cmd, ...args] = statusRecordCommand("dcn0", out);
            execFileSync(cmd, args, { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: "pipe" });
            assert.equal(fs.readFileSync(path.join(dir, "argv"), "utf8"), "overcloud status --stack dcn0\n");
            assert.equal(fs.readFileSync(out, "utf8"), STATUS_TABLE_DCN0);
            assert.equal(parseStatusTable(fs.readFileSync(out, "utf8")), "DEPLOY_SUCCESS");
            assert.ok(!fs.existsSync(`${out}.tmp`));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("phase probe: both markers and the Heat phase's directory in one exec", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-phase-"));
        try {
            fs.writeFileSync(path.join(dir, "heat"), "abc\n");
            fs.writeFileSync(path.join(dir, "config"), "");
            fs.mkdirSync(path.join(dir, "cd"));
            const probe = (...a: string[]) =>
                parsePhaseProbe(execFileSync("sh", ["-c", PHASE_PROBE_SCRIPT, "sh", ...a], { encoding: "utf8" }));
            const p = (f: string) => path.join(dir, f);
            assert.deepEqual(probe(p("heat"), p("config"), p("cd")), { heat: "abc", config: "", heatDir: true });
            assert.deepEqual(probe(p("none"), p("heat"), p("nodir")), {
                heat: undefined,
                config: "abc",
                heatDir: false,
            });
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    // The seed's common -e files (Pulumi.dev.yaml settings.commonEnvFiles): THT environments, then
    // the user's own files.
    const seedCommon = [
        "~/templates/environments/network-environment.yaml",
        "~/templates/environments/low-memory-usage.yaml",
        "~/templates/environments/podman.yaml",
        "~/templates/environments/docker-ha.yaml",
        "~/re-generated-container-prepare.yaml",
        "~/oc0-domain.yaml",
        "~/overcloud-0-yml/nova-tpm.yaml",
        "~/overcloud-0-yml/network-env.yaml",
        "~/xena/env_common/overrides.yaml",
    ];
    const files: DeployFiles = {
        commonEnvFiles: seedCommon,
        containerPrepareFile: "~/containers-prepare-parameter.yaml",
        vipsFile: "/w/deployed-vips.yaml",
        networkFile: "/w/deployed-network.yaml",
        metalFile: "/w/deployed-metal.yaml",
        cephFile: "/w/deployed-ceph.yaml",
        glanceFile: "/w/glance.yaml",
        dcnCephExportFile: "/w/ceph-export-dcn-stacks.yaml",
        centralExportFile: "",
        centralCephExportFile: "",
    };

    // Reference §3.5 (control-plane/deploy.sh): -e ~/templates/environments/{network-environment,
    // low-memory-usage,podman,docker-ha}.yaml -e …/cephadm/cephadm.yaml -e ~/containers-prepare-parameter.yaml
    // -e ~/re-generated-container-prepare.yaml -e ~/oc0-domain.yaml -e …nova-tpm.yaml -e …network-env.yaml
    // -e …/env_common/overrides.yaml -e deployed-{vips,network,metal,ceph}-control-plane.yaml
    // -e overrides.yaml -e glance_update.yaml -e ../ceph-export-2-stacks.yaml. Later -e files
    // override earlier ones (the environments are merged in order), so the user's files override
    // what cephadm.yaml sets.
    it("central -e order (control-plane/deploy.sh): THT common, cephadm.yaml, container prepare, user common", () => {
        assert.deepEqual(orderedEnvFiles("central", "~/templates/", files, "/w/overrides.yaml"), [
            "~/templates/environments/network-environment.yaml",
            "~/templates/environments/low-memory-usage.yaml",
            "~/templates/environments/podman.yaml",
            "~/templates/environments/docker-ha.yaml",
            "~/templates/environments/cephadm/cephadm.yaml",
            "~/containers-prepare-parameter.yaml",
            "~/re-generated-container-prepare.yaml",
            "~/oc0-domain.yaml",
            "~/overcloud-0-yml/nova-tpm.yaml",
            "~/overcloud-0-yml/network-env.yaml",
            "~/xena/env_common/overrides.yaml",
            "/w/deployed-vips.yaml",
            "/w/deployed-network.yaml",
            "/w/deployed-metal.yaml",
            "/w/deployed-ceph.yaml",
            "/w/overrides.yaml",
            "/w/glance.yaml",
            "/w/ceph-export-dcn-stacks.yaml",
        ]);
    });

    // Reference §3.6 (dcn0/deploy.sh): the central command's shape with cephadm-rbd-only.yaml then
    // dcn-storage.yaml in place of cephadm.yaml; the four deployed-*-dcn0.yaml files; then
    // ../control-plane-export.yaml ../ceph-export-control-plane.yaml glance.yaml overrides.yaml.
    it("DCN -e order (dcn0/deploy.sh): rbd-only + dcn-storage before container prepare and user common", () => {
        const dcn = {
            ...files,
            dcnCephExportFile: "",
            centralExportFile: "/c/control-plane-export.yaml",
            centralCephExportFile: "/c/ceph-export-control-plane.yaml",
        };
        assert.deepEqual(orderedEnvFiles("dcn", "~/templates", dcn, "/w/overrides.yaml"), [
            "~/templates/environments/network-environment.yaml",
            "~/templates/environments/low-memory-usage.yaml",
            "~/templates/environments/podman.yaml",
            "~/templates/environments/docker-ha.yaml",
            "~/templates/environments/cephadm/cephadm-rbd-only.yaml",
            "~/templates/environments/dcn-storage.yaml",
            "~/containers-prepare-parameter.yaml",
            "~/re-generated-container-prepare.yaml",
            "~/oc0-domain.yaml",
            "~/overcloud-0-yml/nova-tpm.yaml",
            "~/overcloud-0-yml/network-env.yaml",
            "~/xena/env_common/overrides.yaml",
            "/w/deployed-vips.yaml",
            "/w/deployed-network.yaml",
            "/w/deployed-metal.yaml",
            "/w/deployed-ceph.yaml",
            "/c/control-plane-export.yaml",
            "/c/ceph-export-control-plane.yaml",
            "/w/glance.yaml",
            "/w/overrides.yaml",
        ]);
    });

    it("-e order: a user file listed among THT files still comes after THT's Ceph env; each group keeps its order", () => {
        const mixed = {
            ...files,
            commonEnvFiles: ["~/oc0-domain.yaml", "~/templates/environments/podman.yaml", "~/a.yaml"],
        };
        assert.deepEqual(orderedEnvFiles("central", "~/templates", mixed, "/w/o.yaml").slice(0, 5), [
            "~/templates/environments/podman.yaml",
            "~/templates/environments/cephadm/cephadm.yaml",
            "~/containers-prepare-parameter.yaml",
            "~/oc0-domain.yaml",
            "~/a.yaml",
        ]);
    });

    it("per-site overrides: DCN gets its own cluster, AZ and Cinder cluster; config extras win", () => {
        assert.deepEqual(siteOverrides("dcn", "dcn1", "dcn1"), {
            CephClusterName: "dcn1",
            NovaComputeAvailabilityZone: "dcn1",
            CinderStorageAvailabilityZone: "dcn1",
            CinderVolumeCluster: "dcn1",
            NovaCrossAZAttach: false,
        });
        assert.equal(
            siteOverrides("central", "central", "central", { NovaComputeAvailabilityZone: "nova" })
                .NovaComputeAvailabilityZone,
            "nova",
        );
        assert.deepEqual(parse(renderOverridesFile({ B: 1, A: "x" })), { parameter_defaults: { A: "x", B: 1 } });
    });

    it("deploy command: templates, stack, roles, network data, args, then -e pairs", () => {
        const inputs = {
            templatesDir: "~/templates",
            stack: "dcn0",
            rolesFile: "/w/roles.yaml",
            networkDataFile: "~/n.yaml",
            deployArgs: ["--timeout", "90"],
        } as OvercloudStackInputs;
        assert.deepEqual(deployCommand(inputs, ["/a.yaml", "/b.yaml"], "/h"), [
            "openstack",
            "overcloud",
            "deploy",
            "--templates",
            "/h/templates",
            "--stack",
            "dcn0",
            "-r",
            "/w/roles.yaml",
            "-n",
            "/h/n.yaml",
            "--timeout",
            "90",
            "-e",
            "/a.yaml",
            "-e",
            "/b.yaml",
        ]);
    });

    it("deploy job: Heat phase under the lock with its marker, then unlocked config-download; done phases left out", () => {
        const o = {
            heatLock: "/h/.dcn-jobs/heat.lock",
            heatMarker: "/w/.deploy-heat.done",
            configMarker: "/w/.deploy-config.done",
            deployHash: "abc",
            skipHeat: false,
            skipConfig: false,
        };
        const all = deployJobCommands(["openstack", "overcloud", "deploy"], o);
        assert.deepEqual(
            all.map((c) => [c.argv[c.argv.length - 1], c.lock ?? ""]),
            [
                ["--stack-only", "/h/.dcn-jobs/heat.lock"],
                ["abc", ""],
                ["--config-download-only", ""],
                ["abc", ""],
            ],
        );
        assert.equal(all[1].argv[4], "/w/.deploy-heat.done");
        const configOnly = deployJobCommands(["d"], { ...o, skipHeat: true });
        assert.deepEqual(
            configOnly.map((c) => c.argv[c.argv.length - 1]),
            ["--config-download-only", "abc"],
        );
        assert.deepEqual(deployJobCommands(["d"], { ...o, skipHeat: true, skipConfig: true }), []);
        // The central stack's export runs last, and also when both phases were already done.
        const exportArgv = stackExportCommand(
            "control-plane",
            "/h/overcloud-deploy/control-plane/control-plane-export.yaml",
        );
        assert.deepEqual(
            deployJobCommands(["d"], { ...o, skipHeat: true, skipConfig: true, exportArgv }).map((c) => c.argv),
            [
                [
                    "openstack",
                    "overcloud",
                    "export",
                    "-f",
                    "--stack",
                    "control-plane",
                    "--output-file",
                    "/h/overcloud-deploy/control-plane/control-plane-export.yaml",
                ],
            ],
        );
        assert.deepEqual(
            deployJobCommands(["d"], { ...o, exportArgv })
                .at(-1)
                ?.argv.slice(0, 3),
            ["openstack", "overcloud", "export"],
        );
    });

    it("sanity checks: token issue for central, aggregate show <az> with central's rc for DCN", () => {
        assert.match(
            sanityCommands({ kind: "central", az: "central", centralRcFile: "" }, "/rc")[0].argv[2],
            /openstack token issue/,
        );
        const dcn = sanityCommands({ kind: "dcn", az: "dcn0", centralRcFile: "/c/control-planerc" }, "/rc")[0];
        assert.deepEqual(dcn.argv.slice(-2), ["/c/control-planerc", "dcn0"]);
        assert.match(dcn.argv[2], /openstack aggregate show "\$2"/);
    });

    it("parses endpoints and deployment status; recognises already-gone errors", () => {
        const eps = parseEndpoints(`parameter_defaults:
  AdminPassword: secret
  EndpointMapOverride:
    KeystonePublic: {host: 10.0.0.5, port: '5000', protocol: http, uri: 'http://10.0.0.5:5000'}
    GlanceInternal: {uri: 'http://172.16.2.110:9292'}
    MysqlInternal: {host: x}
`);
        assert.deepEqual(eps, { GlanceInternal: "http://172.16.2.110:9292", KeystonePublic: "http://10.0.0.5:5000" });
        assert.ok(!JSON.stringify(eps).includes("secret"));
        assert.equal(parseDeploymentStatus("deployment_status: DEPLOY_SUCCESS\n"), "DEPLOY_SUCCESS");
        assert.ok(isAlreadyGone("Stack dcn0 not found"));
        assert.ok(!isAlreadyGone("ERROR: Heat failed"));
    });
});

describe("after unprovision", () => {
    it("names the instances metalsmith still knows as deployed after its rounds, exit 1; exit 0 when none", () => {
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-metalsmith-"));
        try {
            // A metalsmith that knows only oc0-ceph-1.
            fs.writeFileSync(
                path.join(bin, "metalsmith"),
                '#!/bin/sh\n[ "$1" = show ] && [ "$2" = oc0-ceph-1 ] && exit 0\necho "Failed to show instance $2" >&2; exit 1\n',
                { mode: 0o755 },
            );
            const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, DCN_UNDEPLOY_ROUNDS: "1" };
            const check = (...hosts: string[]) => {
                try {
                    return {
                        code: 0,
                        out: execFileSync("sh", ["-c", STILL_DEPLOYED_SCRIPT, "sh", ...hosts], {
                            env,
                            encoding: "utf8",
                        }),
                    };
                } catch (e) {
                    const err = e as { status: number; stdout: string };
                    return { code: err.status, out: err.stdout };
                }
            };
            assert.deepEqual(check("oc0-ceph-2", "oc0-compute-0"), { code: 0, out: "" });
            assert.deepEqual(check("oc0-ceph-2", "oc0-ceph-1"), {
                code: 1,
                out: "instances still deployed: oc0-ceph-1\n",
            });
        } finally {
            fs.rmSync(bin, { recursive: true, force: true });
        }
    });
});
