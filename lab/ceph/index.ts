// lab/ceph: one small real Ceph cluster per lab site (mon + one bluestore OSD, no mgr), each on
// its own loopback address. The lab core uses only what this file exports.
export {
    type CephClusterSpec,
    type CephClusterRecord,
    OPENSTACK_CLIENT_CAPS,
    formatMonHost,
    formatMonIps,
    generateCephxKey,
    isCephxKeyShape,
    renderClientConf,
    renderKeyring,
} from "./config";
export {
    type CephClusterInfo,
    CephClusterExistsError,
    CephClusterLostError,
    CephClusterNotRunningError,
    CephPortInUseError,
    cephClusterInfo,
    cephClusterMemory,
    cephCommandEnv,
    createCephCluster,
    startCephCluster,
    stopCephCluster,
    wipeCephCluster,
} from "./cluster";
export { createPools, ensureClientKey, getClientKey, writeClientFiles } from "./access";
export { CephCommandError } from "./commands";
