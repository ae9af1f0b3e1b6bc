// SSH transport and remote-job runner against an in-process ssh2 server (real `sh -c` behind it).
import { after, before, beforeEach, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { alive } from "../../lab/power";
import {
    closeAll,
    exec,
    fingerprint,
    openConnections,
    parsePublicKeyLine,
    SshTarget,
} from "../../providers/remote/ssh";
import {
    jobId,
    lineSplitter,
    parseStatus,
    splitPollAnswer,
    readFile,
    remoteHome,
    renderJobScript,
    attachedToEarlierRun,
    jobOwner,
    lockWaitClock,
    LOCK_WAIT,
    LOCK_HELD,
    run,
    runJob,
    writeFile,
} from "../../providers/remote/jobs";
import { shJoin } from "../../providers/remote/shell";
import { TestServer, goodKeyPair, keyLine, startServer, targetOf } from "./support/sshServer";
import { hostKeyPair } from "../support/ssh-keys";
import { parseUndercloud } from "../../components/config";
import { resolveUndercloud } from "../../components/connection";
import { connectUndercloud } from "../../tools/validate/ssh";

let srv: TestServer;
let target: SshTarget;

before(async () => {
    srv = await startServer();
    target = targetOf(srv);
});

after(async () => {
    closeAll();
    await srv.close();
});

describe("ssh transport", () => {
    it("connects with the pinned host key and runs a command", async () => {
        const r = await exec(target, "echo hello; echo err >&2; exit 3");
        assert.equal(r.code, 3);
        assert.equal(r.stdout, "hello\n");
        assert.equal(r.stderr, "err\n");
    });

    it("reuses one connection per undercloud for many (concurrent) commands", async () => {
        closeAll();
        const before = srv.connections();
        const results = await Promise.all(Array.from({ length: 15 }, (_, i) => exec(target, `echo ${i}`)));
        assert.deepEqual(
            results.map((r) => r.stdout.trim()),
            Array.from({ length: 15 }, (_, i) => String(i)),
        );
        assert.equal(srv.connections() - before, 1);
        assert.equal(openConnections(), 1);
    });

    it("refuses a server whose host key differs, naming host:port and both fingerprints", async () => {
        const other = goodKeyPair();
        const wrong = { ...target, user: "other", hostKey: keyLine(other.public) };
        const presented = fingerprint(parsePublicKeyLine(srv.hostKeyLine).blob);
        const pinned = fingerprint(parsePublicKeyLine(wrong.hostKey).blob);
        await assert.rejects(exec(wrong, "true"), (e: Error) => {
            assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${srv.port}`));
            assert.ok(e.message.includes(presented), e.message);
            assert.ok(e.message.includes(pinned), e.message);
            return true;
        });
    });

    it("reconnects after the connection drops", async () => {
        await exec(target, "true");
        const n = srv.connections();
        srv.dropAll();
        await new Promise((r) => setTimeout(r, 100));
        const r = await exec(target, "echo back");
        assert.equal(r.stdout, "back\n");
        assert.equal(srv.connections(), n + 1);
    });
});

describe("quoting through a real remote shell", () => {
    const nasty = [
        "plain",
        "with space",
        "it's",
        'dq"x',
        "$HOME",
        "`id`",
        "a;b",
        "a\nb",
        "*",
        "",
        "-e",
        "back\\slash",
        "ünï",
    ];
    it("every argv element arrives byte for byte", async () => {
        const r = await run(target, ["sh", "-c", 'for a in "$@"; do printf "%s\\0" "$a"; done', "sh", ...nasty]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.stdout.split("\0").slice(0, -1), nasty);
    });

    it("writeFile/readFile round-trip content and expand ~/", async () => {
        const content = "parameter_defaults:\n  X: 'it''s $HOME'\n";
        await writeFile(target, "~/dir with space/f.yaml", content);
        assert.equal(fs.readFileSync(path.join(srv.home, "dir with space", "f.yaml"), "utf8"), content);
        assert.equal(await readFile(target, "~/dir with space/f.yaml"), content);
        assert.equal(await readFile(target, "~/missing.yaml"), undefined);
        assert.equal(await remoteHome(target), srv.home);
    });
});

describe("remote jobs", () => {
    it("job ids are deterministic and depend on the script", () => {
        const a = renderJobScript([{ argv: ["echo", "a"] }]);
        const b = renderJobScript([{ argv: ["echo", "b"] }]);
        assert.equal(jobId("dcn0", "metal", a), jobId("dcn0", "metal", a));
        assert.notEqual(jobId("dcn0", "metal", a), jobId("dcn0", "metal", b));
        assert.notEqual(jobId("dcn0", "metal", a), jobId("dcn1", "metal", a));
        assert.match(jobId("control-plane", "deploy-heat", a), /^control-plane-deploy-heat-[0-9a-f]{16}$/);
    });

    it("a command with `retry` runs again only while its own run printed the transient failure", () => {
        // As the runner runs it: `sh <dir>/script.sh > <dir>/out.log`. The command fails with
        // tripleoclient's "Heat API never came up" text twice, then once for another reason.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "job-retry-"));
        const count = path.join(dir, "count");
        const cmd = (fails: string) => [
            "sh",
            "-c",
            'n=$(cat "$1" 2>/dev/null || echo 0); echo $((n+1)) > "$1"; eval "$2"',
            "sh",
            count,
            fails,
        ];
        const runScript = (fails: string, attempts: number) => {
            fs.rmSync(count, { force: true });
            const script = path.join(dir, "script.sh");
            fs.writeFileSync(
                script,
                renderJobScript([{ argv: cmd(fails), retry: { attempts, when: "raised ConnectionRefusedError>]" } }]),
            );
            fs.rmSync(path.join(dir, "script.progress"), { recursive: true, force: true });
            const r = spawnSync("sh", ["-c", 'sh "$1/script.sh" > "$1/out.log" 2>&1', "sh", dir]);
            return { code: r.status, runs: Number(fs.readFileSync(count, "utf8")) };
        };
        const heatDown =
            'echo "tenacity.RetryError: RetryError[<Future at 0x1 state=finished raised ConnectionRefusedError>]"; exit 1';
        // Fails twice with the Heat text, then succeeds.
        assert.deepEqual(runScript(`if [ "$(cat ${count})" -lt 3 ]; then ${heatDown}; fi`, 3), { code: 0, runs: 3 });
        // Always the Heat text: stops after `attempts` runs with the command's exit code.
        assert.deepEqual(runScript(heatDown, 3), { code: 1, runs: 3 });
        // Another failure (its earlier runs' text is in out.log, not in this run's): no retry.
        assert.deepEqual(
            runScript(`if [ "$(cat ${count})" -lt 2 ]; then ${heatDown}; else echo "stack failed"; exit 4; fi`, 3),
            { code: 4, runs: 2 },
        );
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("runs a detached job, streams its lines and archives it", async () => {
        const lines: string[] = [];
        const r = await runJob(target, {
            stack: "s1",
            step: "demo",
            pollMs: 50,
            onLine: (l) => lines.push(l),
            commands: [{ argv: ["sh", "-c", "echo one; sleep 0.3; echo two"] }, { argv: ["echo", "three"] }],
        });
        assert.equal(r.code, 0);
        assert.equal(r.attached, false);
        for (const l of ["one", "two", "three"]) {
            assert.ok(lines.includes(l), `missing ${l} in ${JSON.stringify(lines)}`);
        }
        assert.ok(!fs.existsSync(path.join(srv.home, ".dcn-jobs", r.jobId)), "job dir archived");
        assert.ok(fs.readdirSync(path.join(srv.home, ".dcn-jobs", "done")).some((d) => d.startsWith(r.jobId)));
    });

    it("writes the job's files in the exec that starts it and collects its outputs in the one that sees its end", async () => {
        const r = await runJob(target, {
            stack: "s1",
            step: "files",
            pollMs: 50,
            files: [
                { path: "~/in/a.yaml", content: "a: 1\nname: 'ü x'\n" },
                { path: `${srv.home}/in/empty.txt`, content: "" },
            ],
            commands: [
                { argv: ["sh", "-c", 'mkdir -p "$HOME/out" && cat "$HOME/in/a.yaml" > "$HOME/out/b.yaml"; echo done'] },
            ],
            collect: ["~/out/b.yaml", "~/out/none.yaml"],
        });
        assert.equal(r.code, 0);
        assert.equal(fs.readFileSync(path.join(srv.home, "in", "a.yaml"), "utf8"), "a: 1\nname: 'ü x'\n");
        assert.equal(fs.statSync(path.join(srv.home, "in", "a.yaml")).mode & 0o777, 0o600);
        assert.equal(fs.readFileSync(path.join(srv.home, "in", "empty.txt"), "utf8"), "");
        assert.deepEqual(r.files, { "~/out/b.yaml": "a: 1\nname: 'ü x'\n", "~/out/none.yaml": undefined });
        assert.ok(r.output.includes("done"));
        assert.ok(!fs.existsSync(path.join(srv.home, ".dcn-jobs", r.jobId)), "job dir archived by the final probe");
        assert.ok(!fs.existsSync(path.join(srv.home, ".dcn-jobs", `${r.jobId}.progress`)), "progress dropped");
    });

    it("skipIfPresent: the job is not started when its outputs exist, and they are answered", async () => {
        fs.mkdirSync(path.join(srv.home, "skip"), { recursive: true });
        fs.writeFileSync(path.join(srv.home, "skip", "a"), "A\n");
        const spec = {
            stack: "s1",
            step: "skip",
            pollMs: 50,
            files: [{ path: "~/skip/written", content: "w" }],
            commands: [{ argv: ["sh", "-c", 'echo ran > "$HOME/skip/ran"; echo B > "$HOME/skip/b"'] }],
            collect: ["~/skip/b"],
        };
        // One of the two is missing: the job runs (and writes its input file first).
        const ran = await runJob(target, { ...spec, skipIfPresent: ["~/skip/a", "~/skip/b"] });
        assert.equal(ran.skipped, undefined);
        assert.deepEqual(ran.files, { "~/skip/b": "B\n" });
        assert.ok(fs.existsSync(path.join(srv.home, "skip", "ran")));
        assert.equal(fs.readFileSync(path.join(srv.home, "skip", "written"), "utf8"), "w");
        fs.rmSync(path.join(srv.home, "skip", "ran"));
        fs.rmSync(path.join(srv.home, "skip", "written"));
        // Both exist: not started, nothing written, both answered.
        const skipped = await runJob(target, { ...spec, skipIfPresent: ["~/skip/a", "~/skip/b"] });
        assert.equal(skipped.skipped, true);
        assert.deepEqual(skipped.files, { "~/skip/a": "A\n", "~/skip/b": "B\n" });
        assert.ok(!fs.existsSync(path.join(srv.home, "skip", "ran")));
        assert.ok(!fs.existsSync(path.join(srv.home, "skip", "written")));
    });

    it("concurrent jobs share the batched probe: every one sees its own end and output", async () => {
        const lines: Record<string, string[]> = {};
        const runs = ["0.2", "0.6", "1.0", "0.4"].map((secs, i) =>
            runJob(target, {
                stack: `batch${i}`,
                step: "wait",
                pollMs: 100,
                onLine: (l) => (lines[i] ??= []).push(l),
                commands: [{ argv: ["sh", "-c", `echo start ${i}; sleep ${secs}; echo end ${i}`] }],
                collect: ["~/nothing-here"],
            }),
        );
        const results = await Promise.all(runs);
        results.forEach((r, i) => {
            assert.equal(r.code, 0);
            assert.ok(r.output.includes(`start ${i}\n`) && r.output.includes(`end ${i}\n`), r.output);
            assert.ok(lines[i].includes(`end ${i}`));
            assert.deepEqual(r.files, { "~/nothing-here": undefined });
        });
    });

    it("a second runner re-attaches to the running job instead of starting another", async () => {
        const marker = path.join(srv.home, "runs.txt");
        // The job runs until the second runner has found it, not for a fixed time: under load (CI
        // runs two lanes side by side) the second runner's connection alone may outlast any sleep,
        // and a job that ended and was collected is rightly started afresh.
        const release = path.join(srv.home, "release-long");
        const spec = {
            stack: "s2",
            step: "long",
            pollMs: 50,
            commands: [
                {
                    argv: [
                        "sh",
                        "-c",
                        'echo run >> "$HOME/runs.txt"; while [ ! -f "$HOME/release-long" ]; do sleep 0.05; done; echo done',
                    ],
                },
            ],
        };
        const first = runJob(target, spec);
        const pid = path.join(srv.home, ".dcn-jobs", jobId("s2", "long", renderJobScript(spec.commands)), "pid");
        while (!fs.existsSync(pid)) {
            await new Promise((r) => setTimeout(r, 20));
        }
        const second = await runJob(target, { ...spec, onStarted: () => fs.writeFileSync(release, "") });
        const firstResult = await first.catch((e: Error) => e);
        assert.equal(second.attached, true);
        assert.equal(fs.readFileSync(marker, "utf8"), "run\n", "the command ran exactly once");
        assert.ok(!(firstResult instanceof Error) || /job/.test(firstResult.message));
    });

    it("a runner attached to a job that another runner collected takes its end, and does not run it again", async () => {
        // The job another runner (another `pulumi`) started, as its START writes it (owner line
        // after the shebang); the test plays that runner.
        const commands = [
            {
                argv: [
                    "sh",
                    "-c",
                    'echo run >> "$HOME/shared.txt"; while [ ! -f "$HOME/release-shared" ]; do sleep 0.05; done; echo shared-done',
                ],
            },
        ];
        const script = renderJobScript(commands);
        const id = jobId("s5", "shared", script);
        const dir = path.join(srv.home, ".dcn-jobs", id);
        const owner = "0123456789abcdef";
        const start = await run(
            target,
            [
                "sh",
                "-c",
                'mkdir -p "$1" && cat > "$1/script.sh" && { (sh "$1/script.sh" > "$1/out.log" 2>&1; echo $? > "$1/rc") < /dev/null > /dev/null 2>&1 & }',
                "sh",
                dir,
            ],
            script.replace("\n", `\n# owner: ${owner}\n`),
        );
        assert.equal(start.code, 0, start.stderr);
        // Once this runner has attached, the job ends and the other runner collects it (its status
        // probe archives the job under the name of the run that started it) before this one probes.
        const r = await runJob(target, {
            stack: "s5",
            step: "shared",
            pollMs: 50,
            commands,
            onStarted: () => {
                if (fs.existsSync(path.join(srv.home, "release-shared"))) {
                    return; // a restart (the bug this guards against): the assertions below tell
                }
                fs.writeFileSync(path.join(srv.home, "release-shared"), "");
                while (!fs.existsSync(path.join(dir, "rc"))) {
                    spawnSync("sleep", ["0.05"]);
                }
                fs.mkdirSync(path.join(srv.home, ".dcn-jobs", "done"), { recursive: true });
                fs.renameSync(dir, path.join(srv.home, ".dcn-jobs", "done", `${id}.ok-${owner}`));
            },
        });
        assert.equal(r.attached, true);
        assert.equal(r.code, 0);
        assert.ok(r.output.includes("shared-done"), r.output);
        assert.equal(fs.readFileSync(path.join(srv.home, "shared.txt"), "utf8"), "run\n", "the command ran once");
    });

    it("re-attaches after the SSH connection drops mid-job (the job keeps running)", async () => {
        const spec = {
            stack: "s3",
            step: "drop",
            pollMs: 50,
            commands: [
                {
                    argv: [
                        "sh",
                        "-c",
                        'echo x >> "$HOME/drop.txt"; while [ ! -f "$HOME/release-drop" ]; do sleep 0.05; done; echo finished',
                    ],
                },
            ],
        };
        const p = runJob(target, spec);
        // The drop comes while the job runs (not after a fixed time, which under load may be after its end).
        while (!fs.existsSync(path.join(srv.home, "drop.txt"))) {
            await new Promise((r) => setTimeout(r, 20));
        }
        srv.dropAll();
        fs.writeFileSync(path.join(srv.home, "release-drop"), "");
        const r = await p;
        assert.equal(r.code, 0);
        assert.ok(r.output.includes("finished"));
        assert.equal(fs.readFileSync(path.join(srv.home, "drop.txt"), "utf8"), "x\n");
    });

    it("collects a job that finished while nobody was watching", async () => {
        const commands = [{ argv: ["sh", "-c", 'echo y >> "$HOME/orphan.txt"; echo orphan-done'] }];
        const script = renderJobScript(commands);
        const id = jobId("s4", "orphan", script);
        // Start it by hand the way runJob does, then "crash" (never poll).
        const dir = path.join(srv.home, ".dcn-jobs", id);
        const start = await run(
            target,
            [
                "sh",
                "-c",
                'mkdir -p "$1" && cat > "$1/script.sh" && (sh "$1/script.sh" > "$1/out.log" 2>&1; echo $? > "$1/rc")',
                "sh",
                dir,
            ],
            script,
        );
        assert.equal(start.code, 0, start.stderr);
        const r = await runJob(target, { stack: "s4", step: "orphan", pollMs: 50, commands });
        assert.equal(r.attached, true);
        assert.ok(r.output.includes("orphan-done"));
        assert.equal(fs.readFileSync(path.join(srv.home, "orphan.txt"), "utf8"), "y\n", "not run twice");
    });

    it("fails with the remote message and starts afresh on the next attempt", async () => {
        const flag = path.join(srv.home, "fail-once");
        fs.writeFileSync(flag, "");
        const spec = {
            stack: "s5",
            step: "flaky",
            pollMs: 50,
            commands: [
                {
                    argv: [
                        "sh",
                        "-c",
                        'if [ -f "$HOME/fail-once" ]; then rm "$HOME/fail-once"; echo "ERROR: Network foo not found" >&2; exit 2; fi; echo ok',
                    ],
                },
            ],
        };
        await assert.rejects(runJob(target, spec), /exit 2[\s\S]*ERROR: Network foo not found/);
        const r = await runJob(target, spec);
        assert.equal(r.code, 0);
        assert.equal(r.attached, false);
    });

    it("streamed lines and the failure tail never carry a known secret, the private key or a cephx key", async () => {
        const known = "Kn0wn-Secret-Of-The-Step";
        const cephx = "AQCz8VJlAAAAABAA0nk5l0F3wH0rUqGzzGv3Kg==";
        const keyLine = target.privateKey.split("\n").find((l) => l.length >= 40 && !l.startsWith("-----"))!;
        assert.ok(keyLine, "a body line of the private key");
        const secrets = [known, cephx, keyLine];
        const lines: string[] = [];
        const err = await runJob(target, {
            stack: "s5",
            step: "leaky",
            pollMs: 50,
            secrets: [known],
            onLine: (l) => lines.push(l),
            commands: [
                {
                    argv: [
                        "sh",
                        "-c",
                        'echo "client key $1"; echo "  key: $2"; echo "$3" >&2; exit 4',
                        "sh",
                        known,
                        cephx,
                        keyLine,
                    ],
                },
            ],
        }).catch((e: Error) => e);
        assert.ok(err instanceof Error, "the job fails");
        assert.match(err.message, /exit 4/);
        const leaks = secrets.filter((s) => err.message.includes(s) || lines.some((l) => l.includes(s)));
        assert.equal(leaks.length, 0, `${leaks.length} secrets leaked`);
        assert.ok(lines.includes("client key [secret]"), JSON.stringify(lines));
        assert.ok(lines.includes("  key: [secret]"));
        assert.ok(lines.includes("[secret]"));
        assert.match(err.message, /client key \[secret\]\n {2}key: \[secret\]\n\[secret\]$/);
    });

    it("holds the lock around a command: two locked jobs never overlap", async () => {
        const lock = path.join(srv.home, ".dcn-jobs", "heat.lock");
        const cmd = (name: string) => ({
            argv: [
                "sh",
                "-c",
                `echo "start ${name} $(date +%s%N)" >> "$HOME/heat.txt"; sleep 0.4; echo "end ${name} $(date +%s%N)" >> "$HOME/heat.txt"`,
            ],
            lock,
        });
        await Promise.all([
            runJob(target, { stack: "a", step: "heat", pollMs: 50, commands: [cmd("a")] }),
            runJob(target, { stack: "b", step: "heat", pollMs: 50, commands: [cmd("b")] }),
        ]);
        const events = fs
            .readFileSync(path.join(srv.home, "heat.txt"), "utf8")
            .trim()
            .split("\n")
            .map((l) => l.split(" ")[0]);
        assert.deepEqual(events, ["start", "end", "start", "end"]);
    });

    it("a restarted job skips the commands that finished; a collected job runs whole again", async () => {
        const flag = path.join(srv.home, "fail-step-2");
        fs.writeFileSync(flag, "");
        const spec = {
            stack: "s7",
            step: "steps",
            pollMs: 50,
            commands: [
                { argv: ["sh", "-c", 'echo one >> "$HOME/steps.txt"'] },
                { argv: ["sh", "-c", 'if [ -f "$HOME/fail-step-2" ]; then exit 4; fi; echo two >> "$HOME/steps.txt"'] },
            ],
        };
        await assert.rejects(runJob(target, spec), /exit 4/);
        fs.rmSync(flag);
        const r = await runJob(target, spec);
        assert.match(r.output, /finished in an earlier attempt of this job: skipped/);
        assert.equal(fs.readFileSync(path.join(srv.home, "steps.txt"), "utf8"), "one\ntwo\n", "step one not redone");
        await runJob(target, spec);
        assert.equal(fs.readFileSync(path.join(srv.home, "steps.txt"), "utf8"), "one\ntwo\none\ntwo\n");
        assert.ok(!fs.existsSync(path.join(srv.home, ".dcn-jobs", `${r.jobId}.progress`)), "markers dropped");
    });

    it("times out on its own deadline: stops the job's processes; the next run skips what had finished", async () => {
        const hang = path.join(srv.home, "hang-once");
        fs.writeFileSync(hang, "");
        const spec = {
            stack: "s6",
            step: "slow",
            pollMs: 50,
            timeoutMs: 800,
            commands: [
                { argv: ["sh", "-c", 'echo first >> "$HOME/slow.txt"'] },
                {
                    argv: [
                        "sh",
                        "-c",
                        'echo $$ > "$HOME/slow.pid"; if [ -f "$HOME/hang-once" ]; then exec sleep 60; fi; echo second >> "$HOME/slow.txt"',
                    ],
                },
            ],
        };
        await assert.rejects(runJob(target, spec), /slow of stack s6 timed out after 1 s[\s\S]*stopped it/);
        const pid = Number(fs.readFileSync(path.join(srv.home, "slow.pid"), "utf8"));
        assert.ok(!alive(pid), "the hung command was stopped");
        fs.rmSync(hang);
        const r = await runJob(target, { ...spec, timeoutMs: 10000 });
        assert.equal(r.attached, false, "a stopped job is not re-attached to");
        assert.equal(fs.readFileSync(path.join(srv.home, "slow.txt"), "utf8"), "first\nsecond\n");
    });

    it("with an identity, a rerun planning fewer commands re-attaches to the running job; markers follow the command, not its index", async () => {
        const log = path.join(srv.home, "phases.txt");
        const heat = { argv: ["sh", "-c", 'echo heat >> "$HOME/phases.txt"'] };
        // config-download runs until the rerun has found the job (not for a fixed time: under load
        // the rerun's connection alone may take longer than any sleep).
        const release = path.join(srv.home, "release-config");
        const config = {
            argv: [
                "sh",
                "-c",
                'echo config >> "$HOME/phases.txt"; while [ ! -f "$HOME/release-config" ]; do sleep 0.05; done',
            ],
        };
        const full = { stack: "s9", step: "deploy", identity: "inputs-1", pollMs: 50, commands: [heat, config] };
        const first = runJob(target, full);
        while (!fs.existsSync(log) || !fs.readFileSync(log, "utf8").includes("config")) {
            await new Promise((r) => setTimeout(r, 20));
        }
        // The rerun sees the Heat phase done and plans config only: same inputs, same job.
        const second = await runJob(target, {
            ...full,
            commands: [config],
            onStarted: () => fs.writeFileSync(release, ""),
        });
        await first.catch(() => undefined);
        assert.equal(second.attached, true);
        assert.equal(fs.readFileSync(log, "utf8"), "heat\nconfig\n", "config-download ran once");

        // A failure after the first command; the restart plans [config] only: the marker of `heat`
        // (index 1) must not make it skip `config` (now at index 1).
        const flag = path.join(srv.home, "fail-config");
        fs.writeFileSync(flag, "");
        const failing = {
            argv: ["sh", "-c", 'if [ -f "$HOME/fail-config" ]; then exit 3; fi; echo config2 >> "$HOME/phases.txt"'],
        };
        const spec = { stack: "s9", step: "deploy", identity: "inputs-2", pollMs: 50, commands: [heat, failing] };
        await assert.rejects(runJob(target, spec), /exit 3/);
        fs.rmSync(flag);
        await runJob(target, { ...spec, commands: [failing] });
        assert.equal(fs.readFileSync(log, "utf8"), "heat\nconfig\nheat\nconfig2\n");
    });

    it("a START answered twice (first answer lost) is our own job, not an earlier run's", () => {
        assert.equal(attachedToEarlierRun("attached # owner: 0123abcd", "0123abcd"), false);
        assert.equal(attachedToEarlierRun("attached # owner: ffff0000", "0123abcd"), true);
        assert.equal(attachedToEarlierRun("attached # generated by dcn-storage", "0123abcd"), true, "older job dirs");
        assert.equal(attachedToEarlierRun("started", "0123abcd"), false);
        // The successful end is archived under the owner of the job, whoever runs the probe.
        assert.equal(jobOwner("started", "0123abcd"), "0123abcd");
        assert.equal(jobOwner("attached # owner: ffff0000", "0123abcd"), "ffff0000");
        assert.equal(jobOwner("attached # generated by dcn-storage", "0123abcd"), undefined);
    });

    it("time spent waiting for a lock does not count against the deadline", async () => {
        const lock = path.join(srv.home, ".dcn-jobs", "slow.lock");
        fs.mkdirSync(path.dirname(lock), { recursive: true });
        // Another holder keeps the lock for 1.5 s; the job itself needs ~0 s and has a 0.8 s deadline.
        const holder = run(target, ["flock", lock, "sleep", "1.5"]);
        await new Promise((r) => setTimeout(r, 300));
        const lines: string[] = [];
        const r = await runJob(target, {
            stack: "s8",
            step: "locked",
            pollMs: 50,
            timeoutMs: 800,
            onLine: (l) => lines.push(l),
            commands: [{ argv: ["echo", "got it"], lock }],
        });
        await holder;
        assert.equal(r.code, 0);
        assert.ok(lines.includes("got it"));
        let t = 0;
        const clock = lockWaitClock(() => t);
        clock.line(`${LOCK_WAIT}/x.lock`);
        t = 700;
        assert.equal(clock.waitedMs(), 700);
        clock.line(LOCK_HELD);
        t = 5000;
        assert.equal(clock.waitedMs(), 700);
    });

    it("status probe parsing and line splitting", () => {
        assert.deepEqual(parseStatus("rc=3\nlast line\n"), { state: { kind: "done", code: 3 }, chunk: "last line\n" });
        assert.deepEqual(parseStatus("running\n"), { state: { kind: "running" }, chunk: "" });
        assert.throws(() => parseStatus("garbage\n"), /unexpected job status/);
        assert.deepEqual(splitPollAnswer("\nT\nrunning\nout\n\nT\nrc=0\n", "T", 2), ["running\nout\n", "rc=0\n"]);
        assert.equal(splitPollAnswer("\nT\nrunning\n", "T", 2), undefined);
        assert.equal(splitPollAnswer("garbage\nT\nrunning\n", "T", 1), undefined);
        const b64 = Buffer.from("x: ü\n").toString("base64");
        assert.deepEqual(parseStatus(`rc=0\nfile 1 y ${b64}\nfile 2 n\nout\n`, 2), {
            state: { kind: "done", code: 0 },
            chunk: "out\n",
            files: ["x: ü\n", undefined],
        });
        // A failed job collects nothing: what follows is output.
        assert.deepEqual(parseStatus("rc=1\nfile 1 n\n", 1), { state: { kind: "done", code: 1 }, chunk: "file 1 n\n" });
        assert.throws(() => parseStatus("rc=0\nout\n", 1), /unexpected collected file line/);
        const sp = lineSplitter();
        assert.deepEqual(sp.push("a\nb"), ["a"]);
        assert.deepEqual(sp.push("c\nd\n"), ["bc", "d"]);
        assert.deepEqual(sp.push("tail"), []);
        assert.deepEqual(sp.flush(), ["tail"]);
    });

    it("shJoin never lets an argument escape its word", () => {
        assert.equal(shJoin(["echo", "a b", "it's"]), "echo 'a b' 'it'\\''s'");
    });
});

// Issue 11: a stock undercloud has RSA, ECDSA and ed25519 host keys and `ssh-keyscan` writes RSA
// first. The pin is every key of the host (known_hosts lines, hashed or plain, minus @revoked ones;
// or several hostKey lines); only the pinned key types are negotiated.
describe("host key pinning against a server with several host keys", () => {
    let multi: TestServer;
    let dir: string;
    let keyFile: string;
    const ed = goodKeyPair();
    const rsa = hostKeyPair("rsa");
    const otherEd = goodKeyPair();
    const otherRsa = hostKeyPair("rsa");
    let name: string;

    before(async () => {
        multi = await startServer({ hostKeys: [ed, rsa] });
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-pin-"));
        keyFile = path.join(dir, "id");
        fs.writeFileSync(keyFile, multi.clientPrivateKey);
        name = `[127.0.0.1]:${multi.port}`;
    });
    after(async () => {
        closeAll();
        await multi.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });
    // A pooled connection verified earlier must not stand in for the handshake under test.
    beforeEach(() => closeAll());

    /** The transport target the program builds from a known_hosts file (components/connection.ts). */
    const fromKnownHosts = (text: string): SshTarget => {
        const kh = path.join(dir, `known_hosts-${Math.random().toString(36).slice(2)}`);
        fs.writeFileSync(kh, text);
        const r = resolveUndercloud(
            parseUndercloud({ host: "127.0.0.1", port: multi.port, user: "stack", knownHostsFile: kh }),
            dir,
            true,
        );
        return { ...r.connection, privateKey: multi.clientPrivateKey };
    };
    const fp = (line: string) => fingerprint(parsePublicKeyLine(line).blob);

    it("connects when known_hosts lists the RSA key first, as ssh-keyscan writes it", async () => {
        const t = fromKnownHosts(`${name} ${keyLine(rsa.public)}\n${name} ${keyLine(ed.public)}\n`);
        assert.equal((await exec(t, "echo ok")).stdout, "ok\n");
    });

    it("negotiates the pinned type: an RSA-only pin connects to a server that prefers ed25519", async () => {
        const t = fromKnownHosts(`${name} ${keyLine(rsa.public)}\n`);
        assert.equal((await exec(t, "echo ok")).stdout, "ok\n");
    });

    it("connects with a hashed known_hosts entry (ssh-keygen -H)", async () => {
        const kh = path.join(dir, "hashed");
        fs.writeFileSync(kh, `other.example ${keyLine(otherEd.public)}\n${name} ${keyLine(ed.public)}\n`);
        execFileSync("ssh-keygen", ["-q", "-H", "-f", kh], { stdio: "ignore" });
        const hashed = fs.readFileSync(kh, "utf8");
        assert.match(hashed, /^\|1\|/m);
        assert.ok(!hashed.includes("127.0.0.1"), "ssh-keygen -H left a plain name");
        const t = fromKnownHosts(hashed);
        assert.equal((await exec(t, "echo ok")).stdout, "ok\n");
    });

    it("refuses a key listed @revoked even if it is also pinned, saying it is revoked", async () => {
        const t = { ...fromKnownHosts(`${name} ${keyLine(rsa.public)}\n`), user: "revoked" };
        const pinned = `${keyLine(ed.public)}\n@revoked ${keyLine(ed.public)}`;
        await assert.rejects(exec({ ...t, hostKey: pinned }, "true"), (e: Error) => {
            assert.match(e.message, /revoked/, e.message);
            assert.ok(e.message.includes(`127.0.0.1:${multi.port}`), e.message);
            assert.ok(e.message.includes(fp(ed.public)), e.message);
            return true;
        });
    });

    it("refuses the presented key when known_hosts marks it @revoked", async () => {
        const t = fromKnownHosts(`${name} ${keyLine(otherEd.public)}\n@revoked * ${keyLine(ed.public)}\n`);
        await assert.rejects(exec(t, "true"), /revoked/);
    });

    it("refuses keys of another server, naming host:port, the presented and every pinned fingerprint", async () => {
        const t = fromKnownHosts(`${name} ${keyLine(otherRsa.public)}\n${name} ${keyLine(otherEd.public)}\n`);
        await assert.rejects(exec(t, "true"), (e: Error) => {
            assert.match(e.message, new RegExp(`host key verification failed for 127\\.0\\.0\\.1:${multi.port}`));
            assert.ok(e.message.includes(fp(ed.public)), e.message);
            assert.ok(e.message.includes(fp(otherEd.public)), e.message);
            assert.ok(e.message.includes(fp(otherRsa.public)), e.message);
            return true;
        });
    });

    it("refuses a server that has no key of a pinned type", async () => {
        const t = { host: "127.0.0.1", port: srv.port, user: "x", privateKey: srv.clientPrivateKey };
        await assert.rejects(exec({ ...t, hostKey: keyLine(rsa.public) }, "true"), /no host key of a pinned type/);
    });

    it("never reuses a connection verified against another pin", async () => {
        const good = fromKnownHosts(`${name} ${keyLine(ed.public)}\n`);
        assert.equal((await exec(good, "echo ok")).stdout, "ok\n");
        await assert.rejects(exec({ ...good, hostKey: keyLine(otherEd.public) }, "true"), /verification failed/);
    });

    it("tools/validate uses the same pinning: a key known for another host is refused", async () => {
        const conn = { host: "127.0.0.1", port: multi.port, user: "stack", privateKeyPath: keyFile };
        const lax = path.join(dir, "other-host");
        // The server's real key is known, but for another host; this host's line is another key.
        fs.writeFileSync(lax, `other.example ${keyLine(ed.public)}\n${name} ${keyLine(otherEd.public)}\n`);
        await assert.rejects(connectUndercloud({ ...conn, knownHostsPath: lax }), /verification failed/);
        fs.writeFileSync(lax, `other.example ${keyLine(ed.public)}\nother.example ${keyLine(rsa.public)}\n`);
        await assert.rejects(connectUndercloud({ ...conn, knownHostsPath: lax }), /has no key for/);
        // ... and the host's own lines, RSA first, connect.
        fs.writeFileSync(lax, `${name} ${keyLine(rsa.public)}\n${name} ${keyLine(ed.public)}\n`);
        const uc = await connectUndercloud({ ...conn, knownHostsPath: lax });
        try {
            assert.equal((await uc.exec("echo ok")).stdout, "ok\n");
        } finally {
            uc.close();
        }
    });
});
