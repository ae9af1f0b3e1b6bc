// Seeds the undercloud user's home (`<LAB_DIR>/home`) with what a TripleO lab undercloud has before
// the first command: the network data file, container prepare parameters, a tripleo-heat-templates
// tree at ~/templates (the environment files and roles the DCN flow reads), the seed's baremetal
// files under ~/metalsmith and the pools template. Existing files are never overwritten.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { EDGE_SERVICES, ROLES } from "./undercloud/roles";
import { TripleoMode, tripleoDir } from "./paths";

const NETWORKS = [
    { name: "ExternalCloud0", name_lower: "external_cloud_0", vip: true, cidr: "10.0.0.0/24", vlan: 10 },
    { name: "InternalApiCloud0", name_lower: "internal_api_cloud_0", vip: true, cidr: "172.16.2.0/24", vlan: 20 },
    { name: "StorageCloud0", name_lower: "storage_cloud_0", vip: true, cidr: "172.16.11.0/24", vlan: 30 },
    { name: "StorageMgmtCloud0", name_lower: "storage_mgmt_cloud_0", vip: true, cidr: "172.16.3.0/24", vlan: 40 },
    { name: "TenantCloud0", name_lower: "tenant_cloud_0", vip: false, cidr: "172.16.0.0/24", vlan: 50 },
];

function networkData(): string {
    return stringify(
        NETWORKS.map((n) => {
            const base = n.cidr.replace(/\.0\/24$/, "");
            return {
                name: n.name,
                name_lower: n.name_lower,
                vip: n.vip,
                mtu: 1500,
                subnets: {
                    [`${n.name_lower}_subnet`]: {
                        ip_subnet: n.cidr,
                        allocation_pools: [{ start: `${base}.4`, end: `${base}.250` }],
                        gateway_ip: `${base}.1`,
                        vlan: n.vlan,
                    },
                },
            };
        }),
    );
}

type Net = { network: string; subnet?: string; vif?: boolean };
const ctl: Net = { network: "ctlplane", vif: true };
const net = (n: string): Net => ({ network: n, subnet: `${n}_subnet` });
const NIC = { template: "templates/single_nic_vlans/single_nic_vlans.j2" };

function role(name: string, hosts: string[], networks: Net[], extra: Record<string, unknown> = {}) {
    return {
        name,
        count: hosts.length,
        instances: hosts.map((h) => ({ hostname: h, name: h })),
        defaults: { networks, network_config: NIC, ...extra },
    };
}

const API = ["internal_api_cloud_0", "storage_cloud_0", "tenant_cloud_0"].map(net);
const HCI = ["internal_api_cloud_0", "storage_cloud_0", "storage_mgmt_cloud_0", "tenant_cloud_0"].map(net);
const CEPH = ["storage_cloud_0", "storage_mgmt_cloud_0"].map(net);

export const BAREMETAL_FILES: Record<string, unknown[]> = {
    "control-plane": [
        role(
            "Controller",
            ["oc0-controller-0", "oc0-controller-1", "oc0-controller-2"],
            [ctl, net("external_cloud_0"), ...HCI],
            {
                network_config: { ...NIC, default_route_network: ["external_cloud_0"] },
            },
        ),
        role("ComputeHCI", ["oc0-ceph-0"], [ctl, ...HCI]),
    ],
    dcn0: [
        role("DistributedComputeHCI", ["oc0-ceph-1"], [ctl, ...HCI]),
        role("DistributedComputeHCIScaleOut", ["oc0-ceph-2"], [ctl, ...HCI]),
    ],
    dcn1: [
        role("DistributedCompute", ["oc0-compute-0"], [ctl, ...API]),
        role("CephAll", ["oc0-ceph-3"], [ctl, ...CEPH]),
    ],
};

const POOLS_TEMPLATE = `---
tripleo_cephadm_pools:
  - name: vms
    pg_autoscale_mode: true
    target_size_ratio: 0.3
    application: rbd
  - name: volumes
    pg_autoscale_mode: true
    target_size_ratio: 0.5
    application: rbd
  - name: images
    pg_autoscale_mode: true
    target_size_ratio: 0.2
    application: rbd
tripleo_ceph_client_vars: /home/stack/overcloud-deploy/STACK/cephadm/ceph_client.yml
`;

function env(parameterDefaults: Record<string, unknown>, registry: Record<string, string> = {}): string {
    const doc: Record<string, unknown> = {};
    if (Object.keys(registry).length) doc.resource_registry = registry;
    doc.parameter_defaults = parameterDefaults;
    return stringify(doc);
}

const CEPHADM_REGISTRY = {
    "OS::TripleO::Services::CephMgr": "../../deployment/cephadm/ceph-mgr.yaml",
    "OS::TripleO::Services::CephMon": "../../deployment/cephadm/ceph-mon.yaml",
    "OS::TripleO::Services::CephOSD": "../../deployment/cephadm/ceph-osd.yaml",
    "OS::TripleO::Services::CephClient": "../../deployment/cephadm/ceph-client.yaml",
};
const CEPHADM_PARAMS = {
    CinderEnableIscsiBackend: false,
    CinderEnableRbdBackend: true,
    CinderBackupBackend: "ceph",
    NovaEnableRbdBackend: true,
    GlanceBackend: "rbd",
};

function templateFiles(): Record<string, string> {
    const files: Record<string, string> = {
        "environments/network-environment.yaml": env({ NeutronNetworkType: "geneve,vlan" }),
        "environments/low-memory-usage.yaml": env({ HeatWorkers: 1, KeystoneWorkers: 1, NovaWorkers: 1 }),
        "environments/podman.yaml": env({ ContainerCli: "podman" }),
        "environments/docker-ha.yaml": env({ EnablePacemaker: true }),
        "environments/cephadm/cephadm.yaml": env(CEPHADM_PARAMS, {
            ...CEPHADM_REGISTRY,
            "OS::TripleO::Services::CephRgw": "../../deployment/cephadm/ceph-rgw.yaml",
        }),
        "environments/cephadm/cephadm-rbd-only.yaml": env(CEPHADM_PARAMS, CEPHADM_REGISTRY),
        "environments/dcn-storage.yaml": env(
            {
                CinderEtcdLocalConnect: true,
                CinderStorageAvailabilityZone: "dcn",
                CinderVolumeCluster: "dcn",
                GlanceEnabledImportMethods: "web-download,copy-image",
                NovaComputeAvailabilityZone: "",
                NovaCrossAZAttach: false,
                NovaDisableImageDownloadToRbd: true,
            },
            Object.fromEntries(
                EDGE_SERVICES.map((s) => [`OS::TripleO::Services::${s}`, `../deployment/${s.toLowerCase()}.yaml`]),
            ),
        ),
        "environments/dcn.yaml": env(
            {
                GlanceEnabledImportMethods: "web-download,copy-image",
                NovaComputeAvailabilityZone: "",
                NovaCrossAZAttach: false,
            },
            Object.fromEntries(
                ["GlanceApiEdge", "HAproxyEdge", "NovaAZConfig"].map((s) => [
                    `OS::TripleO::Services::${s}`,
                    `../deployment/${s.toLowerCase()}.yaml`,
                ]),
            ),
        ),
        "deployed-server/deployed-neutron-port.yaml":
            "heat_template_version: wallaby\ndescription: deployed server ctlplane port\n",
        "templates/single_nic_vlans/single_nic_vlans.j2": "---\nnetwork_config: []\n",
        // What makes the tree a THT tree for tripleoclient (and the program's preflight); the
        // imitation renders neither.
        "overcloud.j2.yaml": "heat_template_version: wallaby\ndescription: lab stand-in of THT's overcloud.j2.yaml\n",
        "overcloud-resource-registry-puppet.j2.yaml": "resource_registry: {}\n",
    };
    for (const n of NETWORKS)
        files[`network/ports/deployed_${n.name_lower}.yaml`] =
            `heat_template_version: wallaby\ndescription: deployed ${n.name_lower} port\n`;
    files["roles_data.yaml"] = ["Controller", "Compute", "CephStorage"]
        .map(
            (n) =>
                `###############################################################################\n# Role: ${n}\n###############################################################################\n` +
                stringify([ROLES[n]]),
        )
        .join("");
    for (const r of Object.values(ROLES))
        files[`roles/${r.name}.yaml`] =
            `###############################################################################\n# Role: ${r.name}\n###############################################################################\n` +
            stringify([r]);
    return files;
}

export function homeFiles(home: string, tripleo: TripleoMode = "imitation"): Record<string, string> {
    const files: Record<string, string> = {
        "oc0-network-data.yaml": networkData(),
        "containers-prepare-parameter.yaml": stringify({
            parameter_defaults: {
                ContainerImageRegistryCredentials: {},
                ContainerImagePrepare: [
                    {
                        push_destination: true,
                        set: {
                            namespace: "quay.io/tripleomaster",
                            name_prefix: "openstack-",
                            tag: "current-tripleo",
                            ceph_namespace: "quay.io/ceph",
                            ceph_image: "daemon",
                            ceph_tag: "v6.0.7-stable-6.0-pacific-centos-8-x86_64",
                        },
                    },
                ],
            },
        }),
        "re-generated-container-prepare.yaml": env({
            ContainerHeatAllImage: "quay.io/tripleomaster/openstack-heat-all:current-tripleo",
        }),
        "oc0-domain.yaml": env({ CloudDomain: "mydomain.tld", CloudName: "overcloud.mydomain.tld" }),
        "overcloud-0-yml/nova-tpm.yaml": env({ NovaEnableVTPM: false }),
        "overcloud-0-yml/network-env.yaml": env({ DnsServers: ["192.168.24.1"], NtpServer: ["pool.ntp.org"] }),
        "xena/env_common/overrides.yaml": env({ ContainerCli: "podman", SELinuxMode: "permissive", ConfigDebug: true }),
        "vip_data.yaml": stringify([
            { network: "ctlplane", dns_name: "overcloud" },
            ...NETWORKS.filter((n) => n.vip).map((n) => ({ network: n.name_lower, dns_name: "overcloud" })),
        ]),
        "pools_template.yml": POOLS_TEMPLATE,
        ".bash_profile": `# lab undercloud login shell\n[ -f ~/.bashrc ] && . ~/.bashrc\n`,
    };
    for (const [stack, doc] of Object.entries(BAREMETAL_FILES)) files[`metalsmith/${stack}.yaml`] = stringify(doc);
    // Real TripleO brings the real tree (seedHome links ~/templates to it).
    if (tripleo === "imitation")
        for (const [p, text] of Object.entries(templateFiles())) files[`templates/${p}`] = text;
    void home;
    return files;
}

/** Writes missing seed files; `.bashrc` (PATH to the lab's `openstack`/`metalsmith`) is always rewritten. */
export function seedHome(home: string, binDir: string, labDir: string, tripleo: TripleoMode = "imitation"): void {
    if (tripleo === "real" && !fs.existsSync(path.join(home, "templates"))) {
        // ~/templates as operators make it: the undercloud's tripleo-heat-templates (here .tripleo/tht).
        fs.mkdirSync(home, { recursive: true });
        fs.symlinkSync(path.join(tripleoDir(), "tht"), path.join(home, "templates"));
    }
    for (const [rel, text] of Object.entries(homeFiles(home, tripleo))) {
        const p = path.join(home, rel);
        if (fs.existsSync(p)) continue;
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, text);
    }
    fs.mkdirSync(path.join(home, "overcloud-deploy"), { recursive: true });
    // The undercloud install's key for the overcloud nodes (tripleoclient's utils.get_key looks for it).
    const tripleoKey = path.join(home, ".ssh", "id_rsa_tripleo");
    if (!fs.existsSync(tripleoKey)) {
        fs.mkdirSync(path.dirname(tripleoKey), { recursive: true, mode: 0o700 });
        const r = spawnSync("ssh-keygen", [
            "-q",
            "-t",
            "rsa",
            "-b",
            "3072",
            "-N",
            "",
            "-C",
            "tripleo",
            "-f",
            tripleoKey,
        ]);
        if (r.status !== 0) throw new Error(`ssh-keygen for ${tripleoKey} failed: ${String(r.stderr)}`);
    }
    fs.writeFileSync(
        path.join(home, ".bashrc"),
        `# lab undercloud user environment\nexport LAB_DIR=${labDir}\nexport PATH=${binDir}:$PATH\n`,
    );
}
