// Secrets on disk (issue 11): what the program writes on the undercloud is private. The job runner
// and writeFile against a private lab (real OpenSSH, the login shell's own umask), modes read from
// the lab's home: the jobs dir 0700, a job's dir 0700 and its files 0600, the files its commands
// create 0600; files of an older, world-readable run become private when rewritten, collected or
// re-attached to.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { closeAll, SshTarget } from "../../providers/remote/ssh";
import { jobId, run, runJob, writeFile } from "../../providers/remote/jobs";
import { PrivateLab, startPrivateLab } from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-modes-"));
let lab: PrivateLab;
let target: SshTarget;
let home: string;

const mode = (p: string) => (fs.statSync(p).mode & 0o777).toString(8).padStart(4, "0");
/** Every directory and file under `dir` (and `dir` itself) whose mode is not private. */
function notPrivate(dir: string): string[] {
    const bad: string[] = [];
    const walk = (p: string) => {
        const st = fs.lstatSync(p);
        if (st.isSymbolicLink()) {
            return;
        }
        if ((st.mode & 0o077) !== 0) {
            bad.push(`${path.relative(home, p)} ${mode(p)}`);
        }
        if (st.isDirectory()) {
            fs.readdirSync(p).forEach((e) => walk(path.join(p, e)));
        }
    };
    walk(dir);
    return bad;
}
/** A file as an older run left it: world-readable. */
function oldFile(p: string, content = "old\n"): void {
    fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
    fs.writeFileSync(p, content);
    fs.chmodSync(p, 0o644);
}

describe("secrets on disk: modes of what the program writes on the undercloud", { timeout: 300_000 }, () => {
    before(async () => {
        lab = await startPrivateLab(path.join(root, "lab"));
        const c = lab.connection();
        home = c.home;
        target = {
            host: c.host,
            port: c.port,
            user: c.user,
            hostKey: c.hostKey,
            privateKey: fs.readFileSync(c.privateKeyPath, "utf8"),
        };
    });

    after(() => {
        closeAll();
        lab?.stop();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("the lab's login shell has a permissive umask (so the modes below are the program's doing)", async () => {
        const r = await run(target, ["sh", "-c", "umask"]);
        assert.equal(r.stdout.trim(), "0022");
    });

    it("a job: its dir, script, output, pid, rc and the files its commands create are private", async () => {
        // An older run left the jobs dir and a step's output world-readable.
        fs.mkdirSync(path.join(home, ".dcn-jobs"), { recursive: true, mode: 0o755 });
        fs.chmodSync(path.join(home, ".dcn-jobs"), 0o755);
        oldFile(path.join(home, "out", "old-export.yaml"));
        oldFile(path.join(home, "dcn", "job-input.yaml"));
        oldFile(path.join(home, "dcn", "job-input.yaml.tmp"), "leftover of an interrupted write\n");
        let seenRunning: string[] | undefined;
        const r = await runJob(target, {
            stack: "modes",
            step: "export",
            pollMs: 100,
            files: [{ path: "~/dcn/job-input.yaml", content: "AdminPassword: x\n" }],
            commands: [
                {
                    argv: [
                        "sh",
                        "-c",
                        'mkdir -p "$HOME/out/new" && echo "key: k" > "$HOME/out/new/export.yaml" && ' +
                            'echo again >> "$HOME/out/old-export.yaml" && sleep 2',
                    ],
                },
            ],
            collect: ["~/out/new/export.yaml", "~/out/old-export.yaml"],
            onLine: (l) => {
                // While the command runs: the live job dir (script.sh, out.log, pid) and its markers.
                if (l.startsWith("+ ") && !seenRunning) {
                    seenRunning = notPrivate(path.join(home, ".dcn-jobs"));
                }
            },
        });
        assert.equal(r.code, 0);
        const jobs = path.join(home, ".dcn-jobs");
        assert.equal(mode(jobs), "0700", "the jobs dir");
        const archived = fs.readdirSync(path.join(jobs, "done")).find((d) => d.startsWith(`${r.jobId}.ok-`))!;
        const dir = path.join(jobs, "done", archived);
        assert.equal(mode(dir), "0700", "the job dir");
        for (const f of ["script.sh", "out.log", "pid", "rc"]) {
            assert.equal(mode(path.join(dir, f)), "0600", f);
        }
        assert.deepEqual(notPrivate(jobs), [], "everything under ~/.dcn-jobs");
        assert.deepEqual(seenRunning, [], "everything under ~/.dcn-jobs while the job runs");
        assert.equal(mode(path.join(home, "out", "new")), "0700", "a dir a command creates");
        assert.equal(mode(path.join(home, "out", "new", "export.yaml")), "0600", "a file a command creates");
        assert.equal(mode(path.join(home, "out", "old-export.yaml")), "0600", "an older run's output, collected");
        assert.equal(mode(path.join(home, "dcn", "job-input.yaml")), "0600", "an input file over an older one");
        assert.equal(fs.readFileSync(path.join(home, "dcn", "job-input.yaml"), "utf8"), "AdminPassword: x\n");
    });

    it("a job of an older run, re-attached to, is made private", async () => {
        const identity = "older-run";
        const id = jobId("modes", "older", `identity:${identity}`);
        const dir = path.join(home, ".dcn-jobs", id);
        fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
        fs.chmodSync(dir, 0o755);
        oldFile(path.join(dir, "script.sh"), "#!/bin/sh\n# owner: someone-else\necho old\n");
        oldFile(path.join(dir, "out.log"), "old output\n");
        oldFile(path.join(dir, "pid"), "1\n");
        oldFile(path.join(dir, "rc"), "0\n");
        fs.mkdirSync(`${dir}.progress`, { mode: 0o755 });
        fs.chmodSync(`${dir}.progress`, 0o755);
        const r = await runJob(target, {
            stack: "modes",
            step: "older",
            identity,
            pollMs: 100,
            commands: [{ argv: ["echo", "new"] }],
        });
        assert.equal(r.attached, true);
        assert.ok(r.output.includes("old output"));
        assert.deepEqual(notPrivate(path.join(home, ".dcn-jobs")), []);
    });

    it("writeFile (env files, overrides) replaces an older world-readable file with a private one", async () => {
        const p = path.join(home, "dcn", "glance-dcn0.yaml");
        oldFile(p);
        oldFile(`${p}.tmp`, "leftover\n");
        await writeFile(target, "~/dcn/glance-dcn0.yaml", "parameter_defaults: {}\n");
        assert.equal(mode(p), "0600");
        assert.equal(fs.readFileSync(p, "utf8"), "parameter_defaults: {}\n");
        await writeFile(target, "~/fresh/dir/f.yaml", "x: 1\n");
        assert.equal(mode(path.join(home, "fresh")), "0700");
        assert.equal(mode(path.join(home, "fresh", "dir", "f.yaml")), "0600");
    });
});
