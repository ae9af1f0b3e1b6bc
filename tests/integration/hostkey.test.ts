// Host key pinning (issue 6): a dev-like stack pinned (knownHostsFile) to the lab's host key. When
// the key the stack trusts no longer matches the one the lab's sshd presents, `up`, `refresh` and
// `destroy` each refuse to connect with a message naming host:port and both fingerprints, and
// nothing runs on the undercloud during that phase (its command log unchanged). Two ways: the
// stack's known_hosts pointed at another key (first `up`), and the lab's host key regenerated the
// way lab/sshd.ts makes it, sshd reloaded with SIGHUP (refresh/destroy use the pin kept in the
// state, so only a real server key change tests them).
// To stay fast the stack is the seed's central site alone (Controller + ComputeHCI with its Ceph).
// Issue 11 (no toolchain needed): the lab's sshd has RSA, ECDSA and ed25519 host keys like a stock
// undercloud; the transport connects with what `ssh-keyscan` prints (RSA first, plain or hashed)
// and with each key type alone, and so does the validation CLI's connection.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { keyLine, parseableKeyPair } from "../support/ssh-keys";
import { PulumiResult, PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { PrivateLab, buildProgram, devConfig, programFixture, startPrivateLab, writeStackConfig } from "../support/lab";
import { closeAll, exec, fingerprint, parsePublicKeyLine } from "../../providers/remote/ssh";
import { parseUndercloud } from "../../components/config";
import { resolveUndercloud } from "../../components/connection";
import { connectUndercloud } from "../../tools/validate/ssh";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-hostkey-"));
const STACK = "hk";
const knownHosts = path.join(root, "known_hosts");
let lab: PrivateLab;
let ws: PulumiWorkspace;
let hostPort: string;
let realKey: string;
let otherKey: string;
let newLabKey: string;

/** Regenerates the lab's host key (as lab/sshd.ts does) and makes its sshd reload it (SIGHUP). */
async function regenerateLabHostKey(): Promise<string> {
    const key = path.join(lab.dir, "ssh", "ssh_host_ed25519_key");
    fs.rmSync(key);
    fs.rmSync(`${key}.pub`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "lab-undercloud-host", "-f", key]);
    const fresh = fs.readFileSync(`${key}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    const pid = Number(fs.readFileSync(path.join(lab.dir, "ssh", "sshd.pid"), "utf8").trim());
    process.kill(pid, "SIGHUP");
    const port = String(lab.connection().port);
    for (let i = 0; i < 50; i++) {
        const scan = spawnSync("ssh-keyscan", ["-t", "ed25519", "-p", port, "127.0.0.1"], { encoding: "utf8" });
        if ((scan.stdout ?? "").includes(fresh.split(" ")[1])) {
            return fresh;
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error("the lab's sshd does not serve the regenerated host key");
}

function otherHostKey(): string {
    for (;;) {
        const line = keyLine(parseableKeyPair().public);
        try {
            parsePublicKeyLine(line);
            return line;
        } catch {
            // ssh2 rejects a few of its own ed25519 keys: draw again
        }
    }
}

const fp = (line: string) => fingerprint(parsePublicKeyLine(line).blob);
const pin = (key: string) => fs.writeFileSync(knownHosts, `[127.0.0.1]:${lab.connection().port} ${key}\n`);

/** Runs a phase that must fail naming host:port and both fingerprints, with no command run. */
async function refused(args: string[], presented: string, pinned: string): Promise<PulumiResult> {
    const before = lab.log().length;
    const r = await ws.run(args);
    const out = r.stdout + r.stderr;
    assert.notEqual(r.code, 0, `pulumi ${args[0]} succeeded with a changed host key`);
    assert.ok(out.includes(`host key verification failed for ${hostPort}`), `no host:port message:\n${out}`);
    assert.ok(
        out.includes(`presented ${fp(presented)} but the pinned key is ${fp(pinned)}`),
        `the fingerprints are not named:\n${out}`,
    );
    assert.deepEqual(
        lab
            .log()
            .slice(before)
            .map((e) => e.argv.join(" ")),
        [],
        `commands ran on the undercloud during pulumi ${args[0]}`,
    );
    console.log(
        `pulumi ${args[0]}: ${out
            .split("\n")
            .find((l) => l.includes("host key verification failed"))
            ?.trim()}`,
    );
    return r;
}

describe("a changed host key", { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" }, () => {
    before(async () => {
        buildProgram();
        lab = await startPrivateLab(path.join(root, "lab"));
        const conn = lab.connection();
        hostPort = `${conn.host}:${conn.port}`;
        realKey = conn.hostKey.trim().split(/\s+/).slice(0, 2).join(" ");
        otherKey = otherHostKey();
        const project = programFixture(path.join(root, "project"), lab.dir);
        const config = devConfig();
        (config["dcn-storage:undercloud"] as Record<string, unknown>).knownHostsFile = knownHosts;
        delete (config["dcn-storage:settings"] as Record<string, unknown>).validation;
        config["dcn-storage:sites"] = (config["dcn-storage:sites"] as Array<{ kind: string }>).filter(
            (s) => s.kind === "central",
        );
        writeStackConfig(project, STACK, config);
        ws = await pulumiWorkspace(project, STACK);
    });

    after(() => {
        lab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("up refuses to connect when the stack's known_hosts holds another key", async () => {
        pin(otherKey);
        await refused(["up", "--yes", "--non-interactive", "--skip-preview"], realKey, otherKey);
    });

    it("with the right pin the same stack deploys (the refusals are about the key alone)", async () => {
        pin(realKey);
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        assert.ok(lab.log().some((e) => e.mutating && e.exit === 0));
    });

    it("the lab's host key is regenerated", async () => {
        newLabKey = await regenerateLabHostKey();
        assert.notEqual(newLabKey, realKey);
    });

    it("refresh refuses to connect", async () => {
        await refused(["refresh", "--yes", "--non-interactive", "--skip-preview"], newLabKey, realKey);
    });

    it("up of a change refuses to connect", async () => {
        await ws.ok(["config", "set", "--path", "sites[0].overrides.NovaCrossAZAttach", "true"]);
        await refused(["up", "--yes", "--non-interactive", "--skip-preview"], newLabKey, realKey);
    });

    it("destroy refuses to connect and the deployment stays", async () => {
        await refused(["destroy", "--yes", "--non-interactive", "--skip-preview"], newLabKey, realKey);
        const state = JSON.parse(lab.lab("state", "--json")) as { stacks: Array<{ name: string; status: string }> };
        assert.deepEqual(
            state.stacks.map((s) => [s.name, s.status]),
            [["control-plane", "DEPLOY_SUCCESS"]],
        );
    });
});

describe("the lab's sshd with RSA, ECDSA and ed25519 host keys", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-hostkeys-"));
    let keysLab: PrivateLab;
    let conn: ReturnType<PrivateLab["connection"]>;
    const types = (text: string) =>
        text
            .trim()
            .split("\n")
            .map((l) => l.split(/\s+/)[1]);

    before(async () => {
        keysLab = await startPrivateLab(path.join(dir, "lab"));
        conn = keysLab.connection();
    });
    after(() => {
        closeAll();
        keysLab?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    /** exec through the transport with the pin the program derives from this known_hosts text. */
    async function viaKnownHosts(text: string): Promise<string> {
        const kh = path.join(dir, `known_hosts-${Math.random().toString(36).slice(2)}`);
        fs.writeFileSync(kh, text);
        const { host, port, user, privateKeyPath } = conn;
        const r = resolveUndercloud(
            parseUndercloud({ host, port, user, knownHostsFile: kh, privateKeyFile: privateKeyPath }),
            dir,
            false,
        );
        closeAll();
        const t = { ...r.connection, privateKey: fs.readFileSync(privateKeyPath, "utf8") };
        return (await exec(t, "echo ok")).stdout;
    }

    it("known_hosts lists the three keys; connection.json keeps the ed25519 hostKey", () => {
        const kh = fs.readFileSync(conn.knownHostsPath, "utf8");
        assert.deepEqual(types(kh), ["ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"]);
        assert.match(conn.hostKey, /^ssh-ed25519 /);
        assert.ok(kh.includes(conn.hostKey));
    });

    it("connects with ssh-keyscan's output, RSA first, plain and hashed", async () => {
        const scan = (hashed: boolean) => {
            const args = [...(hashed ? ["-H"] : []), "-p", String(conn.port), conn.host];
            const out = spawnSync("ssh-keyscan", args, { encoding: "utf8" }).stdout ?? "";
            const lines = out.split("\n").filter((l) => l && !l.startsWith("#"));
            // RSA first, as ssh-keyscan usually prints it (its order depends on the answers).
            return lines.sort((a, b) => Number(!a.includes(" ssh-rsa ")) - Number(!b.includes(" ssh-rsa "))).join("\n");
        };
        const plain = scan(false);
        assert.deepEqual(types(plain).sort(), ["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"]);
        assert.equal(types(plain)[0], "ssh-rsa");
        assert.equal(await viaKnownHosts(plain + "\n"), "ok\n");
        const hashed = scan(true);
        assert.match(hashed, /^\|1\|/);
        assert.equal(await viaKnownHosts(hashed + "\n"), "ok\n");
    });

    it("connects pinned to each key type alone (only that type is negotiated)", async () => {
        for (const line of fs.readFileSync(conn.knownHostsPath, "utf8").trim().split("\n")) {
            assert.equal(await viaKnownHosts(line + "\n"), "ok\n", line);
        }
    });

    it("the validation CLI's connection uses the same pin and refuses another host's keys", async () => {
        const uc = await connectUndercloud(conn);
        try {
            assert.equal((await uc.exec("echo ok")).stdout, "ok\n");
        } finally {
            uc.close();
        }
        const moved = path.join(dir, "moved");
        fs.writeFileSync(moved, fs.readFileSync(conn.knownHostsPath, "utf8").replaceAll(`:${conn.port}`, ":1"));
        await assert.rejects(connectUndercloud({ ...conn, knownHostsPath: moved }), /has no key for/);
    });
});
