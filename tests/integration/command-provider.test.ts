// The TypeScript `pulumi-resource-command` plugin under the real engine: the project's Pulumi CLI and
// Node.js language host run a program with one @pulumi/command local.Command and one remote.Command
// (against an in-process ssh2 server, host key pinned) through preview, up, a no-op up, a trigger
// replacement, refresh, a refused host key and destroy, offline with a file backend.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { runRemote } from "../../tools/command-provider/src/remote";
import {
    generateKeyPair,
    startSshd,
    type KeyPair,
    type TestSshd,
} from "../../tools/command-provider/test-support/sshd";

const root = path.resolve(__dirname, "..", "..");
const pulumiBin = path.join(root, ".pulumi", "bin");
const launcherDir = path.join(root, "tools", "command-provider");
const built =
    fs.existsSync(path.join(pulumiBin, "pulumi")) && fs.existsSync(path.join(pulumiBin, "pulumi-language-nodejs"));

const PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const cfg = new pulumi.Config();
const dir = cfg.require("dir");
const trigger = cfg.require("trigger");
const local = new command.local.Command("local", {
    create: "echo created >> local-created.txt && echo hello-local && echo note >&2",
    delete: 'echo "deleted $PULUMI_COMMAND_STDOUT" >> local-deleted.txt',
    dir,
    environment: { WHO: "local" },
    triggers: [trigger],
});
const remote = new command.remote.Command("remote", {
    connection: {
        host: "127.0.0.1",
        port: cfg.requireNumber("sshPort"),
        user: "deploy",
        privateKey: cfg.requireSecret("privateKey"),
        hostKey: cfg.require("hostKey"),
        dialErrorLimit: 1,
        perDialTimeout: 5,
    },
    create: "echo created >> remote-created.txt && echo \\"remote $WHO\\"",
    delete: 'echo "deleted $PULUMI_COMMAND_STDOUT" >> remote-deleted.txt',
    environment: { WHO: "hello" },
    triggers: [trigger],
});
exports.localStdout = local.stdout;
exports.localStderr = local.stderr;
exports.remoteStdout = remote.stdout;
`;

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Result> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

function offlineEnv(tmp: string, pathDirs: string[]): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: [...pathDirs, pulumiBin, process.env.PATH ?? ""].join(":"),
        PULUMI_HOME: path.join(tmp, "home"),
        PULUMI_BACKEND_URL: `file://${path.join(tmp, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        HTTP_PROXY: "http://127.0.0.1:9",
        HTTPS_PROXY: "http://127.0.0.1:9",
        NO_PROXY: "127.0.0.1,localhost",
    };
}

function makeProject(tmp: string): string {
    const project = path.join(tmp, "project");
    fs.mkdirSync(project, { recursive: true });
    fs.mkdirSync(path.join(tmp, "state"), { recursive: true });
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: command-provider-test\nruntime: nodejs\n");
    fs.writeFileSync(
        path.join(project, "package.json"),
        JSON.stringify({ name: "command-provider-test", main: "index.js" }),
    );
    fs.writeFileSync(path.join(project, "index.js"), PROGRAM);
    fs.symlinkSync(path.join(root, "node_modules"), path.join(project, "node_modules"));
    return project;
}

const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : undefined);

describe(
    "pulumi-resource-command (TypeScript) under the real engine",
    { skip: !built && "toolchain not built (npm run setup)" },
    () => {
        let tmp: string;
        let project: string;
        let work: string;
        let env: NodeJS.ProcessEnv;
        let sshd: TestSshd;
        let clientKey: KeyPair;

        const pulumi = (args: string[]) => run("pulumi", args, project, env);
        const ok = async (args: string[]) => {
            const r = await pulumi(args);
            assert.equal(r.code, 0, `pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
            return r;
        };
        const outputs = async () => JSON.parse((await ok(["stack", "output", "--json", "--show-secrets"])).stdout);

        before(async () => {
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "command-provider-"));
            work = path.join(tmp, "work");
            fs.mkdirSync(work);
            clientKey = generateKeyPair("client");
            sshd = await startSshd({ user: "deploy", clientKey, cwd: work });
            project = makeProject(tmp);
            env = offlineEnv(tmp, [launcherDir]);
            await ok(["stack", "init", "test", "--non-interactive"]);
            await ok(["config", "set", "dir", work]);
            await ok(["config", "set", "trigger", "one"]);
            await ok(["config", "set", "sshPort", String(sshd.port)]);
            await ok(["config", "set", "hostKey", sshd.hostKey.public]);
            await ok(["config", "set", "--secret", "privateKey", "--", clientKey.private]);
        });

        after(async () => {
            await sshd?.close();
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        });

        it("previews without running anything", async () => {
            const r = await ok(["preview", "--non-interactive"]);
            assert.match(r.stdout, /\+\s+command:local:Command\s+local\s+create/);
            assert.match(r.stdout, /\+\s+command:remote:Command\s+remote\s+create/);
            assert.match(r.stdout, /using pulumi-resource-command from \$PATH/);
            assert.deepEqual(fs.readdirSync(work), []);
            assert.equal(sshd.execs.length, 0);
        });

        it("creates: runs both create commands and returns trimmed stdout/stderr", async () => {
            await ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
            assert.equal(read(path.join(work, "local-created.txt")), "created\n");
            assert.equal(read(path.join(work, "remote-created.txt")), "created\n");
            assert.equal(sshd.execs.length, 1);
            assert.equal(sshd.execs[0]!.env.WHO, "hello");
            const out = await outputs();
            assert.equal(out.localStdout, "hello-local");
            assert.equal(out.localStderr, "note");
            assert.equal(out.remoteStdout, "remote hello");
        });

        it("keeps the connection secret: no key material in the state, remote stdout secret", async () => {
            const exported = (await ok(["stack", "export"])).stdout;
            const keyBody = clientKey.private.split("\n")[2]!;
            assert.ok(keyBody.length > 20);
            assert.equal(exported.includes(keyBody), false, "private key leaked into the state");
            assert.equal(exported.includes("PRIVATE KEY"), false);
            const state = JSON.parse(exported);
            const remote = state.deployment.resources.find(
                (r: { type: string }) => r.type === "command:remote:Command",
            );
            const sig = "4dabf18193072939515e22adb298388d";
            assert.ok(remote.outputs.connection[sig], "connection output must be secret");
            assert.ok(remote.inputs.connection[sig], "connection input must be secret");
            assert.ok(remote.outputs.stdout[sig], "remote stdout is secret (depends on the secret connection)");
            const local = state.deployment.resources.find((r: { type: string }) => r.type === "command:local:Command");
            assert.equal(local.outputs.stdout, "hello-local");
            const plain = (await ok(["stack", "output", "--json"])).stdout;
            assert.equal(JSON.parse(plain).remoteStdout, "[secret]");
        });

        it("a second up changes nothing and runs nothing", async () => {
            await ok(["up", "--yes", "--non-interactive", "--expect-no-changes"]);
            assert.equal(sshd.execs.length, 1);
            assert.equal(read(path.join(work, "local-created.txt")), "created\n");
        });

        it("replaces both commands when a trigger changes (create new, then delete old)", async () => {
            await ok(["config", "set", "trigger", "two"]);
            const r = await ok(["up", "--yes", "--non-interactive"]);
            assert.match(r.stdout, /2 replaced/);
            assert.equal(read(path.join(work, "local-created.txt")), "created\ncreated\n");
            assert.equal(read(path.join(work, "remote-created.txt")), "created\ncreated\n");
            assert.equal(read(path.join(work, "local-deleted.txt")), "deleted hello-local\n");
            assert.equal(read(path.join(work, "remote-deleted.txt")), "deleted remote hello\n");
            const deleteExec = sshd.execs.find((e) => e.command.includes("remote-deleted.txt"));
            assert.equal(deleteExec?.env.PULUMI_COMMAND_STDOUT, "remote hello");
        });

        it("refreshes with no changes", async () => {
            await ok(["refresh", "--yes", "--non-interactive", "--expect-no-changes"]);
            await ok(["preview", "--non-interactive", "--expect-no-changes"]);
        });

        it("refuses a server whose host key is not the pinned one", async () => {
            const before = sshd.execs.length;
            await ok(["config", "set", "hostKey", generateKeyPair("impostor").public]);
            const r = await pulumi(["up", "--yes", "--non-interactive", "--skip-preview"]);
            assert.notEqual(r.code, 0);
            assert.match(r.stdout + r.stderr, /host key mismatch/);
            assert.equal(sshd.execs.length, before, "nothing may run on an unverified host");
            await ok(["config", "set", "hostKey", sshd.hostKey.public]);
            await ok(["preview", "--non-interactive", "--expect-no-changes"]);
        });

        it("destroys: runs both delete commands with the previous stdout", async () => {
            await ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
            assert.equal(read(path.join(work, "local-deleted.txt")), "deleted hello-local\ndeleted hello-local\n");
            assert.equal(read(path.join(work, "remote-deleted.txt")), "deleted remote hello\ndeleted remote hello\n");
            const state = JSON.parse((await ok(["stack", "export"])).stdout);
            assert.equal(
                (state.deployment.resources ?? []).filter((r: { type: string }) => r.type.startsWith("command:"))
                    .length,
                0,
            );
        });

        it("is found without a $PATH warning when linked into the plugin cache", async () => {
            const plugins = path.join(tmp, "home", "plugins", "resource-command-v1.2.1");
            fs.mkdirSync(plugins, { recursive: true });
            fs.symlinkSync(
                path.join(launcherDir, "pulumi-resource-command"),
                path.join(plugins, "pulumi-resource-command"),
            );
            const saved = env;
            // .pulumi/bin (on PATH for the CLI) may hold the launcher too: ignore ambient plugins.
            env = { ...offlineEnv(tmp, []), PULUMI_IGNORE_AMBIENT_PLUGINS: "true" };
            try {
                const r = await ok(["preview", "--non-interactive"]);
                assert.doesNotMatch(r.stdout + r.stderr, /from \$PATH/);
                assert.match(r.stdout, /\+\s+command:local:Command\s+local\s+create/);
            } finally {
                env = saved;
            }
        });
    },
);

// Several remote commands in one `up` (four independent ones, started together by the engine, and
// one that depends on them): the plugin runs them all as channels of one pooled SSH connection.
const POOL_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const cfg = new pulumi.Config();
const connection = {
    host: "127.0.0.1",
    port: cfg.requireNumber("sshPort"),
    user: "deploy",
    privateKey: cfg.requireSecret("privateKey"),
    hostKey: cfg.require("hostKey"),
    dialErrorLimit: 1,
};
const steps = [0, 1, 2, 3].map(
    (i) =>
        new command.remote.Command("step" + i, {
            connection,
            create: "sleep 0.5; echo step" + i,
            delete: "echo gone" + i,
        }),
);
const last = new command.remote.Command(
    "last",
    { connection, create: "echo last", delete: "echo gone-last" },
    { dependsOn: steps },
);
exports.out = pulumi.all([...steps.map((s) => s.stdout), last.stdout]);
`;

describe(
    "pulumi-resource-command (TypeScript): one SSH connection per up",
    { skip: !built && "toolchain not built (npm run setup)" },
    () => {
        let tmp: string;
        let project: string;
        let env: NodeJS.ProcessEnv;
        let sshd: TestSshd;
        const ok = async (args: string[]) => {
            const r = await run("pulumi", args, project, env);
            assert.equal(r.code, 0, `pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
            return r;
        };

        before(async () => {
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "command-provider-pool-"));
            const clientKey = generateKeyPair("client");
            sshd = await startSshd({ user: "deploy", clientKey });
            project = makeProject(tmp);
            fs.writeFileSync(path.join(project, "index.js"), POOL_PROGRAM);
            env = offlineEnv(tmp, [launcherDir]);
            await ok(["stack", "init", "test", "--non-interactive"]);
            await ok(["config", "set", "sshPort", String(sshd.port)]);
            await ok(["config", "set", "hostKey", sshd.hostKey.public]);
            await ok(["config", "set", "--secret", "privateKey", "--", clientKey.private]);
        });
        after(async () => {
            await sshd?.close();
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        });

        it("runs five remote creates, then five deletes, on one connection each", async () => {
            const c0 = sshd.connections;
            await ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
            assert.equal(sshd.execs.length, 5);
            assert.ok(sshd.peakSessions >= 2, `the independent commands overlapped (peak ${sshd.peakSessions})`);
            assert.equal(sshd.connections - c0, 1, "one SSH connection for the whole up");
            const out = JSON.parse((await ok(["stack", "output", "--json", "--show-secrets"])).stdout);
            assert.deepEqual(out.out, ["step0", "step1", "step2", "step3", "last"]);
            // The plugin is gone with the up, and its connection with it.
            assert.equal(sshd.liveConnections(), 0);

            const c1 = sshd.connections;
            await ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
            assert.equal(sshd.execs.filter((e) => e.command.startsWith("echo gone")).length, 5);
            assert.equal(sshd.connections - c1, 1, "one SSH connection for the whole destroy");
        });
    },
);

const ASSETS_PROGRAM = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const cfg = new pulumi.Config();
const dir = cfg.require("dir");
const files = new command.local.Command("files", {
    create: \`mkdir -p out && echo \${cfg.require("v")} > out/a.txt && echo log > out/b.log\`,
    dir,
    assetPaths: ["out/*.txt"],
    archivePaths: ["out/**", "!**.log"],
});
const consumer = new command.local.Command("consumer", { create: "echo consumed", triggers: [files.archive] });
exports.assetKeys = files.assets.apply((a) => Object.keys(a || {}));
exports.archiveKeys = files.archive.apply(async (a) => (a ? Object.keys(await a.assets) : []));
exports.consumer = consumer.stdout;
const run = command.local.runOutput({ command: "echo ran > ran.txt", dir, assetPaths: ["ran.txt"] });
exports.runAssets = run.assets.apply((a) => Object.keys(a || {}));
`;

describe(
    "assetPaths / archivePaths under the real engine",
    { skip: !built && "toolchain not built (npm run setup)" },
    () => {
        let tmp: string;
        let project: string;
        let env: NodeJS.ProcessEnv;
        const ok = async (args: string[]) => {
            const r = await run("pulumi", args, project, env);
            assert.equal(r.code, 0, `pulumi ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
            return r;
        };

        before(async () => {
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "command-provider-assets-"));
            project = makeProject(tmp);
            fs.writeFileSync(path.join(project, "index.js"), ASSETS_PROGRAM);
            fs.mkdirSync(path.join(tmp, "work"));
            env = offlineEnv(tmp, [launcherDir]);
            await ok(["stack", "init", "test", "--non-interactive"]);
            await ok(["config", "set", "dir", path.join(tmp, "work")]);
            await ok(["config", "set", "v", "1"]);
        });
        after(() => {
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
        });

        it("returns assets and an archive that work as a trigger", async () => {
            await ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
            const out = JSON.parse((await ok(["stack", "output", "--json"])).stdout);
            assert.deepEqual(out.assetKeys, ["out/a.txt"]);
            assert.deepEqual(out.archiveKeys, ["out/a.txt"]);
            assert.deepEqual(out.runAssets, ["ran.txt"]);
            await ok(["up", "--yes", "--non-interactive", "--expect-no-changes"]);
            await ok(["refresh", "--yes", "--non-interactive", "--expect-no-changes"]);
            await ok(["config", "set", "v", "2"]);
            const r = await ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
            assert.match(r.stdout, /1 updated/);
            assert.match(r.stdout, /1 replaced/, "a changed archive in triggers replaces the consumer");
            await ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
        });
    },
);

// The same SSH runner against Debian's OpenSSH server (when installed): host key pinned from the
// server's own key file, AcceptEnv, stdin, exit signals and a refused impostor key.
const sshdBinary = "/usr/sbin/sshd";
const canRunSshd = fs.existsSync(sshdBinary) && typeof process.getuid === "function" && process.getuid() === 0;

describe("remote runner against OpenSSH sshd", { skip: !canRunSshd && "needs /usr/sbin/sshd and root" }, () => {
    let dir: string;
    let port: number;
    let pid: number | undefined;
    let privateKey: string;
    let hostKey: string;

    const freePort = () =>
        new Promise<number>((resolve, reject) => {
            const srv = net.createServer();
            srv.once("error", reject);
            srv.listen(0, "127.0.0.1", () => {
                const p = (srv.address() as net.AddressInfo).port;
                srv.close(() => resolve(p));
            });
        });

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "command-provider-openssh-"));
        const client = generateKeyPair("client");
        privateKey = client.private;
        fs.writeFileSync(path.join(dir, "authorized_keys"), client.public + "\n", { mode: 0o600 });
        const keygen = await run(
            "ssh-keygen",
            ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "hostkey")],
            dir,
            process.env,
        );
        assert.equal(keygen.code, 0, keygen.stderr);
        hostKey = fs.readFileSync(path.join(dir, "hostkey.pub"), "utf8");
        port = await freePort();
        fs.writeFileSync(
            path.join(dir, "sshd_config"),
            [
                `Port ${port}`,
                "ListenAddress 127.0.0.1",
                `HostKey ${dir}/hostkey`,
                `PidFile ${dir}/sshd.pid`,
                `AuthorizedKeysFile ${dir}/authorized_keys`,
                "StrictModes no",
                "UsePAM no",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "AcceptEnv WHO PULUMI_COMMAND_*",
                "",
            ].join("\n"),
        );
        fs.mkdirSync("/run/sshd", { recursive: true });
        const started = await run(
            sshdBinary,
            ["-f", path.join(dir, "sshd_config"), "-E", path.join(dir, "log")],
            dir,
            process.env,
        );
        assert.equal(started.code, 0, started.stderr);
        for (let i = 0; i < 50 && !fs.existsSync(path.join(dir, "sshd.pid")); i++)
            await new Promise((r) => setTimeout(r, 50));
        pid = Number(fs.readFileSync(path.join(dir, "sshd.pid"), "utf8").trim());
    });

    after(() => {
        if (pid) process.kill(pid, "SIGTERM");
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const connection = () => ({ host: "127.0.0.1", port, user: "root", privateKey, hostKey, dialErrorLimit: 3 });

    it("runs with the pinned key, accepted environment, previous output and stdin", async () => {
        const r = await runRemote(
            'echo "who=$WHO prev=$PULUMI_COMMAND_STDOUT"; cat',
            { connection: connection(), environment: { WHO: "w" }, stdin: "in\n" },
            { stdout: "p" },
            () => {},
            () => {},
        );
        assert.deepEqual(r, { stdout: "who=w prev=p\nin", stderr: "" });
    });

    it("fails on a variable sshd does not AcceptEnv, as Go's session.Setenv does", async () => {
        const logs: string[] = [];
        await assert.rejects(
            runRemote(
                "echo no",
                { connection: connection(), environment: { WHO: "w", OTHER: "o" } },
                undefined,
                () => {},
                (sev, m) => void logs.push(`${sev}: ${m}`),
            ),
            /could not set environment variable "OTHER": ssh: setenv failed/,
        );
        assert.match(logs.join("\n"), /error: Unable to set 'OTHER'/);
    });

    it("accepts the key in ssh-keyscan (known_hosts) form", async () => {
        const scan = `[127.0.0.1]:${port} ${hostKey.split(" ").slice(0, 2).join(" ")}`;
        const r = await runRemote(
            "echo ok",
            { connection: { ...connection(), hostKey: scan } },
            undefined,
            () => {},
            () => {},
        );
        assert.equal(r.stdout, "ok");
    });

    it("refuses an impostor key and reports signals", async () => {
        await assert.rejects(
            runRemote(
                "echo no",
                { connection: { ...connection(), hostKey: generateKeyPair("x").public } },
                undefined,
                () => {},
                () => {},
            ),
            /host key mismatch/,
        );
        await assert.rejects(
            runRemote(
                "kill -9 $$",
                { connection: connection() },
                undefined,
                () => {},
                () => {},
            ),
            /Process exited with status -1 from signal SIGKILL/,
        );
    });
});
