/**
 * The Ceph server services of the roles tripleo-heat-templates 18.0.0 ships (`roles/*.yaml`,
 * `ServicesDefault`): which roles run `OS::TripleO::Services::CephMon` and which
 * `OS::TripleO::Services::CephOSD`. The config is judged before the undercloud is read, so it checks
 * that every site has a mon and OSDs against this table; the undercloud files preflight
 * (components/preflight.ts) then checks the same against the roles files of the templates tree. Derived from the THT 18.0.0 sdist (`.tripleo/tht/roles/`, installed by `npm run setup`;
 * tests/unit/config.test.ts compares the table with those files). A role not listed runs neither,
 * unless the site's config says so (`cephMon` / `cephDisks` on the role, for custom roles of the
 * templates tree given in `settings.templatesDir`).
 */

/** THT 18 roles with CephMon in ServicesDefault (openstack/tripleo-heat-templates roles/<name>.yaml). */
export const THT_CEPH_MON_ROLES: readonly string[] = [
    "CephAll",
    "Controller",
    "ControllerAllNovaStandalone",
    "ControllerNovaStandalone",
    "ControllerOpenstack",
    "ControllerSriov",
    "ControllerStorageDashboard",
    "ControllerStorageNfs",
    "DistributedComputeHCI",
    "DistributedComputeHCIDashboard",
    "HciCephAll",
    "HciCephMon",
    "Standalone",
];

/** THT 18 roles with CephOSD in ServicesDefault: their nodes carry OSD disks. */
export const THT_CEPH_OSD_ROLES: readonly string[] = [
    "CephAll",
    "CephFile",
    "CephObject",
    "CephStorage",
    "ComputeHCI",
    "ComputeHCIOvsDpdk",
    "ComputeHCISriov",
    "DistributedComputeHCI",
    "DistributedComputeHCIDashboard",
    "DistributedComputeHCIScaleOut",
    "HciCephAll",
    "HciCephFile",
    "HciCephMon",
    "HciCephObject",
    "Standalone",
];
