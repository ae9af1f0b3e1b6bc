// What OpenStack needs inside a running cluster: rbd pools and the cephx client key, and the
// client-side files (conf + keyring) an overcloud node would hold in /etc/ceph.
import { promises as fs } from "node:fs";
import * as path from "node:path";

import { CephClusterNotRunningError, cephClusterInfo, waitForPoolIo } from "./cluster";
import { CephCommandError, runCeph } from "./commands";
import {
    OPENSTACK_CLIENT_CAPS,
    clusterPaths,
    generateCephxKey,
    isCephxKeyShape,
    renderClientConf,
    renderKeyring,
    validateCephUser,
    validatePoolName,
} from "./config";

async function runningConf(dir: string): Promise<{ conf: string; name: string }> {
    const info = await cephClusterInfo(dir);
    if (!info?.running) throw new CephClusterNotRunningError(dir);
    return { conf: info.confPath, name: info.name };
}

/** Creates the missing pools (size 1, application rbd) and waits until each serves I/O; idempotent. */
export async function createPools(dir: string, pools: string[]): Promise<void> {
    pools.forEach(validatePoolName);
    const { conf } = await runningConf(dir);
    const existing = JSON.parse(await runCeph(conf, ["osd", "pool", "ls", "detail", "--format", "json"])) as Array<{
        pool_name: string;
        application_metadata?: Record<string, unknown>;
    }>;
    for (const pool of pools) {
        const found = existing.find((p) => p.pool_name === pool);
        // Size 1 and pg_num come from the conf defaults (osd pool default size/pg num).
        if (!found) await runCeph(conf, ["osd", "pool", "create", pool]);
        if (!found?.application_metadata?.rbd)
            await runCeph(conf, ["osd", "pool", "application", "enable", pool, "rbd"]);
    }
    await waitForPoolIo(conf, pools);
}

/** Current key of client.<user>, or undefined when the cluster has no such user. Needs the cluster running. */
export async function getClientKey(dir: string, user: string): Promise<string | undefined> {
    validateCephUser(user);
    const { conf } = await runningConf(dir);
    try {
        return (await runCeph(conf, ["auth", "get-key", `client.${user}`])).trim();
    } catch (err) {
        if (err instanceof CephCommandError && /ENOENT|does not exist/.test(err.stderr)) return undefined;
        throw err;
    }
}

/**
 * Makes client.<user> exist with the caps TripleO gives client.openstack and returns its key:
 * `key` (shape `^[A-Za-z0-9+/]{38}==$`) is imported as given, else an existing key is kept, else
 * a random one is made. Also writes `<dir>/<cluster>.client.<user>.keyring` (0600). Idempotent.
 */
export async function ensureClientKey(dir: string, user: string, key?: string): Promise<string> {
    validateCephUser(user);
    // Never echo the rejected value: it may be a real key with a typo.
    if (key !== undefined && !isCephxKeyShape(key)) throw new Error("Ceph client key must match ^[A-Za-z0-9+/]{38}==$");
    const { conf, name } = await runningConf(dir);
    const finalKey = key ?? (await getClientKey(dir, user)) ?? generateCephxKey();
    const keyring = renderKeyring(`client.${user}`, finalKey, OPENSTACK_CLIENT_CAPS);
    const p = clusterPaths(dir, name);
    await fs.mkdir(p.tmpDir, { recursive: true, mode: 0o700 });
    const importFile = path.join(p.tmpDir, `import.${process.pid}.${user}.keyring`);
    await fs.writeFile(importFile, keyring, { mode: 0o600 });
    try {
        // `auth import` sets key and caps, replacing what client.<user> had: the same call creates and updates.
        await runCeph(conf, ["auth", "import", "-i", importFile]);
    } finally {
        await fs.rm(importFile, { force: true });
    }
    await fs.writeFile(p.clientKeyring(user), keyring, { mode: 0o600 });
    await fs.chmod(p.clientKeyring(user), 0o600);
    return finalKey;
}

/**
 * Writes what TripleO puts on a client node for this cluster: `<outDir>/<cluster>.conf` and
 * `<outDir>/<cluster>.client.<user>.keyring` (0600), the conf pointing at that keyring. Returns both paths.
 */
export async function writeClientFiles(
    dir: string,
    user: string,
    outDir: string,
): Promise<{ confPath: string; keyringPath: string }> {
    const info = await cephClusterInfo(dir);
    if (!info) throw new Error(`no Ceph cluster in ${dir}`);
    const key = await getClientKey(dir, user);
    if (key === undefined) throw new Error(`Ceph cluster ${info.name} has no client.${user}`);
    await fs.mkdir(outDir, { recursive: true });
    const confPath = path.join(outDir, `${info.name}.conf`);
    const keyringPath = path.join(outDir, `${info.name}.client.${user}.keyring`);
    await fs.writeFile(keyringPath, renderKeyring(`client.${user}`, key, OPENSTACK_CLIENT_CAPS), { mode: 0o600 });
    await fs.writeFile(confPath, renderClientConf({ fsid: info.fsid, monHost: info.monHost, keyringPath }));
    return { confPath, keyringPath };
}
