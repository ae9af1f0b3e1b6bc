// Pure helpers for the lab's Ceph clusters: file layout, ceph.conf text, keyrings, cephx keys,
// mon address formats and input validation. Nothing here touches the disk or runs a process.
import { randomBytes } from "node:crypto";
import * as path from "node:path";

/** What the lab asks for: one cluster per site, each on its own loopback address and ports. */
export interface CephClusterSpec {
    /** Cluster name, `[a-zA-Z0-9]+`; also the prefix of its conf and keyring files (`<name>.conf`). */
    name: string;
    /** Directory the lab owns for this cluster; everything of the cluster lives under it. */
    dir: string;
    /** The cluster's own loopback IPv4 address (127.0.0.0/8), e.g. 127.0.0.11, so mon IPs differ per site. */
    addr: string;
    /** Monitor msgr2 port (Ceph's default is 3300). */
    v2Port: number;
    /** Monitor msgr1 port (Ceph's default is 6789). */
    v1Port: number;
}

/** Facts recorded when the cluster was created; the JSON in `<dir>/cluster.json`. */
export interface CephClusterRecord {
    name: string;
    fsid: string;
    addr: string;
    v2Port: number;
    v1Port: number;
    /** Object store of the OSD; always "bluestore" (a sparse file survives a lab stop, memstore would not). */
    objectStore: "bluestore";
    /** ISO time of creation. */
    createdAt: string;
}

/** Caps TripleO's tripleo_cephadm gives `client.openstack` (tripleo-dcn.md §3.3). */
export const OPENSTACK_CLIENT_CAPS: Readonly<Record<"mgr" | "mon" | "osd", string>> = {
    mgr: "allow *",
    mon: "profile rbd",
    osd: "profile rbd pool=vms, profile rbd pool=volumes, profile rbd pool=images",
};

/** Placement groups per pool: 8 keeps 3 pools at 24 PGs on the single OSD (limit 250). */
export const POOL_PG_NUM = 8;

/** Size of the OSD's sparse bluestore file; only what is written takes disk space. */
export const OSD_BLOCK_BYTES = 8 * 1024 ** 3;

/** Where the files of a cluster live that do not depend on its name. */
export function clusterFiles(dir: string) {
    return {
        /** Marker created exclusively (O_EXCL) first, so two creates on one dir cannot both proceed. */
        marker: path.join(dir, ".ceph-lab-cluster"),
        /** Recorded facts (CephClusterRecord); written last by create, so it exists only for a whole cluster. */
        record: path.join(dir, "cluster.json"),
        /** The daemons' PID records (DaemonRecord[]). */
        pids: path.join(dir, "pids.json"),
        monKeyring: path.join(dir, "mon.keyring"),
        monmap: path.join(dir, "monmap"),
        monData: path.join(dir, "mon", "a"),
        osdData: path.join(dir, "osd", "0"),
        osdKeyring: path.join(dir, "osd", "0", "keyring"),
        osdBlock: path.join(dir, "osd", "0", "block"),
        logDir: path.join(dir, "log"),
        runDir: path.join(dir, "run"),
        crashDir: path.join(dir, "crash"),
        tmpDir: path.join(dir, "tmp"),
    };
}

/** Every file of a cluster, including those named after it (`<name>.conf`, `<name>.client.<user>.keyring`). */
export function clusterPaths(dir: string, name: string) {
    return {
        ...clusterFiles(dir),
        conf: path.join(dir, `${name}.conf`),
        adminKeyring: path.join(dir, `${name}.client.admin.keyring`),
        clientKeyring: (user: string) => path.join(dir, `${name}.client.${user}.keyring`),
    };
}

/** Throws an Error naming what is wrong with a spec (name, address, ports). */
export function validateClusterSpec(spec: CephClusterSpec): void {
    if (!/^[a-zA-Z0-9]+$/.test(spec.name)) {
        throw new Error(`Ceph cluster name ${JSON.stringify(spec.name)} must match [a-zA-Z0-9]+`);
    }
    if (!path.isAbsolute(spec.dir)) {
        throw new Error(`Ceph cluster dir ${JSON.stringify(spec.dir)} must be an absolute path`);
    }
    const octets = spec.addr.split(".");
    const isLoopback =
        octets.length === 4 &&
        octets.every((o) => /^(0|[1-9][0-9]{0,2})$/.test(o) && Number(o) <= 255) &&
        octets[0] === "127";
    if (!isLoopback) {
        throw new Error(`Ceph cluster addr ${JSON.stringify(spec.addr)} must be an IPv4 address in 127.0.0.0/8`);
    }
    for (const [label, port] of [
        ["v2Port", spec.v2Port],
        ["v1Port", spec.v1Port],
    ] as const) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
            throw new Error(`Ceph cluster ${label} ${port} must be an integer in 1..65535`);
        }
        // OSDs bind in ms_bind_port_min..max on the same address; a mon there could lose its port.
        if (port >= 6800 && port <= 7300) {
            throw new Error(`Ceph cluster ${label} ${port} must be outside 6800-7300, where OSDs bind`);
        }
    }
    if (spec.v2Port === spec.v1Port) {
        throw new Error(`Ceph cluster v2Port and v1Port must differ (both ${spec.v2Port})`);
    }
}

/** `mon host` value as in ceph.conf: `[v2:ADDR:P2,v1:ADDR:P1]`. */
export function formatMonHost(addr: string, v2Port: number, v1Port: number): string {
    return `[v2:${addr}:${v2Port},v1:${addr}:${v1Port}]`;
}

/** Mon address vector as `ceph mon dump` prints it (with nonces), the form of `external_cluster_mon_ips`. */
export function formatMonIps(addr: string, v2Port: number, v1Port: number): string {
    return `[v2:${addr}:${v2Port}/0,v1:${addr}:${v1Port}/0]`;
}

/** The cluster's own ceph.conf: daemons and admin CLI; every default path is moved under `dir`. */
export function renderClusterConf(record: CephClusterRecord, dir: string): string {
    const p = clusterPaths(dir, record.name);
    const monHost = formatMonHost(record.addr, record.v2Port, record.v1Port);
    return `# Lab Ceph cluster ${record.name}; written by lab/ceph. Daemons: mon.a, osd.0 (no mgr).
[global]
fsid = ${record.fsid}
mon host = ${monHost}
mon initial members = a
public addr = ${record.addr}
cluster addr = ${record.addr}
ms bind ipv6 = false
# A daemon that cannot bind retries (default 3 x 5 s) before it exits; fail fast instead.
ms bind retry count = 2
ms bind retry delay = 1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
# Literal cluster name: CEPH_CONF alone leaves $cluster at "ceph" (mini-ceph.md pitfall 4).
keyring = ${dir}/${record.name}.$name.keyring
run dir = ${p.runDir}
crash dir = ${p.crashDir}
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = ${POOL_PG_NUM}
osd pool default pgp num = ${POOL_PG_NUM}
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon allow pool delete = true
# No mgr runs (it costs ~300 MiB): keep MGR_DOWN out of health for a day.
mon mgr mkfs grace = 86400
# Each mon write costs one paxos round; the 1 s default makes bring-up 3-4x slower.
paxos propose interval = 0.1
paxos min wait = 0.01

[mon]
mon data = ${path.join(dir, "mon")}/$id
admin socket = ${p.runDir}/$name.asok
log file = ${p.logDir}/$name.log
# The cluster and audit logs default to /var/log/ceph/<cluster>.*.log, outside the lab's dir.
mon cluster log file = default=${p.logDir}/$channel.log cluster=${p.logDir}/cluster.log
# One OSD: never mark it out while it is down (e.g. between a mon and an OSD restart).
mon osd down out interval = 0
mon warn on osd down out interval zero = false
# Ceph's 30% free-disk warning (and 5% mon shutdown) is about dedicated mon disks, not a lab's shared one.
mon data avail warn = 2
mon data avail crit = 1
mon rocksdb cache size = 33554432

[osd]
osd data = ${path.join(dir, "osd")}/$id
keyring = ${path.join(dir, "osd")}/$id/keyring
admin socket = ${p.runDir}/$name.asok
log file = ${p.logDir}/$name.log
osd objectstore = bluestore
bluestore block create = true
bluestore block size = ${OSD_BLOCK_BYTES}
bluestore block db create = false
bluestore block wal create = false
# Small fixed caches: a lab OSD holds a few test images, and eleven of them share 24 GiB.
bluestore cache autotune = false
bluestore cache size = 67108864
osd op num shards = 1
osd op num threads per shard = 2
`;
}

/** ceph.conf for a client host (what TripleO writes to /etc/ceph/<cluster>.conf on overcloud nodes). */
export function renderClientConf(opts: { fsid: string; monHost: string; keyringPath: string }): string {
    return `[global]
fsid = ${opts.fsid}
mon host = ${opts.monHost}
ms bind ipv6 = false

[client]
keyring = ${opts.keyringPath}
`;
}

/** Keyring file text for one entity; caps are optional (a daemon's own keyring has none). */
export function renderKeyring(entity: string, key: string, caps: Partial<Record<string, string>> = {}): string {
    const capLines = Object.entries(caps)
        .filter((entry): entry is [string, string] => entry[1] !== undefined)
        .map(([service, cap]) => `\tcaps ${service} = "${cap}"\n`)
        .join("");
    return `[${entity}]\n\tkey = ${key}\n${capLines}`;
}

const CEPHX_KEY_PATTERN = /^[A-Za-z0-9+/]{38}==$/;

/** True when `key` has the shape TripleO accepts for `--ceph-client-key`: `^[A-Za-z0-9+/]{38}==$`. */
export function isCephxKeyShape(key: string): boolean {
    return CEPHX_KEY_PATTERN.test(key);
}

/**
 * A new random cephx key, encoded as Ceph does (CryptoKey::encode): u16 type (1 = AES),
 * u32 seconds + u32 nanoseconds of creation, u16 secret length (16), then the secret.
 */
export function generateCephxKey(now: Date = new Date()): string {
    const buf = Buffer.alloc(28);
    buf.writeUInt16LE(1, 0);
    buf.writeUInt32LE(Math.floor(now.getTime() / 1000), 2);
    buf.writeUInt32LE((now.getTime() % 1000) * 1_000_000, 6);
    buf.writeUInt16LE(16, 10);
    randomBytes(16).copy(buf, 12);
    return buf.toString("base64");
}

/** Throws unless `user` is a plain cephx user id (the part after `client.`). */
export function validateCephUser(user: string): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(user)) {
        throw new Error(`Ceph user ${JSON.stringify(user)} must match [A-Za-z0-9][A-Za-z0-9_.-]*`);
    }
}

/** Throws unless `pool` is a plain pool name. */
export function validatePoolName(pool: string): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(pool)) {
        throw new Error(`Ceph pool name ${JSON.stringify(pool)} must match [A-Za-z0-9][A-Za-z0-9_.-]*`);
    }
}
