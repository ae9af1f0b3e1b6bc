// The command provider's SSH connection pool (tools/command-provider/src/remote.ts): one connection
// per target per plugin process, commands as channels on it (at most MAX_CHANNELS at once, fewer if
// the server refuses more), a redial after a dropped connection, separate connections for a
// different pinned host key or credentials, and an idle pooled connection that does not keep the
// process alive.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import {
    MAX_CHANNELS,
    closeConnections,
    poolKey,
    pooledConnections,
    runRemote,
    type Connection,
} from "../../tools/command-provider/src/remote";
import {
    generateKeyPair,
    startSshd,
    type KeyPair,
    type TestSshd,
} from "../../tools/command-provider/test-support/sshd";

const noop = () => {};
const root = path.resolve(__dirname, "..", "..");

describe("command provider: SSH connection pool", () => {
    let sshd: TestSshd;
    let key: KeyPair;
    before(async () => {
        key = generateKeyPair("client");
        sshd = await startSshd({ user: "ops", clientKey: key });
    });
    afterEach(() => closeConnections());
    after(() => sshd.close());

    const conn = (s: TestSshd = sshd): Connection => ({
        host: "127.0.0.1",
        port: s.port,
        user: "ops",
        privateKey: key.private,
        hostKey: s.hostKey.public,
        dialErrorLimit: 0,
    });
    const run = (command: string, c: Connection = conn(), environment?: Record<string, string>) =>
        runRemote(command, { connection: c, environment }, undefined, noop, noop);

    it("runs concurrent and later commands on one connection, at most MAX_CHANNELS channels at once", async () => {
        const c0 = sshd.connections;
        const peak0 = sshd.peakSessions;
        const n = MAX_CHANNELS + 5;
        const results = await Promise.all(
            Array.from({ length: n }, (_, i) => run(`sleep 0.2; echo "$I"`, conn(), { I: String(i) })),
        );
        assert.deepEqual(
            results.map((r) => r.stdout),
            Array.from({ length: n }, (_, i) => String(i)),
        );
        assert.equal((await run("echo later")).stdout, "later");
        assert.equal(sshd.connections - c0, 1, "one SSH connection for every command");
        assert.ok(sshd.peakSessions <= MAX_CHANNELS, `peak ${sshd.peakSessions} channels`);
        assert.ok(sshd.peakSessions > 1 || peak0 > 1, "commands ran side by side");
        assert.equal(pooledConnections(), 1);
    });

    it("waits for a channel when the server allows fewer sessions than MAX_CHANNELS", async () => {
        const small = await startSshd({ user: "ops", clientKey: key, maxSessions: 2 });
        try {
            const results = await Promise.all(
                Array.from({ length: 6 }, (_, i) => run(`sleep 0.1; echo ${i}`, conn(small))),
            );
            assert.deepEqual(
                results.map((r) => r.stdout),
                ["0", "1", "2", "3", "4", "5"],
            );
            assert.equal(small.connections, 1);
            assert.ok(small.peakSessions <= 2);
        } finally {
            await small.close();
        }
    });

    it("redials after the connection dropped while idle", async () => {
        const c0 = sshd.connections;
        assert.equal((await run("echo one")).stdout, "one");
        sshd.dropConnections();
        await new Promise((r) => setTimeout(r, 100));
        assert.equal((await run("echo two")).stdout, "two");
        assert.equal(sshd.connections - c0, 2);
    });

    it("redials when the drop is noticed only on the next command", async () => {
        const c0 = sshd.connections;
        assert.equal((await run("echo one")).stdout, "one");
        // Drop and run at once: the client may not have seen the close when it opens the channel.
        sshd.dropConnections();
        assert.equal((await run("echo two")).stdout, "two");
        assert.equal(sshd.connections - c0, 2);
    });

    it("a command cut off by a dropped connection fails; the next one reconnects", async () => {
        const before = sshd.execs.length;
        const running = run("sleep 5; echo late");
        // Drop once the command runs on the server (a fixed delay raced channel setup under load).
        for (let i = 0; i < 100 && sshd.execs.length === before; i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        await new Promise((r) => setTimeout(r, 100));
        sshd.dropConnections();
        await assert.rejects(running, /exited without exit status/);
        assert.equal((await run("echo after")).stdout, "after");
    });

    it("redials when the connection stops answering, letting the commands running on it finish", async () => {
        const c = { ...conn(), perDialTimeout: 2 };
        const c0 = sshd.connections;
        const before = sshd.execs.length;
        const long = run("sleep 3; echo long", c);
        // Stall once the command runs on the server (a fixed delay raced channel setup under load).
        for (let i = 0; i < 100 && sshd.execs.length === before; i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        sshd.stallOpenConnections();
        // Its channel open gets no answer within perDialTimeout: the command goes to a new connection.
        assert.equal((await run("echo next", c)).stdout, "next");
        assert.equal(sshd.connections - c0, 2);
        // The command on the old connection was not cut off; then the old connection is closed.
        assert.equal((await long).stdout, "long");
        for (let i = 0; i < 50 && sshd.liveConnections() > 1; i++) {
            await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(sshd.liveConnections(), 1);
        assert.equal(pooledConnections(), 1);
    });

    it("keeps separate connections per pinned host key and credentials", async () => {
        const other = generateKeyPair("other-host");
        const a = conn();
        assert.notEqual(poolKey(a), poolKey({ ...a, hostKey: other.public }));
        assert.notEqual(poolKey(a), poolKey({ ...a, user: "root" }));
        assert.notEqual(poolKey(a), poolKey({ ...a, privateKey: generateKeyPair("k2").private }));
        assert.notEqual(poolKey(a), poolKey({ ...a, proxy: { host: "127.0.0.1", port: 22 } }));
        assert.equal(poolKey(a), poolKey({ ...a, dialErrorLimit: 5, perDialTimeout: 3 }));
        assert.equal(poolKey(a), poolKey({ ...a, port: sshd.port }));
        assert.equal(poolKey({ host: "h" }), poolKey({ host: "h", port: 22, user: "root" }));
        // The pool key holds no credential in clear.
        assert.match(poolKey(a), /^[0-9a-f]{64}$/);

        const c0 = sshd.connections;
        assert.equal((await run("echo ok")).stdout, "ok");
        await assert.rejects(run("echo no", { ...a, hostKey: other.public }), /host key mismatch/);
        // The refused pin did not disturb the verified connection, nor reuse it.
        assert.equal((await run("echo ok")).stdout, "ok");
        assert.equal(sshd.connections - c0, 2, "one verified connection + one refused handshake");
    });

    it("does not keep the process alive once idle (the plugin exits when the engine is done)", async () => {
        const script = [
            `const { runRemote } = require(${JSON.stringify(path.join(root, "tools/command-provider/src/remote.ts"))});`,
            `const c = JSON.parse(process.env.CONN);`,
            `runRemote("echo child", { connection: c }, undefined, () => {}, () => {})`,
            `  .then((r) => console.log(r.stdout), (e) => { console.error(String(e)); process.exitCode = 1; });`,
        ].join("\n");
        const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
            cwd: root,
            env: { ...process.env, CONN: JSON.stringify(conn()) },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
        const code = await new Promise<number | null>((r) => child.on("close", r));
        clearTimeout(timer);
        assert.equal(code, 0, `child exited ${code} (killed after 20 s = it hung): ${out}`);
        assert.equal(out.trim(), "child");
    });
});
