// Issue 12 item 6: what a delete leaves on the undercloud. Progress markers keyed so that an old
// attempt's never makes a later job skip a command, pruneJobs (the jobs of a resource, then
// ~/.dcn-jobs once nothing of any job is left), and the pure helpers of OvercloudStack's delete.
// The remote parts run against the in-process ssh2 server (a real `sh -c` behind it).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { closeAll, SshTarget } from "../../providers/remote/ssh";
import { JOB_HASH_GLOB, jobId, jobIdPrefix, pruneJobs, runJob, JobSpec } from "../../providers/remote/jobs";
import { stackWorkFiles, withoutCloud } from "../../providers/overcloudStack";
import { STACK_STEPS } from "../../providers/baremetalNodes";
import { CEPH_ADMIN_KEY_SCRIPT } from "../../providers/common";
import { TestServer, startServer, targetOf } from "./support/sshServer";

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

const jobsDir = () => path.join(srv.home, ".dcn-jobs");
const globRe = (prefix: string) => new RegExp(`^${prefix.replace(/[-_]/g, "\\$&")}[0-9a-f]{16}$`);

describe("job ids", () => {
    it("every job id of (stack, step) is its prefix and 16 hex digits, which match no other (stack, step)", () => {
        assert.equal(JOB_HASH_GLOB, "[0-9a-f]".repeat(16));
        const ids = [
            ["dcn0", "deploy"],
            ["dcn0-deploy", "delete"],
            ["dcn0", "deploy-heat"],
            ["dcn0,dcn1", "export-ceph"],
            ["dcn0", "export-ceph"],
        ].map(([stack, step]) => ({ stack, step, id: jobId(stack, step, "identity:x") }));
        for (const a of ids) {
            assert.ok(a.id.startsWith(jobIdPrefix(a.stack, a.step)));
            for (const b of ids) {
                assert.equal(
                    globRe(jobIdPrefix(a.stack, a.step)).test(b.id),
                    a === b,
                    `${a.stack}/${a.step} vs ${b.id}`,
                );
            }
        }
    });
});

describe("progress markers", () => {
    // c1 counts its runs; c2 fails while the flag file exists.
    const spec = (identity: string): JobSpec => ({
        stack: "pm",
        step: "metal",
        identity,
        pollMs: 50,
        commands: [
            { argv: ["sh", "-c", 'echo run >> "$HOME/pm-c1"'] },
            { argv: ["sh", "-c", 'if [ -f "$HOME/pm-fail" ]; then echo "injected" >&2; exit 3; fi'] },
        ],
    });
    const runs = () => fs.readFileSync(path.join(srv.home, "pm-c1"), "utf8").split("\n").filter(Boolean).length;

    it("a restart of the same inputs skips what finished", async () => {
        fs.writeFileSync(path.join(srv.home, "pm-fail"), "");
        fs.rmSync(path.join(srv.home, "pm-c1"), { force: true });
        await assert.rejects(runJob(target, spec("same")), /injected/);
        fs.rmSync(path.join(srv.home, "pm-fail"));
        await runJob(target, spec("same"));
        assert.equal(runs(), 1, "c1 ran once");
    });

    it("a stale marker of an old attempt does not make a later job skip: another job of the stack's step ran in between", async () => {
        fs.writeFileSync(path.join(srv.home, "pm-fail"), "");
        fs.rmSync(path.join(srv.home, "pm-c1"), { force: true });
        await assert.rejects(runJob(target, spec("a")), /injected/);
        assert.ok(fs.existsSync(path.join(jobsDir(), `${jobId("pm", "metal", "identity:a")}.progress`)));
        fs.rmSync(path.join(srv.home, "pm-fail"));
        // Other inputs: its c1 may undo what a's did (e.g. a scale-in between two scale-outs).
        await runJob(target, spec("b"));
        assert.equal(runs(), 2);
        assert.ok(
            !fs.existsSync(path.join(jobsDir(), `${jobId("pm", "metal", "identity:a")}.progress`)),
            "a's markers went when b started",
        );
        await runJob(target, spec("a"));
        assert.equal(runs(), 3, "a's c1 ran again");
    });

    it("the markers of another stack, or of another step, stay", async () => {
        fs.writeFileSync(path.join(srv.home, "pm-fail"), "");
        await assert.rejects(runJob(target, { ...spec("c"), stack: "pm-metal" }), /injected/);
        await assert.rejects(runJob(target, { ...spec("c"), step: "ceph" }), /injected/);
        fs.rmSync(path.join(srv.home, "pm-fail"));
        await runJob(target, spec("d"));
        for (const [stack, step] of [
            ["pm-metal", "metal"],
            ["pm", "ceph"],
        ]) {
            assert.ok(
                fs.existsSync(path.join(jobsDir(), `${jobId(stack, step, "identity:c")}.progress`)),
                stack + step,
            );
        }
    });
});

describe("pruneJobs", () => {
    it("removes the jobs of the given (stack, step)s, archives and markers included, and nothing else", async () => {
        fs.rmSync(jobsDir(), { recursive: true, force: true });
        const fail = path.join(srv.home, "pr-fail");
        fs.writeFileSync(fail, "");
        const job = (stack: string, step: string, identity: string): JobSpec => ({
            stack,
            step,
            identity,
            pollMs: 50,
            commands: [
                { argv: ["true"] },
                { argv: ["sh", "-c", 'if [ -f "$HOME/pr-fail" ]; then echo "injected" >&2; exit 3; fi'] },
            ],
        });
        await assert.rejects(runJob(target, job("pr", "deploy", "1")), /injected/);
        await assert.rejects(runJob(target, job("pr-deploy", "delete", "1")), /injected/);
        await assert.rejects(runJob(target, job("pr", "ceph", "1")), /injected/);
        fs.rmSync(fail);
        await runJob(target, job("pr", "deploy", "2"));
        await runJob(target, job("pr", "delete", "1"));
        await pruneJobs(target, [
            { stack: "pr", step: "deploy" },
            { stack: "pr", step: "delete" },
        ]);
        const left = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
        const top = left(jobsDir());
        const done = left(path.join(jobsDir(), "done"));
        assert.deepEqual(
            [...top, ...done].filter((n) => /^pr-(deploy|delete)-[0-9a-f]{16}(\.|$)/.test(n)),
            [],
            `pruned: ${[...top, ...done].join(" ")}`,
        );
        assert.ok(top.includes(`${jobId("pr-deploy", "delete", "identity:1")}.progress`), top.join(" "));
        assert.ok(top.includes(`${jobId("pr", "ceph", "identity:1")}.progress`), top.join(" "));
        assert.ok(
            done.some((n) => n.startsWith(`${jobId("pr", "ceph", "identity:1")}.failed-`)),
            done.join(" "),
        );
    });

    it("leaves a running job alone", async () => {
        fs.rmSync(jobsDir(), { recursive: true, force: true });
        const p = runJob(target, {
            stack: "rn",
            step: "deploy",
            identity: "1",
            pollMs: 50,
            commands: [{ argv: ["sh", "-c", 'while [ ! -f "$HOME/rn-go" ]; do sleep 0.05; done'] }],
        });
        const dir = path.join(jobsDir(), jobId("rn", "deploy", "identity:1"));
        while (!fs.existsSync(path.join(dir, "pid"))) {
            await new Promise((r) => setTimeout(r, 20));
        }
        await pruneJobs(target, [{ stack: "rn", step: "deploy" }]);
        assert.ok(fs.existsSync(dir), "the running job's dir stays");
        fs.writeFileSync(path.join(srv.home, "rn-go"), "");
        await p;
        await pruneJobs(target, [{ stack: "rn", step: "deploy" }]);
        assert.ok(!fs.existsSync(jobsDir()), "then everything goes");
    });

    it("once no job is left: the locks, the files the program listed as its own and ~/.dcn-jobs go, nothing else", async () => {
        fs.rmSync(jobsDir(), { recursive: true, force: true });
        await runJob(target, {
            stack: "ow",
            step: "ceph",
            identity: "1",
            pollMs: 50,
            commands: [
                { argv: ["flock", path.join(jobsDir(), "heat.lock"), "true"] },
                { argv: ["sh", "-c", CEPH_ADMIN_KEY_SCRIPT] },
            ],
        });
        const key = path.join(srv.home, ".ssh", "ceph-admin-id_rsa");
        const mine = path.join(srv.home, ".ssh", "id_rsa_mine");
        fs.writeFileSync(mine, "not the program's");
        assert.ok(fs.existsSync(key) && fs.existsSync(`${key}.pub`), "the program made the key");
        // A listed path outside $HOME is never removed.
        const outside = path.join(path.dirname(srv.home), `outside-${process.pid}`);
        fs.writeFileSync(outside, "");
        fs.appendFileSync(path.join(jobsDir(), "owned"), `${outside}\n`);
        await pruneJobs(target, [{ stack: "other", step: "ceph" }]);
        assert.ok(fs.existsSync(jobsDir()), "a job of ow is left: nothing else goes");
        assert.ok(fs.existsSync(key));
        await pruneJobs(target, [{ stack: "ow", step: "ceph" }]);
        assert.ok(!fs.existsSync(jobsDir()));
        assert.ok(!fs.existsSync(key) && !fs.existsSync(`${key}.pub`), "the program's key went");
        assert.ok(fs.existsSync(mine), "a key of the user's stays");
        assert.ok(fs.existsSync(outside));
        fs.rmSync(outside);
        // Idempotent: nothing there.
        await pruneJobs(target, [{ stack: "ow", step: "ceph" }]);
    });

    it("a ceph-admin key that was there before is not listed (it stays)", async () => {
        fs.rmSync(jobsDir(), { recursive: true, force: true });
        const key = path.join(srv.home, ".ssh", "ceph-admin-id_rsa");
        fs.mkdirSync(path.dirname(key), { recursive: true });
        fs.writeFileSync(key, "the operator's");
        fs.writeFileSync(`${key}.pub`, "the operator's");
        await runJob(target, {
            stack: "ow2",
            step: "ceph",
            pollMs: 50,
            commands: [{ argv: ["sh", "-c", CEPH_ADMIN_KEY_SCRIPT] }],
        });
        await pruneJobs(target, [{ stack: "ow2", step: "ceph" }]);
        assert.ok(!fs.existsSync(jobsDir()));
        assert.equal(fs.readFileSync(key, "utf8"), "the operator's");
        fs.rmSync(key);
        fs.rmSync(`${key}.pub`);
    });
});

describe("OvercloudStack delete helpers", () => {
    it("stackWorkFiles: the generated files of the work dir", () => {
        assert.deepEqual(stackWorkFiles("/h/dcn/dcn0", "dcn0"), [
            "/h/dcn/dcn0/.deploy-heat.done",
            "/h/dcn/dcn0/.deploy-config.done",
            "/h/dcn/dcn0/overrides-dcn0.yaml",
            "/h/dcn/dcn0/.deploy-status",
            "/h/dcn/dcn0/.deploy-status.tmp",
        ]);
    });

    it("STACK_STEPS names every step a site's jobs run", () => {
        assert.deepEqual([...STACK_STEPS].sort(), ["ceph", "delete", "deploy", "export-ceph", "metal", "unprovision"]);
    });

    it("withoutCloud drops the stack's cloud, keeps the others and comments; null when nothing is left", () => {
        const two =
            "# written by tripleoclient\nclouds:\n  undercloud:\n    auth:\n      auth_url: http://u\n  dcn0:\n    auth:\n      auth_url: http://c\n";
        const one = withoutCloud(two, "dcn0");
        assert.equal(typeof one, "string");
        assert.match(one!, /# written by tripleoclient/);
        assert.match(one!, /undercloud:/);
        assert.doesNotMatch(one!, /dcn0/);
        assert.equal(withoutCloud(two, "dcn1"), undefined, "no such cloud: unchanged");
        assert.equal(withoutCloud("clouds:\n  dcn0:\n    region_name: r\n", "dcn0"), null);
        assert.equal(
            typeof withoutCloud("clouds:\n  dcn0: {}\ncache:\n  expiration_time: 1\n", "dcn0"),
            "string",
            "other top-level keys keep the file",
        );
        assert.equal(withoutCloud("clouds: [unterminated", "dcn0"), undefined, "unparsable: left alone");
    });
});
