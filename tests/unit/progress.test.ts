// The step progress model (providers/remote/progress.ts): phases from the job's command lines, Ansible
// task counts, heartbeats, the summary; and the step report's local log file (providers/remote/report.ts).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatDuration, phaseOf, progressModel } from "../../providers/remote/progress";
import { stepLogPath, stepReport } from "../../providers/remote/report";
import { LOCK_HELD, LOCK_WAIT, renderJobScript, runJob } from "../../providers/remote/jobs";
import { closeAll, SshTarget } from "../../providers/remote/ssh";
import { TestServer, startServer, targetOf } from "./support/sshServer";
import { deployJobCommands } from "../../providers/overcloudStack";
import { shJoin } from "../../providers/remote/shell";
import { parseArgs, siteMatches, stepLogs } from "../../tools/logs";

const MIN = 60000;

/** The `+ ` lines a job script echoes for these commands (as renderJobScript writes them). */
function echoed(script: string): string[] {
    return script
        .split("\n")
        .filter((l) => l.startsWith("echo '+ "))
        .map((l) => l.slice("echo '".length, -1).replace(/'\\''/g, "'"));
}

describe("progress model: phases", () => {
    it("names the phase of each TripleO command, and none for housekeeping", () => {
        const cases: Array<[string[], string | undefined]> = [
            [["openstack", "overcloud", "network", "provision", "-o", "/x/net.yaml", "/x/nd.yaml"], "network"],
            [["openstack", "overcloud", "network", "vip", "provision", "--stack", "dcn0"], "VIP"],
            [["openstack", "overcloud", "node", "provision", "--stack", "dcn0"], "nodes"],
            [["openstack", "overcloud", "node", "unprovision", "--stack", "dcn0", "-y"], "unprovision"],
            [["openstack", "overcloud", "node", "delete", "--stack", "dcn0"], "scale-in"],
            [["openstack", "overcloud", "ceph", "deploy", "/x/metal.yaml"], "ceph"],
            [["openstack", "overcloud", "export", "ceph", "--stack", "dcn0,dcn1"], "export ceph"],
            [["openstack", "overcloud", "export", "-f", "--stack", "central"], "export"],
            [["openstack", "overcloud", "deploy", "--stack", "c", "--config-download-only"], "config-download"],
            [["openstack", "overcloud", "delete", "c", "--yes"], "delete"],
            [["openstack", "overcloud", "status", "--stack", "c"], undefined],
            [["rm", "-f", "--", "/x/metal.yaml"], undefined],
            [["mkdir", "-p", "--", "/x"], undefined],
            [["sh", "-c", ": marker", "sh", "/x/.heat-done", "abc"], undefined],
        ];
        for (const [argv, phase] of cases) {
            assert.equal(phaseOf(shJoin(argv)), phase, shJoin(argv));
        }
    });

    it("follows a deploy job through the Heat lock, Heat, config-download and export", () => {
        const commands = deployJobCommands(["openstack", "overcloud", "deploy", "--stack", "central"], {
            heatLock: "/home/stack/.dcn-jobs/heat.lock",
            heatMarker: "/w/.heat",
            configMarker: "/w/.config",
            deployHash: "h",
            skipHeat: false,
            skipConfig: false,
            exportArgv: ["openstack", "overcloud", "export", "-f", "--stack", "central", "--output-file", "/w/e.yaml"],
        });
        const plus = echoed(renderJobScript(commands));
        assert.equal(plus.length, commands.length);
        const m = progressModel({ site: "central", step: "deploy" }, 0);
        const printed: string[] = [];
        const feed = (l: string, t: number) => printed.push(...m.line(l, t));
        feed(plus[0], 0); // flock … openstack overcloud deploy --stack-only
        feed(LOCK_WAIT + "/home/stack/.dcn-jobs/heat.lock", 10);
        assert.equal(m.state().phase, "Heat waiting for the lock");
        assert.deepEqual(m.tick(2000), [], "a lock free within 3 s is not announced");
        printed.push(...m.tick(5000));
        feed(LOCK_HELD, 5 * MIN);
        feed(LOCK_WAIT + "/home/stack/.dcn-jobs/heat.lock", 6 * MIN); // a transient failure: queued again
        assert.equal(m.state().phase, "Heat waiting for the lock");
        feed(LOCK_HELD, 6 * MIN);
        assert.equal(m.state().phase, "Heat");
        feed(plus[1], 9 * MIN); // the Heat marker: housekeeping
        assert.equal(m.state().phase, "Heat");
        feed(plus[2], 9 * MIN); // --config-download-only
        assert.equal(m.state().phase, "config-download");
        feed(plus[3], 70 * MIN);
        feed(plus[4], 70 * MIN); // overcloud export
        assert.equal(m.state().phase, "export");
        printed.push(...m.end(71 * MIN));
        assert.deepEqual(printed, [
            "central deploy: Heat waiting for the lock",
            "central deploy: Heat: lock held after 5m00s",
            "central deploy: Heat (6m00s into the step)",
            "central deploy: config-download (9m00s into the step)",
            "central deploy: export (1h10m into the step)",
            "central deploy: done in 1h11m (Heat waiting for the lock 5m00s, Heat 4m00s, config-download 1h01m, export 1m00s)",
        ]);
    });

    it("says so when a command finished in an earlier attempt", () => {
        const m = progressModel({ site: "dcn0", step: "metal" }, 0);
        const out = [
            ...m.line("+ openstack overcloud network provision -o /x/n.yaml /x/nd.yaml", 0),
            ...m.line("  (finished in an earlier attempt of this job: skipped)", 100),
            ...m.line("+ openstack overcloud node provision --stack dcn0", 200),
            ...m.end(3000),
        ];
        assert.deepEqual(out, [
            "dcn0 metal: network (0s into the step)",
            "dcn0 metal: network: done in an earlier attempt, skipped",
            "dcn0 metal: nodes (0s into the step)",
            "dcn0 metal: done in 3s (network skipped, nodes 2s)",
        ]);
    });
});

describe("progress model: Ansible and heartbeats", () => {
    it("counts tasks and host results of both callback formats, and prints them only at the heartbeat", () => {
        const m = progressModel({ site: "dcn1", step: "deploy", heartbeatMs: MIN }, 0);
        const printed: string[] = [];
        const feed = (l: string, t: number) => printed.push(...m.line(l, t));
        feed("+ openstack overcloud deploy --stack dcn1 --config-download-only", 0);
        feed("PLAY [External deployment step 1] **********************************", 1000);
        for (let i = 0; i < 40; i++) {
            feed(`TASK [tripleo_container_manage : Task ${i}] ******************`, 1000 + i * 100);
            feed("ok: [dcn1-compute-0]", 1000 + i * 100);
            feed("changed: [dcn1-compute-1]", 1000 + i * 100);
            feed("skipping: [dcn1-compute-2]", 1000 + i * 100);
        }
        feed("2025-05-09 07:30:00.123456 | 52540000-0000-0000-0000-000000000001 |       PLAY | Deploy step 2", 20000);
        feed(
            "2025-05-09 07:30:01.123456 | 52540000-0000-0000-0000-000000000001 |       TASK | Wait for containers",
            21000,
        );
        feed("fatal: [dcn1-compute-0]: FAILED! => {}", 22000);
        assert.equal(printed.length, 1, "a phase change, no line per task");
        const st = m.state();
        assert.equal(st.tasks, 41);
        assert.equal(st.play, "Deploy step 2");
        assert.equal(st.task, "Wait for containers");
        assert.deepEqual([st.ok, st.changed, st.failed], [40, 40, 1]);
        assert.deepEqual(m.tick(59000), []);
        assert.deepEqual(m.tick(61000), [
            'dcn1 deploy: config-download for 1m01s (step 1m01s); play "Deploy step 2", task 41 "Wait for containers", ok 40 changed 40 failed 1',
        ]);
        assert.deepEqual(m.tick(90000), [], "next heartbeat a minute after the last printed line");
        assert.equal(m.tick(121000).length, 1);
    });

    it("a failure names the phase, the Ansible task and the error", () => {
        const m = progressModel({ site: "dcn0", step: "ceph" }, 0);
        m.line("+ openstack overcloud ceph deploy /x/m.yaml --stack dcn0", 0);
        m.line("TASK [tripleo_cephadm : Apply spec (osd)] ****", 500);
        assert.deepEqual(m.end(2500, "ceph of stack dcn0 failed on the undercloud (exit 1, job j)."), [
            'dcn0 ceph: FAILED after 2s in ceph; task 1 "tripleo_cephadm : Apply spec (osd)": ceph of stack dcn0 failed on the undercloud (exit 1, job j).',
        ]);
    });

    it("passes the runner's notices through", () => {
        const m = progressModel({ site: "c", step: "deploy" }, 0);
        assert.deepEqual(m.line("[job c-deploy-1] re-attaching to an existing job on the undercloud", 5), [
            "c deploy: [job c-deploy-1] re-attaching to an existing job on the undercloud",
        ]);
    });

    it("formats durations", () => {
        assert.deepEqual([0, 45000, 187000, 3725000].map(formatDuration), ["0s", "45s", "3m07s", "1h02m"]);
    });
});

describe("step report", () => {
    it("writes every line to logs/<stack>/<site>/<step>.log (0600), keeps the previous one, prints few lines", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-logs-"));
        const urn =
            "urn:pulumi:dev::dcn-storage::dcn:index:Deployment$dcn:index:Site$pulumi-nodejs:dynamic/dcn:OvercloudStack::dcn0-overcloud";
        const file = stepLogPath({ site: "dcn0", step: "deploy", logUrn: urn, logRoot: root });
        assert.equal(file, path.join(root, "dev", "dcn0", "deploy.log"));
        const run = async (n: number) => {
            const printed: string[] = [];
            const r = stepReport({
                site: "dcn0",
                step: "deploy",
                logUrn: urn,
                logRoot: root,
                print: (l) => printed.push(l),
            });
            assert.equal(r.logFile, file);
            r.line("+ openstack overcloud deploy --stack dcn0 --config-download-only");
            for (let i = 0; i < n; i++) {
                r.line(`TASK [t${i}] ***`);
            }
            await r.end();
            return printed;
        };
        const printed = await run(500);
        assert.equal(printed.length, 2, printed.join("\n"));
        assert.match(printed[1], /^dcn0 deploy: done in \d+s \(config-download \d+s\); log .*deploy\.log$/);
        assert.equal(fs.readFileSync(file, "utf8").split("\n").length, 502);
        assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
        await run(1);
        assert.equal(fs.readFileSync(file.replace(/\.log$/, ".prev.log"), "utf8").split("\n").length, 502);
        assert.equal(fs.readFileSync(file, "utf8").split("\n").length, 3);
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("a skipped job leaves the previous log alone", async () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-logs-"));
        const printed: string[] = [];
        const r = stepReport({ site: "c", step: "ceph", logRoot: root, print: (l) => printed.push(l) });
        await r.end(undefined, true);
        assert.deepEqual(printed, ["c ceph: not run, its results are already on the undercloud"]);
        assert.deepEqual(fs.readdirSync(root), []);
        fs.rmSync(root, { recursive: true, force: true });
    });
});

describe("step report of a real job (in-process ssh server)", () => {
    let srv: TestServer;
    let target: SshTarget;
    let root: string;
    before(async () => {
        srv = await startServer();
        target = targetOf(srv);
        root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-logs-"));
    });
    after(async () => {
        closeAll();
        await srv.close();
        fs.rmSync(root, { recursive: true, force: true });
    });

    // Made up at run time: never in the source, never printed by the test.
    const known = `pw-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
    const cephx = Buffer.from(Array.from({ length: 28 }, (_, i) => (i * 37 + 11) % 256)).toString("base64");

    it("keeps the full output, redacted, in the local log; a failure names it and ends with the last 50 lines", async () => {
        const printed: string[] = [];
        const report = stepReport({ site: "s9", step: "deploy", logRoot: root, print: (l) => printed.push(l) });
        const script = [
            `echo "using ${known} and key ${cephx}"`,
            "echo 'AdminPassword: hunter2hunter2'",
            'i=0; while [ $i -lt 120 ]; do echo "TASK [task $i] ***"; i=$((i + 1)); done',
            "exit 3",
        ].join("; ");
        const err = await runJob(target, {
            stack: "s9",
            step: "deploy",
            pollMs: 50,
            secrets: [known],
            report,
            commands: [{ argv: ["openstack-free", "phase"], allowFailure: true }, { argv: ["sh", "-c", script] }],
        }).then(
            () => assert.fail("the job should fail"),
            (e: Error) => e,
        );
        const log = fs.readFileSync(report.logFile!, "utf8");
        for (const text of [log, err.message, printed.join("\n")]) {
            assert.ok(!text.includes(known) && !text.includes(cephx) && !text.includes("hunter2hunter2"), "no secret");
        }
        assert.match(log, /using \[secret\] and key \[secret\]/);
        assert.match(log, /AdminPassword: \[secret\]/);
        assert.match(log, /TASK \[task 0\][\s\S]*TASK \[task 119\]/, "the whole output");
        assert.ok(err.message.includes(`Full output: ${report.logFile} (local), `), err.message.split("\n")[0]);
        assert.match(err.message, /out\.log on the undercloud\. Last 50 lines:\n/);
        const tailLines = err.message.split("Last 50 lines:\n")[1].split("\n");
        assert.equal(tailLines.length, 50);
        assert.equal(tailLines[49], "TASK [task 119] ***");
        assert.ok(printed.length <= 3, printed.join("\n"));
        assert.match(
            printed[printed.length - 1],
            /^s9 deploy: FAILED after \d+s; task 120 "task 119": deploy of stack s9 failed/,
        );
    });
});

describe("npm run logs", () => {
    it("finds a site's step logs, including a multi-stack step's", () => {
        const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-logs-"));
        for (const [site, step] of [
            ["dcn0", "deploy"],
            ["dcn0", "metal"],
            ["dcn0+dcn1", "export-ceph"],
            ["control-plane", "deploy"],
        ]) {
            fs.mkdirSync(path.join(root, "dev", site), { recursive: true });
            fs.writeFileSync(path.join(root, "dev", site, `${step}.log`), `${site} ${step}\n`);
        }
        fs.writeFileSync(path.join(root, "dev", "dcn0", "deploy.prev.log"), "older\n");
        const logs = stepLogs(path.join(root, "dev"));
        assert.deepEqual(
            logs.filter((l) => siteMatches(l.site, "dcn1")).map((l) => l.step),
            ["export-ceph"],
        );
        assert.deepEqual(
            logs.filter((l) => siteMatches(l.site, "dcn0")).map((l) => `${l.site}/${l.step}`),
            ["dcn0/deploy", "dcn0/metal", "dcn0+dcn1/export-ceph"],
        );
        assert.deepEqual(parseArgs(["dcn0", "deploy", "--tail", "20"]), {
            prev: false,
            site: "dcn0",
            step: "deploy",
            tail: 20,
        });
        assert.throws(() => parseArgs(["a", "b", "c"]), /usage/);
        fs.rmSync(root, { recursive: true, force: true });
    });
});
