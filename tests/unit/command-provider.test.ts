// Unit tests of the TypeScript command provider (tools/command-provider): value encoding, check/diff
// rules, the CRUD semantics with the real local runner, host key parsing, dial retry limits, and the
// SSH runner against an in-process ssh2 server.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { globFiles, globToRegExp } from "../../tools/command-provider/src/assets";
import type { EngineLogger } from "../../tools/command-provider/src/engineLog";
import { buildLocalEnv, defaultInterpreter } from "../../tools/command-provider/src/local";
import {
    checkInputs,
    diffInputs,
    makeOutputs,
    makeProvider,
    minimalSchema,
    LOCAL_COMMAND,
    REMOTE_COMMAND,
} from "../../tools/command-provider/src/provider";
import {
    dialWithRetry,
    fingerprint,
    parseHostKey,
    reachedDialingErrorLimit,
    retryDelayMs,
    runRemote,
} from "../../tools/command-provider/src/remote";
import {
    containsSecret,
    containsUnknown,
    deepEqual,
    parseUrn,
    reveal,
    secret,
    SECRET_SIG,
    SPECIAL_SIG,
    trimNewline,
    UNKNOWN,
} from "../../tools/command-provider/src/values";
import {
    generateKeyPair,
    startSshd,
    type KeyPair,
    type TestSshd,
} from "../../tools/command-provider/test-support/sshd";

const LOCAL_URN = "urn:pulumi:dev::proj::command:local:Command::cmd";
const REMOTE_URN = "urn:pulumi:dev::proj::comp:Thing$command:remote:Command::rcmd";
const s = (v: unknown) => ({ [SPECIAL_SIG]: SECRET_SIG, value: v });
const isSecretValue = (v: unknown) =>
    typeof v === "object" && v !== null && (v as Record<string, unknown>)[SPECIAL_SIG] === SECRET_SIG;

function recordingLogger(): EngineLogger & { lines: string[] } {
    const lines: string[] = [];
    return { lines, log: (_sev, _urn, message) => void lines.push(message) };
}

describe("command provider: values", () => {
    it("reveals nested secrets and detects secrets/unknowns", () => {
        const v = { a: s("x"), b: [1, s({ c: "d" })], e: "f" };
        assert.deepEqual(reveal(v), { a: "x", b: [1, { c: "d" }], e: "f" });
        assert.equal(containsSecret(v), true);
        assert.equal(containsSecret({ a: "x" }), false);
        assert.equal(containsUnknown({ a: [UNKNOWN] }), true);
        assert.equal(containsUnknown(s(UNKNOWN)), true);
        assert.equal(containsUnknown({ a: "b" }), false);
        assert.deepEqual(secret(secret("x")), s("x"));
    });

    it("compares with null == missing", () => {
        assert.equal(deepEqual({ a: 1, b: null }, { a: 1 }), true);
        assert.equal(deepEqual([1, 2], [1, 2, 3]), false);
        assert.equal(deepEqual({ a: { b: "c" } }, { a: { b: "d" } }), false);
    });

    it("parses URNs including parent-qualified types", () => {
        assert.deepEqual(parseUrn(LOCAL_URN), { type: LOCAL_COMMAND, name: "cmd" });
        assert.deepEqual(parseUrn(REMOTE_URN), { type: REMOTE_COMMAND, name: "rcmd" });
    });

    it("trims exactly one trailing newline, like strings.TrimSuffix", () => {
        assert.equal(trimNewline("a\n"), "a");
        assert.equal(trimNewline("a\n\n"), "a\n");
        assert.equal(trimNewline("a"), "a");
    });
});

describe("command provider: asset globs (gobwas/glob rules, '/' separator)", () => {
    const m = (g: string, p: string) => globToRegExp(g).test(p);
    it("matches like the documented examples", () => {
        assert.equal(m("assets/**", "assets/logos/logo.svg"), true);
        assert.equal(m("src/**.js", "src/index.js"), true);
        assert.equal(m("src/**.js", "src/a/b.js"), true);
        assert.equal(m("**secret.*", "src/secret.js"), true);
        assert.equal(m("*.txt", "a/b.txt"), false, "* does not cross /");
        assert.equal(m("?.txt", "a.txt"), true);
        assert.equal(m("{a,b}/*.[ch]", "b/x.c"), true);
        assert.equal(m("[!x]?.md", "xb.md"), false);
        assert.equal(m("a\\*b", "a*b"), true);
        assert.equal(m("a.b", "axb"), false);
        assert.throws(() => globToRegExp("{a,b"), /malformed glob/);
    });

    it("collects files in rule order, exclusions after inclusions, no directories", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cmdprov-glob-"));
        try {
            for (const f of ["assets/logos/logo.svg", "src/index.js", "src/secret.js", "top.txt"]) {
                fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
                fs.writeFileSync(path.join(dir, f), f);
            }
            const found = globFiles(dir, ["assets/**", "src/**.js", "!**secret.*"]);
            assert.deepEqual([...found.keys()], ["assets/logos/logo.svg", "src/index.js"]);
            assert.equal(found.get("src/index.js"), path.join(dir, "src/index.js"));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("command provider: check", () => {
    it("defaults addPreviousOutputInEnv to true and keeps secrets as given", () => {
        const r = checkInputs(LOCAL_COMMAND, { create: "echo", environment: { A: s("x") } });
        assert.deepEqual(r.failures, []);
        assert.equal(r.inputs.addPreviousOutputInEnv, true);
        assert.deepEqual(r.inputs.environment, { A: s("x") });
    });

    it("accepts assetPaths/archivePaths and rejects malformed globs", () => {
        const ok = checkInputs(LOCAL_COMMAND, {
            create: "echo",
            assetPaths: ["*.txt", "!b.txt"],
            archivePaths: ["**"],
        });
        assert.deepEqual(ok.failures, []);
        const bad = checkInputs(LOCAL_COMMAND, { create: "echo", assetPaths: ["[abc"], archivePaths: "*" });
        assert.deepEqual(
            bad.failures!.map((f) => f.property),
            ["assetPaths", "archivePaths"],
        );
        assert.match(bad.failures![0]!.reason, /malformed glob/);
    });

    it("validates types and enums, skipping unknowns", () => {
        const r = checkInputs(LOCAL_COMMAND, {
            create: 1,
            logging: "loud",
            interpreter: "sh",
            environment: { A: 2 },
            bogus: true,
        });
        const props = r.failures!.map((f) => f.property).sort();
        assert.deepEqual(props, ["bogus", "create", "environment", "interpreter", "logging"]);
        const u = checkInputs(LOCAL_COMMAND, { create: UNKNOWN, logging: UNKNOWN, interpreter: [UNKNOWN] });
        assert.deepEqual(u.failures, []);
    });

    it("reports unsupported and unknown resource types", () => {
        assert.match(checkInputs("command:remote:CopyToRemote", {}).failures![0]!.reason, /not supported/);
        assert.match(checkInputs("command:x:Y", {}).failures![0]!.reason, /unknown resource type/);
    });

    it("requires connection.host, fills connection defaults and marks the connection secret", () => {
        assert.deepEqual(
            checkInputs(REMOTE_COMMAND, { create: "x" }).failures!.map((f) => f.property),
            ["connection"],
        );
        assert.deepEqual(
            checkInputs(REMOTE_COMMAND, { connection: s({ port: 22 }) }).failures!.map((f) => f.property),
            ["connection.host"],
        );
        const r = checkInputs(REMOTE_COMMAND, { connection: { host: "h", proxy: { host: "b" } } });
        assert.deepEqual(r.failures, []);
        assert.ok(isSecretValue(r.inputs.connection));
        assert.deepEqual(reveal(r.inputs.connection), {
            host: "h",
            port: 22,
            user: "root",
            dialErrorLimit: 10,
            perDialTimeout: 15,
            proxy: { host: "b", port: 22, user: "root", dialErrorLimit: 10, perDialTimeout: 15 },
        });
    });

    it("accepts a connection that is not known yet (preview)", () => {
        const whole = checkInputs(REMOTE_COMMAND, { connection: s(UNKNOWN), create: "x" });
        assert.deepEqual(whole.failures, []);
        assert.deepEqual(whole.inputs.connection, s(UNKNOWN));
        const part = checkInputs(REMOTE_COMMAND, { connection: s({ host: UNKNOWN, privateKey: s("k") }) });
        assert.deepEqual(part.failures, []);
        assert.deepEqual(reveal(part.inputs.connection), {
            host: UNKNOWN,
            privateKey: "k",
            port: 22,
            user: "root",
            dialErrorLimit: 10,
            perDialTimeout: 15,
        });
    });

    it("validates connection numbers and the pinned host key", () => {
        const r = checkInputs(REMOTE_COMMAND, {
            connection: s({ host: "h", port: 0, dialErrorLimit: -2, perDialTimeout: 1.5, hostKey: "not a key" }),
        });
        assert.deepEqual(r.failures!.map((f) => f.property).sort(), [
            "connection.dialErrorLimit",
            "connection.hostKey",
            "connection.perDialTimeout",
            "connection.port",
        ]);
    });
});

describe("command provider: diff", () => {
    const olds = { create: "a", triggers: [1], addPreviousOutputInEnv: true, stdout: "x", stderr: "" };

    it("reports no changes for identical inputs, ignoring outputs and secretness", () => {
        const d = diffInputs(
            LOCAL_COMMAND,
            { ...olds, environment: { A: "b" } },
            { create: "a", triggers: [1], environment: s({ A: "b" }) },
        );
        assert.equal(d.changes, false);
        assert.deepEqual(d.replaces, []);
    });

    it("replaces when triggers change, updates otherwise", () => {
        assert.deepEqual(diffInputs(LOCAL_COMMAND, olds, { ...olds, triggers: [2] }).replaces, ["triggers"]);
        const d = diffInputs(LOCAL_COMMAND, olds, { ...olds, create: "b" });
        assert.equal(d.changes, true);
        assert.deepEqual(d.replaces, []);
        assert.equal(d.deleteBeforeReplace, false);
    });

    it("treats unknown values as changes", () => {
        assert.equal(diffInputs(LOCAL_COMMAND, olds, { ...olds, create: UNKNOWN }).changes, true);
        assert.deepEqual(diffInputs(LOCAL_COMMAND, olds, { ...olds, triggers: [UNKNOWN] }).replaces, ["triggers"]);
    });

    it("sees a connection change on a remote command as an update", () => {
        const o = { connection: s({ host: "a", port: 22 }), create: "x" };
        const d = diffInputs(REMOTE_COMMAND, o, { connection: s({ host: "b", port: 22 }), create: "x" });
        assert.equal(d.changes, true);
        assert.deepEqual(d.replaces, []);
    });
});

describe("command provider: outputs", () => {
    it("makes stdout/stderr secret when any input is secret, connection always", () => {
        const plain = makeOutputs(LOCAL_COMMAND, { create: "echo" }, { stdout: "o", stderr: "e" });
        assert.deepEqual(plain, { create: "echo", stdout: "o", stderr: "e" });
        const sec = makeOutputs(
            LOCAL_COMMAND,
            { create: "echo", environment: { A: s("x") } },
            { stdout: "o", stderr: "e" },
        );
        assert.ok(isSecretValue(sec.stdout) && isSecretValue(sec.stderr));
        const remote = makeOutputs(
            REMOTE_COMMAND,
            { connection: { host: "h" }, create: "x" },
            { stdout: "o", stderr: "" },
        );
        assert.ok(isSecretValue(remote.connection));
    });

    it("serves a minimal schema naming the resources", () => {
        const schema = minimalSchema() as { name: string; resources: Record<string, unknown> };
        assert.equal(schema.name, "command");
        assert.ok(schema.resources[LOCAL_COMMAND] && schema.resources[REMOTE_COMMAND]);
    });
});

describe("command provider: local CRUD with the real runner", () => {
    let dir: string;
    before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "cmdprov-unit-"))));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("creates: runs create in dir with environment and stdin; trims output; id is name + 8 hex", async () => {
        const logger = recordingLogger();
        const p = makeProvider(undefined, logger);
        const r = await p.create!(LOCAL_URN, {
            create: 'cat; echo "$A"; pwd; echo err >&2; printf "\\n\\n"',
            dir,
            environment: { A: "env-a" },
            stdin: "from-stdin\n",
            addPreviousOutputInEnv: true,
        });
        assert.match(r.id, /^cmd[0-9a-f]{8}$/);
        assert.equal(
            r.outs.stdout,
            `from-stdin\nenv-a\n${fs.realpathSync(dir)}\n\n`,
            "only the last newline is trimmed",
        );
        assert.equal(r.outs.stderr, "err");
        assert.ok(logger.lines.includes("env-a"));
    });

    it("creates nothing and returns empty outputs without a create command", async () => {
        const r = await makeProvider(undefined, recordingLogger()).create!(LOCAL_URN, { delete: "x" });
        assert.equal(r.outs.stdout, "");
        assert.equal(r.outs.stderr, "");
    });

    it("update runs update (else create) with the previous output in the environment", async () => {
        const p = makeProvider(undefined, recordingLogger());
        const olds = { create: "c", stdout: "old-out", stderr: "old-err", addPreviousOutputInEnv: true };
        const u1 = await p.update!("id", LOCAL_URN, olds, {
            create: "echo create",
            update: 'echo "upd $PULUMI_COMMAND_STDOUT $PULUMI_COMMAND_STDERR"',
        });
        assert.equal(u1.outs.stdout, "upd old-out old-err");
        const u2 = await p.update!("id", LOCAL_URN, olds, { create: "echo create-again" });
        assert.equal(u2.outs.stdout, "create-again");
        const u3 = await p.update!("id", LOCAL_URN, olds, {
            update: 'echo "[${PULUMI_COMMAND_STDOUT-unset}]"',
            addPreviousOutputInEnv: false,
        });
        assert.equal(u3.outs.stdout, "[unset]");
        const u4 = await p.update!("id", LOCAL_URN, olds, { delete: "x" });
        assert.equal(u4.outs.stdout, "old-out", "no command: previous outputs stay");
    });

    it("delete runs delete with the state's stdout, and nothing without one", async () => {
        const p = makeProvider(undefined, recordingLogger());
        const f = path.join(dir, "deleted.txt");
        await p.delete!("id", LOCAL_URN, {
            delete: `echo "gone $PULUMI_COMMAND_STDOUT" > ${f}`,
            stdout: s("prev"),
            stderr: "",
        });
        assert.equal(fs.readFileSync(f, "utf8"), "gone prev\n");
        await p.delete!("id", LOCAL_URN, { create: "exit 1" });
    });

    it("fails on a non-zero exit with the command and its output in the error", async () => {
        const p = makeProvider(undefined, recordingLogger());
        await assert.rejects(p.create!(LOCAL_URN, { create: "echo out; echo bad >&2; exit 3" }), (e: Error) => {
            assert.match(e.message, /^exit status 3: running "echo out; echo bad >&2; exit 3":\nout\nbad\n$/);
            return true;
        });
        await assert.rejects(
            p.create!(LOCAL_URN, { create: "true", dir: path.join(dir, "missing") }),
            /chdir .*missing: no such file or directory/,
        );
    });

    it("returns assets and an archive for assetPaths/archivePaths, kept by an update without them", async () => {
        const p = makeProvider(undefined, recordingLogger());
        const sub = fs.mkdtempSync(path.join(dir, "assets-"));
        const r = await p.create!(LOCAL_URN, {
            create: "mkdir -p out && echo one > out/a.txt && echo two > out/b.log",
            dir: sub,
            assetPaths: ["out/*.txt"],
            archivePaths: ["out/**", "!**.log"],
        });
        const asset = (r.outs.assets as Record<string, Record<string, unknown>>)["out/a.txt"]!;
        assert.equal(asset[SPECIAL_SIG], "c44067f5952c0a294b673a41bacd8c17");
        assert.equal(asset.path, path.join(sub, "out/a.txt"));
        assert.equal(asset.hash, "2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806");
        const archive = r.outs.archive as Record<string, unknown>;
        assert.equal(archive[SPECIAL_SIG], "0def7320c3a5731c473e5ecbe6d01bc7");
        assert.deepEqual(Object.keys(archive.assets as object), ["out/a.txt"]);
        const u = await p.update!("id", LOCAL_URN, r.outs, { create: "echo again", dir: sub });
        assert.deepEqual(u.outs.assets, r.outs.assets);
        assert.equal(u.outs.stdout, "again");
    });

    it("does not print a secret command in the error", async () => {
        const p = makeProvider(undefined, recordingLogger());
        await assert.rejects(p.create!(LOCAL_URN, { create: s("echo token-123 >/dev/null; exit 2") }), (e: Error) => {
            assert.equal(e.message, 'exit status 2: running "[secret]":\n');
            return true;
        });
    });

    it("honours interpreter and logging", async () => {
        const logger = recordingLogger();
        const p = makeProvider(undefined, logger);
        const r = await p.create!(LOCAL_URN, {
            create: "print('py' if False else 'node')",
            interpreter: ["/bin/echo", "-n"],
        });
        assert.equal(r.outs.stdout, "print('py' if False else 'node')");
        logger.lines.length = 0;
        await p.create!(LOCAL_URN, { create: "echo o; echo e >&2", logging: "none" });
        assert.deepEqual(logger.lines, []);
        await p.create!(LOCAL_URN, { create: "echo o; echo e >&2", logging: "stderr" });
        assert.deepEqual(logger.lines, ["e"]);
    });

    it("builds the environment: process env, then environment, then previous outputs", () => {
        const env = buildLocalEnv({ A: "1", B: "2" }, { environment: { B: "3" } }, { stdout: "o", stderr: "" });
        assert.deepEqual(env, { A: "1", B: "3", PULUMI_COMMAND_STDOUT: "o" });
        assert.deepEqual(defaultInterpreter("linux"), ["/bin/sh", "-c"]);
        assert.deepEqual(defaultInterpreter("win32"), ["cmd", "/C"]);
    });

    it("invokes command:local:run and refuses other functions", async () => {
        const p = makeProvider(undefined, recordingLogger());
        const r = await p.invoke!("command:local:run", { command: "echo run-out", dir });
        assert.equal(r.outputs.stdout, "run-out");
        assert.equal(r.outputs.command, "echo run-out");
        const bad = await p.invoke!("command:local:run", {});
        assert.equal(bad.failures![0]!.property, "command");
        await assert.rejects(p.invoke!("command:remote:whatever", {}), /not supported/);
    });

    it("reads state back unchanged, with the input part as inputs", async () => {
        const props = { create: "x", stdout: "o", stderr: "", addPreviousOutputInEnv: true };
        const r = await makeProvider(undefined, recordingLogger()).read!("id", LOCAL_URN, props);
        assert.deepEqual(r, { id: "id", props, inputs: { create: "x", addPreviousOutputInEnv: true } });
    });
});

describe("command provider: host keys and dialing", () => {
    it("parses authorized_keys and known_hosts style lines", () => {
        const k = generateKeyPair("c");
        const parsed = parseHostKey(k.public).keys[0];
        assert.equal(parsed.type, "ssh-ed25519");
        assert.deepEqual(
            parseHostKey(`[127.0.0.1]:2222 ${k.public.split(" ").slice(0, 2).join(" ")}`).keys[0].blob,
            parsed.blob,
        );
        assert.match(fingerprint(parsed.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
        assert.throws(() => parseHostKey("ssh-rsa " + k.public.split(" ")[1]), /authorized_keys format/);
        assert.throws(() => parseHostKey("garbage"), /authorized_keys format/);
    });

    it("applies dialErrorLimit like the Go provider (-1 unlimited)", async () => {
        assert.equal(reachedDialingErrorLimit(11, 10), true);
        assert.equal(reachedDialingErrorLimit(10, 10), false);
        assert.equal(reachedDialingErrorLimit(1000, -1), false);
        assert.equal(retryDelayMs(0), 100);
        assert.equal(retryDelayMs(50), 5000);
        let calls = 0;
        const status: string[] = [];
        await assert.rejects(
            dialWithRetry(
                "Dial",
                2,
                async () => {
                    calls++;
                    throw new Error("refused");
                },
                (m) => status.push(m),
            ),
            /after 2 failed attempts: refused/,
        );
        assert.equal(calls, 3);
        assert.deepEqual(status, ["Dial 1/2 failed: retrying", "Dial 2/2 failed: retrying"]);
    });
});

describe("command provider: remote runner against an in-process SSH server", () => {
    let sshd: TestSshd;
    let key: KeyPair;
    const noop = () => {};
    before(async () => {
        key = generateKeyPair("client");
        sshd = await startSshd({ user: "ops", clientKey: key, password: "pw" });
    });
    after(() => sshd.close());

    const conn = () => ({
        host: "127.0.0.1",
        port: sshd.port,
        user: "ops",
        privateKey: key.private,
        hostKey: sshd.hostKey.public,
        dialErrorLimit: 0,
    });

    it("runs with key auth, pinned host key, environment, previous output and stdin", async () => {
        const r = await runRemote(
            'cat; echo "$A"; echo e >&2',
            { connection: conn(), environment: { A: "b" }, stdin: "in\n" },
            { stdout: "p" },
            noop,
            noop,
        );
        assert.deepEqual(r, { stdout: "in\nb", stderr: "e" });
        assert.deepEqual(sshd.execs.at(-1)!.env, { A: "b", PULUMI_COMMAND_STDOUT: "p" });
    });

    it("authenticates with a password and works through a proxy (bastion)", async () => {
        const pw = { host: "127.0.0.1", port: sshd.port, user: "ops", password: "pw", hostKey: sshd.hostKey.public };
        assert.equal((await runRemote("echo pw", { connection: pw }, undefined, noop, noop)).stdout, "pw");
        const forwards = sshd.forwards;
        const r = await runRemote("echo via-proxy", { connection: { ...conn(), proxy: pw } }, undefined, noop, noop);
        assert.equal(r.stdout, "via-proxy");
        assert.equal(sshd.forwards, forwards + 1);
    });

    it("refuses a host whose key is not the pinned one, before running anything", async () => {
        const execs = sshd.execs.length;
        await assert.rejects(
            runRemote(
                "echo no",
                { connection: { ...conn(), hostKey: generateKeyPair("x").public, dialErrorLimit: 5 } },
                undefined,
                noop,
                noop,
            ),
            /host key mismatch/,
        );
        assert.equal(sshd.execs.length, execs);
    });

    it("takes several pinned keys (the project's pin: any of them) and refuses a revoked one", async () => {
        const other = generateKeyPair("other").public;
        const several = { ...conn(), hostKey: `${other}\n${sshd.hostKey.public}` };
        assert.equal((await runRemote("echo any", { connection: several }, undefined, noop, noop)).stdout, "any");
        const revoked = { ...conn(), hostKey: `${sshd.hostKey.public}\n@revoked ${sshd.hostKey.public}` };
        await assert.rejects(
            runRemote("echo no", { connection: revoked }, undefined, noop, noop),
            /ssh: host key for 127\.0\.0\.1:\d+ is revoked/,
        );
    });

    it("fails when the server refuses an environment variable; only warns for the previous output", async () => {
        const strict = await startSshd({ user: "ops", clientKey: key, acceptEnv: (k) => k === "OK" });
        try {
            const c = { ...conn(), port: strict.port, hostKey: strict.hostKey.public };
            const logs: string[] = [];
            const log = (sev: string, m: string) => void logs.push(`${sev}: ${m}`);
            await assert.rejects(
                runRemote("echo no", { connection: c, environment: { OK: "1", NOPE: "2" } }, undefined, noop, log),
                /^Error: could not set environment variable "NOPE": ssh: setenv failed$/,
            );
            assert.equal(strict.execs.length, 0);
            assert.match(logs.at(-1)!, /^error: Unable to set 'NOPE'\. .*AcceptEnv/);
            logs.length = 0;
            const r = await runRemote(
                'echo "$OK"',
                { connection: c, environment: { OK: "1" } },
                { stdout: "p" },
                noop,
                log,
            );
            assert.equal(r.stdout, "1");
            assert.match(logs.join("\n"), /^warning: Unable to set 'PULUMI_COMMAND_STDOUT'/);
        } finally {
            await strict.close();
        }
    });

    it("never loses the exit status of fast commands", async () => {
        for (let i = 0; i < 15; i++) {
            const r = await runRemote(
                i % 2 ? "true" : "exit 0",
                { connection: conn(), environment: { A: "1" } },
                undefined,
                noop,
                noop,
            );
            assert.deepEqual(r, { stdout: "", stderr: "" });
        }
        await assert.rejects(runRemote("false", { connection: conn() }, undefined, noop, noop), /status 1/);
    });

    it("fails on a non-zero exit with the output", async () => {
        await assert.rejects(
            runRemote("echo partial; exit 4", { connection: conn() }, undefined, noop, noop),
            /^Error: Process exited with status 4: running "echo partial; exit 4":\npartial\n$/,
        );
    });

    it("runs remote Create/Delete through the provider with secret outputs", async () => {
        const p = makeProvider(undefined, recordingLogger());
        const checked = checkInputs(REMOTE_COMMAND, {
            connection: s(conn()),
            create: "echo made",
            delete: 'echo "del $PULUMI_COMMAND_STDOUT"',
        });
        assert.deepEqual(checked.failures, []);
        const r = await p.create!(REMOTE_URN, checked.inputs);
        assert.ok(isSecretValue(r.outs.connection) && isSecretValue(r.outs.stdout));
        assert.equal(reveal(r.outs.stdout), "made");
        await p.delete!(r.id, REMOTE_URN, r.outs);
        assert.equal(sshd.execs.at(-1)!.env.PULUMI_COMMAND_STDOUT, "made");
    });
});
