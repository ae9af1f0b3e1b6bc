// lab/ceph: pure helpers, then real daemons (two clusters on their own loopback addresses) in a
// temp dir. Every daemon is wiped in `after`, which runs even when a test fails.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, promises as fs, readdirSync, readFileSync } from "node:fs";
import { once } from "node:events";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";

import {
    CephClusterExistsError,
    CephClusterLostError,
    CephPortInUseError,
    type CephClusterInfo,
    OPENSTACK_CLIENT_CAPS,
    cephClusterInfo,
    cephClusterMemory,
    cephCommandEnv,
    createCephCluster,
    createPools,
    ensureClientKey,
    generateCephxKey,
    getClientKey,
    isCephxKeyShape,
    startCephCluster,
    stopCephCluster,
    wipeCephCluster,
    writeClientFiles,
} from "../../lab/ceph";
import { redactKeys } from "../../lab/ceph/commands";
import {
    formatMonHost,
    formatMonIps,
    renderClientConf,
    renderClusterConf,
    renderKeyring,
    validateClusterSpec,
} from "../../lab/ceph/config";
import { parseProcStat } from "../../lab/ceph/processes";

const REPO = path.resolve(__dirname, "../..");

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(
            command,
            args,
            { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
            (err, stdout, stderr) =>
                err ? reject(new Error(`${command} ${args.join(" ")}: ${err.message}\n${stderr}`)) : resolve(stdout),
        );
    });
}

/** Compares keys without handing them to assert, whose failure message would print them. */
function sameKey(actual: string | undefined, expected: string): boolean {
    return actual === expected;
}

/** True once the process and all its threads have exited (a zombie main thread may still have live threads). */
function pidIsGone(pid: number): boolean {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return (
            parseProcStat(stat)?.state === "Z" && readdirSync(`/proc/${pid}/task`).every((tid) => tid === String(pid))
        );
    } catch {
        return true;
    }
}

/** PIDs whose command line mentions `text` (read-only: this suite never kills by name). */
function processesMentioning(text: string): number[] {
    return readdirSync("/proc")
        .filter((entry) => /^\d+$/.test(entry))
        .filter((pid) => {
            try {
                return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text);
            } catch {
                return false;
            }
        })
        .map(Number);
}

function tcpAccepts(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host, port }, () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

describe("lab/ceph pure helpers", () => {
    it("formats mon addresses as ceph.conf and `ceph mon dump` do", () => {
        assert.equal(formatMonHost("127.0.0.11", 3300, 6789), "[v2:127.0.0.11:3300,v1:127.0.0.11:6789]");
        assert.equal(formatMonIps("127.0.0.11", 3300, 6789), "[v2:127.0.0.11:3300/0,v1:127.0.0.11:6789/0]");
    });

    it("generates cephx keys in Ceph's encoding and TripleO's accepted shape", () => {
        const key = generateCephxKey(new Date(1_700_000_000_123));
        assert.ok(isCephxKeyShape(key), "shape ^[A-Za-z0-9+/]{38}==$");
        const raw = Buffer.from(key, "base64");
        assert.equal(raw.length, 28);
        assert.equal(raw.readUInt16LE(0), 1, "type AES");
        assert.equal(raw.readUInt32LE(2), 1_700_000_000);
        assert.equal(raw.readUInt32LE(6), 123_000_000);
        assert.equal(raw.readUInt16LE(10), 16, "secret length");
        assert.notEqual(generateCephxKey(), generateCephxKey());
        assert.equal(isCephxKeyShape("AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ=="), true);
        assert.equal(isCephxKeyShape("AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ="), false);
        assert.equal(isCephxKeyShape("AQBO-mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ=="), false);
    });

    it("renders keyrings with caps in ceph-authtool's layout", () => {
        assert.equal(
            renderKeyring("client.openstack", "K", OPENSTACK_CLIENT_CAPS),
            '[client.openstack]\n\tkey = K\n\tcaps mgr = "allow *"\n\tcaps mon = "profile rbd"\n' +
                '\tcaps osd = "profile rbd pool=vms, profile rbd pool=volumes, profile rbd pool=images"\n',
        );
        assert.equal(renderKeyring("osd.0", "K"), "[osd.0]\n\tkey = K\n");
    });

    it("renders a cluster conf that keeps every path under the cluster dir", () => {
        const conf = renderClusterConf(
            {
                name: "dcn0",
                fsid: "f",
                addr: "127.0.0.12",
                v2Port: 3300,
                v1Port: 6789,
                objectStore: "bluestore",
                createdAt: "",
            },
            "/lab/ceph/dcn0",
        );
        assert.match(conf, /^mon host = \[v2:127\.0\.0\.12:3300,v1:127\.0\.0\.12:6789\]$/m);
        assert.match(conf, /^public addr = 127\.0\.0\.12$/m);
        assert.match(conf, /^keyring = \/lab\/ceph\/dcn0\/dcn0\.\$name\.keyring$/m);
        assert.match(conf, /^osd objectstore = bluestore$/m);
        for (const line of conf.split("\n").filter((l) => /^(\w+ )*(data|file|dir|socket|keyring) = /.test(l))) {
            assert.ok(line.includes("/lab/ceph/dcn0/"), `path outside the cluster dir: ${line}`);
        }
        const settings = conf.split("\n").filter((line) => !line.startsWith("#"));
        assert.equal(settings.filter((line) => /\/var\/(lib|log|run)\/ceph/.test(line)).length, 0);
    });

    it("renders a client conf pointing at its keyring", () => {
        const conf = renderClientConf({
            fsid: "f",
            monHost: "[v2:127.0.0.12:3300,v1:127.0.0.12:6789]",
            keyringPath: "/etc/ceph/dcn0.client.openstack.keyring",
        });
        assert.match(conf, /^fsid = f$/m);
        assert.match(conf, /^keyring = \/etc\/ceph\/dcn0\.client\.openstack\.keyring$/m);
    });

    it("rejects bad specs with a message naming the field", () => {
        const good = { name: "dcn0", dir: "/x", addr: "127.0.0.12", v2Port: 3300, v1Port: 6789 };
        validateClusterSpec(good);
        assert.throws(() => validateClusterSpec({ ...good, name: "dcn-0" }), /name/);
        assert.throws(() => validateClusterSpec({ ...good, dir: "rel" }), /absolute/);
        assert.throws(() => validateClusterSpec({ ...good, addr: "10.0.0.1" }), /127\.0\.0\.0\/8/);
        assert.throws(() => validateClusterSpec({ ...good, addr: "127.0.0.256" }), /addr/);
        assert.throws(() => validateClusterSpec({ ...good, v1Port: 6800 }), /6800-7300/);
        assert.throws(() => validateClusterSpec({ ...good, v1Port: 3300 }), /differ/);
    });

    it("parses /proc/<pid>/stat even when the command name holds spaces and parens", () => {
        const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
        fields[0] = "S";
        const parsed = parseProcStat(`42 (a) (b c) ${fields.join(" ")}`);
        assert.deepEqual(parsed, { state: "S", startTime: "22" });
    });

    it("redacts anything shaped like a cephx key", () => {
        const key = generateCephxKey();
        assert.equal(redactKeys(`bad key ${key} here`), "bad key <redacted> here");
    });
});

describe("lab/ceph real clusters", { timeout: 300_000 }, () => {
    let base = "";
    // Addresses in 127.0.0.200-226 and mon ports away from Ceph's defaults keep clear of a running
    // lab (127.1.x.y) and of the glance tests (127.0.0.231-235).
    const octet = 200 + (process.pid % 9) * 3;
    const specs = () => [
        {
            name: "testcentral",
            dir: path.join(base, "central"),
            addr: `127.0.0.${octet}`,
            v2Port: 23300,
            v1Port: 26789,
        },
        { name: "testdcn0", dir: path.join(base, "dcn0"), addr: `127.0.0.${octet + 1}`, v2Port: 23300, v1Port: 26789 },
    ];
    // Clusters of the failure tests, on a third address (each is gone before the next starts).
    const extraSpecs = () => {
        const at = (name: string) => ({
            name,
            dir: path.join(base, name),
            addr: `127.0.0.${octet + 2}`,
            v2Port: 23300,
            v1Port: 26789,
        });
        return { busy: at("testbusy"), broken: at("testbroken"), abandoned: at("testabandoned") };
    };
    let central: CephClusterInfo;
    let dcn0: CephClusterInfo;
    let centralClientKey = "";
    const seenPids = new Set<number>();
    const remember = (info: CephClusterInfo | undefined) => info?.daemons.forEach((d) => seenPids.add(d.pid));

    before(async () => {
        base = await fs.mkdtemp(path.join(os.tmpdir(), "lab-ceph-test-"));
    });

    after(async () => {
        for (const spec of [...specs(), ...Object.values(extraSpecs())]) {
            remember(await cephClusterInfo(spec.dir).catch(() => undefined));
            await wipeCephCluster(spec.dir).catch(() => undefined);
        }
        // Belt and braces: nothing this suite started may outlive it, whatever failed above.
        for (const pid of seenPids) if (!pidIsGone(pid)) process.kill(pid, "SIGKILL");
        if (base) await fs.rm(base, { recursive: true, force: true });
    });

    it("creates two clusters on distinct loopback addresses, the first from a process that exits at once", async () => {
        const [centralSpec, dcn0Spec] = specs();
        const script = `require(${JSON.stringify(path.join(REPO, "lab/ceph"))}).createCephCluster(${JSON.stringify(centralSpec)})
      .then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });`;
        const [, dcn0Info] = await Promise.all([
            run(process.execPath, ["--import", "tsx", "-e", script]),
            createCephCluster(dcn0Spec),
        ]);
        dcn0 = dcn0Info;
        const centralInfo = await cephClusterInfo(centralSpec.dir);
        assert.ok(centralInfo, "central recorded");
        central = centralInfo;
        remember(central);
        remember(dcn0);
        assert.equal(central.running, true, "daemons outlive the process that created them");
        assert.equal(dcn0.running, true);
        assert.notEqual(central.fsid, dcn0.fsid);
        assert.equal(central.monHost, `[v2:${centralSpec.addr}:23300,v1:${centralSpec.addr}:26789]`);
        assert.equal(dcn0.monHost, `[v2:${dcn0Spec.addr}:23300,v1:${dcn0Spec.addr}:26789]`);
        assert.equal(central.confPath, path.join(centralSpec.dir, "testcentral.conf"));
        assert.equal(central.adminKeyringPath, path.join(centralSpec.dir, "testcentral.client.admin.keyring"));
        assert.ok(await tcpAccepts(centralSpec.addr, 23300));
        assert.ok(await tcpAccepts(dcn0Spec.addr, 26789));
        assert.deepEqual(
            central.daemons.map((d) => d.role),
            ["mon", "osd"],
        );
        for (const daemon of central.daemons) {
            const session = Number(readFileSync(`/proc/${daemon.pid}/stat`, "utf8").split(") ")[1].split(" ")[3]);
            assert.equal(session, daemon.pid, `${daemon.role} leads its own session (detached)`);
        }
        const monDump = JSON.parse(
            await run("ceph", ["mon", "dump", "--format", "json"], { ...process.env, ...cephCommandEnv(dcn0Spec.dir) }),
        ) as {
            fsid: string;
            mons: Array<{ public_addrs: { addrvec: Array<{ addr: string }> } }>;
        };
        assert.equal(monDump.fsid, dcn0.fsid);
        assert.deepEqual(
            monDump.mons[0].public_addrs.addrvec.map((a) => a.addr),
            [`${dcn0Spec.addr}:23300`, `${dcn0Spec.addr}:26789`],
        );
    });

    it("refuses a second create on the same dir and leaves the cluster running", async () => {
        await assert.rejects(createCephCluster(specs()[1]), CephClusterExistsError);
        assert.equal((await cephClusterInfo(specs()[1].dir))?.running, true);
    });

    it("refuses to create on a mon port someone else holds, leaving nothing behind", async () => {
        const spec = extraSpecs().busy;
        const squatter = net.createServer();
        await new Promise<void>((resolve) => squatter.listen(spec.v1Port, spec.addr, resolve));
        try {
            await assert.rejects(createCephCluster(spec), CephPortInUseError);
        } finally {
            squatter.close();
        }
        assert.equal(await cephClusterInfo(spec.dir), undefined);
        assert.deepEqual(await fs.readdir(spec.dir), [], "everything it wrote is removed, marker included");
    });

    it("stops the mon it started when a later create step fails, so the same spec can be retried", async () => {
        const spec = extraSpecs().broken;
        // A directory where bluestore wants its block file: OSD mkfs fails after the mon is up.
        await fs.mkdir(path.join(spec.dir, "osd/0/block"), { recursive: true });
        await assert.rejects(createCephCluster(spec), /ceph-osd/);
        assert.deepEqual(processesMentioning(spec.dir), [], "no daemon of the failed create is left");
        assert.deepEqual(await fs.readdir(spec.dir), [], "everything it wrote is removed, marker included");
    });

    it("replaces a create whose process died midway (its SSH session dropped)", async () => {
        const spec = extraSpecs().abandoned;
        const script = `require(${JSON.stringify(path.join(REPO, "lab/ceph"))}).createCephCluster(${JSON.stringify(spec)})`;
        const creator = spawn(process.execPath, ["--import", "tsx", "-e", script], { stdio: "ignore" });
        const pidsFile = path.join(spec.dir, "pids.json");
        await waitUntil(() => existsSync(pidsFile), 30_000);
        creator.kill("SIGKILL");
        await once(creator, "exit");
        const orphans = (JSON.parse(readFileSync(pidsFile, "utf8")) as Array<{ pid: number }>).map((d) => d.pid);
        orphans.forEach((pid) => seenPids.add(pid));
        assert.equal(await cephClusterInfo(spec.dir), undefined, "a half-made cluster is not a cluster");

        const info = await createCephCluster(spec);
        remember(info);
        assert.equal(info.running, true);
        for (const pid of orphans) assert.ok(pidIsGone(pid), `orphan pid ${pid} of the dead attempt was stopped`);
        await wipeCephCluster(spec.dir);
        for (const daemon of info.daemons) assert.ok(pidIsGone(daemon.pid));
    });

    it("creates pools and the client.openstack key, idempotently", async () => {
        await createPools(central.dir, ["vms", "volumes", "images"]);
        await createPools(central.dir, ["vms", "volumes", "images"]);
        await createPools(dcn0.dir, ["vms", "volumes", "images"]);
        const env = { ...process.env, ...cephCommandEnv(central.dir) };
        const pools = JSON.parse(await run("ceph", ["osd", "pool", "ls", "detail", "--format", "json"], env)) as Array<{
            pool_name: string;
            size: number;
            application_metadata: Record<string, unknown>;
        }>;
        assert.deepEqual(pools.map((p) => p.pool_name).sort(), ["images", "vms", "volumes"]);
        for (const pool of pools) {
            assert.equal(pool.size, 1);
            assert.ok(pool.application_metadata.rbd, `${pool.pool_name} has application rbd`);
        }

        assert.ok(
            (await getClientKey(central.dir, "openstack")) === undefined,
            "no client.openstack before ensureClientKey",
        );
        const generated = await ensureClientKey(central.dir, "openstack");
        assert.ok(isCephxKeyShape(generated));
        assert.ok(sameKey(await ensureClientKey(central.dir, "openstack"), generated), "an existing key is kept");
        assert.ok(sameKey(await getClientKey(central.dir, "openstack"), generated), "getClientKey returns the key");
        centralClientKey = generated;
        const auth = JSON.parse(
            await run("ceph", ["auth", "get", "client.openstack", "--format", "json"], env),
        ) as Array<{ caps: Record<string, string> }>;
        assert.deepEqual(auth[0].caps, OPENSTACK_CLIENT_CAPS);

        const given = generateCephxKey();
        assert.ok(sameKey(await ensureClientKey(dcn0.dir, "openstack", given), given), "a given key is imported");
        assert.ok(sameKey(await ensureClientKey(dcn0.dir, "openstack", given), given), "importing it again is a no-op");
        assert.ok(sameKey(await getClientKey(dcn0.dir, "openstack"), given), "getClientKey returns the given key");
        await assert.rejects(
            ensureClientKey(dcn0.dir, "openstack", "not-a-key"),
            (err: Error) => !err.message.includes("not-a-key"),
        );
    });

    it("lets client.openstack create an image and a COW clone with a generated conf and keyring", async () => {
        const etcCeph = path.join(base, "etc-ceph");
        const { confPath, keyringPath } = await writeClientFiles(central.dir, "openstack", etcCeph);
        assert.equal(confPath, path.join(etcCeph, "testcentral.conf"));
        assert.equal((await fs.stat(keyringPath)).mode & 0o777, 0o600);
        const rbd = (...args: string[]) => run("rbd", ["-c", confPath, "--id", "openstack", ...args]);

        const imageFile = path.join(base, "image.raw");
        const data = Buffer.alloc(6 * 1024 * 1024);
        for (let i = 0; i < data.length; i += 4096) data.write(`block ${i}`, i);
        await fs.writeFile(imageFile, data);
        await rbd("import", "--no-progress", "--dest-pool", "images", imageFile, "img1");
        await rbd("snap", "create", "images/img1@snap");
        await rbd("snap", "protect", "images/img1@snap");
        await rbd("clone", "images/img1@snap", "vms/img1_disk");

        const child = JSON.parse(await rbd("info", "vms/img1_disk", "--format", "json")) as {
            parent: { pool: string; image: string; snapshot: string };
        };
        assert.deepEqual([child.parent.pool, child.parent.image, child.parent.snapshot], ["images", "img1", "snap"]);
        assert.match(await rbd("children", "images/img1@snap"), /vms\/img1_disk/);
        const exported = path.join(base, "clone.raw");
        await rbd("export", "--no-progress", "vms/img1_disk", exported);
        const md5 = (buf: Buffer) => createHash("md5").update(buf).digest("hex");
        assert.equal(md5(await fs.readFile(exported)), md5(data), "the clone reads back the parent's data");
    });

    it("stops exactly its daemons and restarts the cluster from its data", async () => {
        const before = (await cephClusterInfo(central.dir))!;
        remember(before);
        await stopCephCluster(central.dir);
        for (const daemon of before.daemons)
            assert.ok(pidIsGone(daemon.pid), `${daemon.role} pid ${daemon.pid} stopped`);
        assert.equal((await cephClusterInfo(central.dir))?.running, false);
        assert.equal((await cephClusterInfo(dcn0.dir))?.running, true, "the other cluster is untouched");
        await stopCephCluster(central.dir); // already stopped: no-op

        const restarted = await startCephCluster(central.dir);
        remember(restarted);
        assert.equal(restarted.running, true);
        assert.equal(restarted.fsid, central.fsid);
        const env = { ...process.env, ...cephCommandEnv(central.dir) };
        assert.match(await run("rbd", ["--id", "openstack", "ls", "vms"], env), /img1_disk/);
        assert.ok(
            sameKey(await getClientKey(central.dir, "openstack"), centralClientKey),
            "the key survives a restart",
        );
        assert.deepEqual(
            (await startCephCluster(central.dir)).daemons,
            restarted.daemons,
            "start on a running cluster keeps its daemons",
        );
    });

    it("restarts from data after the daemons were killed without warning (host reboot)", async () => {
        const info = (await cephClusterInfo(central.dir))!;
        for (const daemon of info.daemons) process.kill(daemon.pid, "SIGKILL");
        for (const daemon of info.daemons) await waitUntil(() => pidIsGone(daemon.pid));
        assert.equal((await cephClusterInfo(central.dir))?.running, false);
        const restarted = await startCephCluster(central.dir);
        remember(restarted);
        assert.equal(restarted.running, true);
        const env = { ...process.env, ...cephCommandEnv(central.dir) };
        assert.match(await run("rbd", ["--id", "openstack", "ls", "images"], env), /img1/);
    });

    it("reports a cluster whose data cannot come back as lost, without re-creating it or leaving daemons", async () => {
        await stopCephCluster(dcn0.dir);
        const squatter = net.createServer();
        await new Promise<void>((resolve) => squatter.listen(dcn0.v2Port, dcn0.addr, resolve));
        try {
            await assert.rejects(startCephCluster(dcn0.dir), CephPortInUseError, "a busy port is not lost data");
        } finally {
            squatter.close();
        }
        const block = path.join(dcn0.dir, "osd/0/block");
        await fs.truncate(block, 0); // a damaged OSD device: bluestore cannot mount it
        await assert.rejects(
            startCephCluster(dcn0.dir),
            (err: Error) => err instanceof CephClusterLostError && /osd\.0/.test(err.message),
        );
        const info = (await cephClusterInfo(dcn0.dir))!;
        assert.equal(info.running, false);
        assert.equal(info.fsid, dcn0.fsid, "not re-created");
        assert.deepEqual(info.daemons, [], "the mon it started was stopped again");
        await fs.rm(block);
        await assert.rejects(startCephCluster(dcn0.dir), /osd\/0\/block missing/);
    });

    it("wipes a cluster: no daemon left, no data left, and the dir can host a new cluster", async () => {
        const info = (await cephClusterInfo(central.dir))!;
        assert.equal(info.running, true);
        await wipeCephCluster(central.dir);
        for (const daemon of info.daemons) assert.ok(pidIsGone(daemon.pid), `${daemon.role} pid ${daemon.pid} gone`);
        assert.equal(await cephClusterInfo(central.dir), undefined);
        assert.equal(existsSync(path.join(central.dir, "osd")), false);
        assert.equal(existsSync(info.confPath), false);
        await wipeCephCluster(central.dir); // already wiped: no-op
        await assert.rejects(startCephCluster(central.dir), CephClusterLostError);

        await wipeCephCluster(dcn0.dir);
        const again = await createCephCluster(specs()[1]);
        remember(again);
        assert.equal(again.running, true);
        assert.notEqual(again.fsid, dcn0.fsid, "a new cluster, new FSID");
        const memory = await cephClusterMemory(dcn0.dir);
        assert.deepEqual(
            memory.map((m) => m.role),
            ["mon", "osd"],
        );
        for (const m of memory)
            assert.ok(m.peakRssKiB < 200 * 1024, `${m.role} peak RSS ${m.peakRssKiB} KiB stays small`);
    });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error("condition not met in time");
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}
