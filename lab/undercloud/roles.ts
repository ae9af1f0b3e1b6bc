// The roles of tripleo-heat-templates `roles/*.yaml` that the DCN topology uses (reference §5.1),
// reduced to what the lab reads: services and networks.
const S = (names: string[]) => names.map((n) => `OS::TripleO::Services::${n}`);

const COMMON = ["Aide", "AuditD", "BootParams", "CACerts", "ContainersLogrotateCrond", "Kernel", "LoginDefs", "MetricsQdr", "Podman", "Rhsm", "Securetty", "Snmp", "Sshd", "Timesync", "Timezone", "TripleoFirewall", "TripleoPackages", "Tuned"];

export interface RoleDef {
  name: string;
  description: string;
  CountDefault?: number;
  HostnameFormatDefault?: string;
  tags?: string[];
  networks: Record<string, { subnet: string }>;
  ServicesDefault: string[];
}

const nets = (...n: string[]) => Object.fromEntries(n.map((x) => [x, { subnet: `${x.toLowerCase()}_subnet` }]));

export const ROLES: Record<string, RoleDef> = {
  Controller: {
    name: "Controller",
    description: "Controller role that has all the controller services loaded and handles Database, Messaging, and Network functions.",
    CountDefault: 1,
    tags: ["primary", "controller"],
    networks: nets("External", "InternalApi", "Storage", "StorageMgmt", "Tenant"),
    HostnameFormatDefault: "%stackname%-controller-%index%",
    ServicesDefault: S([...COMMON, "CephMon", "CephMgr", "CephRgw", "CephMds", "CephNfs", "CephGrafana", "CephIngress", "CephRbdMirror", "CephClient", "CephExternal", "GlanceApi", "CinderApi", "CinderScheduler", "CinderVolume", "CinderBackup", "Keystone", "MySQL", "OsloMessagingRpc", "OsloMessagingNotify", "HAproxy", "Pacemaker", "NovaApi", "NovaConductor", "NovaScheduler", "NovaMetadata", "NovaVncProxy", "NeutronApi", "NeutronServer", "Memcached", "Redis", "Horizon", "Clustercheck"]),
  },
  Compute: {
    name: "Compute",
    description: "Basic Compute Node role",
    CountDefault: 1,
    networks: nets("InternalApi", "Tenant", "Storage"),
    HostnameFormatDefault: "%stackname%-novacompute-%index%",
    ServicesDefault: S([...COMMON, "CephClient", "CephExternal", "NovaCompute", "NovaLibvirt", "NovaMigrationTarget", "NovaAZConfig"]),
  },
  ComputeHCI: {
    name: "ComputeHCI",
    description: "Compute Node role hosting Ceph OSD too",
    networks: nets("InternalApi", "Tenant", "Storage", "StorageMgmt"),
    ServicesDefault: S([...COMMON, "CephOSD", "CephClient", "CephExternal", "NovaCompute", "NovaLibvirt", "NovaMigrationTarget", "NovaAZConfig"]),
  },
  DistributedComputeHCI: {
    name: "DistributedComputeHCI",
    description: "Distributed Compute Node role with Ceph mon, mgr and OSD, edge Glance and Cinder (the first 3 nodes of a site)",
    networks: nets("InternalApi", "Tenant", "Storage", "StorageMgmt"),
    HostnameFormatDefault: "%stackname%-distributedcomputehci-%index%",
    ServicesDefault: S([...COMMON, "CephMon", "CephMgr", "CephOSD", "CephRgw", "CephMds", "CephGrafana", "CephRbdMirror", "CephClient", "CephExternal", "GlanceApiEdge", "CinderVolumeEdge", "Etcd", "NovaCompute", "NovaLibvirt", "NovaMigrationTarget", "NovaAZConfig"]),
  },
  DistributedComputeHCIScaleOut: {
    name: "DistributedComputeHCIScaleOut",
    description: "Distributed Compute Node role with Ceph OSD and an HAproxy to the edge Glance",
    networks: nets("InternalApi", "Tenant", "Storage", "StorageMgmt"),
    HostnameFormatDefault: "%stackname%-distributedcomputehciscaleout-%index%",
    ServicesDefault: S([...COMMON, "CephOSD", "CephClient", "CephExternal", "HAproxyEdge", "NovaCompute", "NovaLibvirt", "NovaMigrationTarget", "NovaAZConfig"]),
  },
  DistributedCompute: {
    name: "DistributedCompute",
    description: "Distributed Compute Node role with edge Glance and Cinder, storage from CephAll or external Ceph",
    networks: nets("InternalApi", "Tenant", "Storage"),
    HostnameFormatDefault: "%stackname%-distributedcompute-%index%",
    ServicesDefault: S([...COMMON, "CephClient", "CephExternal", "GlanceApiEdge", "CinderVolumeEdge", "Etcd", "NovaCompute", "NovaLibvirt", "NovaMigrationTarget", "NovaAZConfig"]),
  },
  DistributedComputeScaleOut: {
    name: "DistributedComputeScaleOut",
    description: "Distributed Compute Node scale-out role",
    networks: nets("InternalApi", "Tenant", "Storage"),
    HostnameFormatDefault: "%stackname%-distributedcomputescaleout-%index%",
    ServicesDefault: S([...COMMON, "CephClient", "CephExternal", "HAproxyEdge", "NovaCompute", "NovaLibvirt", "NovaMigrationTarget", "NovaAZConfig"]),
  },
  CephAll: {
    name: "CephAll",
    description: "Standalone Ceph role with every Ceph service",
    networks: nets("Storage", "StorageMgmt"),
    HostnameFormatDefault: "%stackname%-ceph-all-%index%",
    ServicesDefault: S([...COMMON, "CephMon", "CephMgr", "CephOSD", "CephRgw", "CephMds", "CephRbdMirror", "CephGrafana", "CephIngress"]),
  },
  CephStorage: {
    name: "CephStorage",
    description: "Ceph OSD Storage node role",
    networks: nets("Storage", "StorageMgmt"),
    HostnameFormatDefault: "%stackname%-cephstorage-%index%",
    ServicesDefault: S([...COMMON, "CephOSD"]),
  },
};

/** Services mapped to OS::Heat::None unless environments/dcn-storage.yaml (or dcn.yaml) is used. */
export const EDGE_SERVICES = ["CinderVolumeEdge", "Etcd", "GlanceApiEdge", "HAproxyEdge", "NovaAZConfig"];
