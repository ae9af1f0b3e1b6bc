// Interrupts (issue 6): the real program, the project's Pulumi CLI and a private lab per scenario.
//  1. SIGINT of `pulumi up` (Ctrl-C: to its process group) while the central deploy runs;
//  2. SIGKILL of `pulumi up` and of every process under it (a lost terminal, an OOM kill, a CI
//     runner cancelled) while the central deploy runs;
//  3. an undercloud reboot (`lab stop`, every undercloud process killed, `lab start`) while the
//     DCN deploys run.
// Each time the README runbook ("Recovering an interrupted `up`") is followed and must end with
// every site DEPLOY_SUCCESS, no step that had finished run again (the lab's command log: each
// node provision, Ceph deploy and deploy phase has one successful run, and none after it), and
// `preview --expect-no-changes` passing.
//
// Time scale 0.2 s per simulated minute: the central Heat phase lasts 4 s and its config-download
// 14 s, a DCN deploy 2 + 7 s. The interrupt lands in a phase that is seen running in the log, and
// the recovering `up` (cancel + refresh + program start, 5-10 s here) reaches the central deploy
// while the interrupted job is still running on the undercloud, which is the case a re-attach must
// handle. Every wait is on an observable event (log entry, process exit) with a generous deadline,
// so a loaded machine only makes the file slower.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PulumiResult, PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import {
    type LabLogEntry,
    type PrivateLab,
    buildProgram,
    devConfig,
    programFixture,
    startPrivateLab,
    writeStackConfig,
} from "../support/lab";
import {
    RunningPulumi,
    alive,
    killTree,
    readLabLog,
    rebootLab,
    startPulumi,
    undercloudProcesses,
    waitFor,
} from "../support/interrupt";

const TIME_SCALE = "0.2";
const UP = ["up", "--yes", "--non-interactive", "--skip-preview"];
const SITES = ["control-plane", "dcn0", "dcn1"];
const CENTRAL_URN_NAME = "control-plane-overcloud";
/** Per scenario (a full deploy, the interrupt and the recovery take 1.5 min on an idle 2-core machine). */
const SCENARIO_TIMEOUT = 15 * 60_000;

// ---------------------------------------------------------------- one scenario's world

interface World {
    root: string;
    labDir: string;
    lab: PrivateLab;
    ws: PulumiWorkspace;
    running: RunningPulumi[];
}

async function makeWorld(name: string): Promise<World> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `dcn-interrupt-${name}-`));
    const labDir = path.join(root, "lab");
    const world: Partial<World> = { root, labDir, running: [] };
    try {
        // Its own Ceph loopback net: other test files, benchmarks or checkouts may run labs beside it.
        world.lab = await startPrivateLab(labDir, TIME_SCALE);
        const fixture = programFixture(path.join(root, "project"), labDir);
        writeStackConfig(fixture, "it", devConfig());
        world.ws = await pulumiWorkspace(fixture, "it");
        return world as World;
    } catch (err) {
        disposeWorld(world);
        throw err;
    }
}

/** Never throws: kills what the scenario started, stops the lab and its detached jobs, removes the dirs. */
function disposeWorld(w: Partial<World> | undefined): void {
    if (!w) {
        return;
    }
    for (const r of w.running ?? []) {
        if (alive(r.pid)) {
            killTree(r.pid, "SIGKILL");
        }
    }
    w.lab?.stop();
    // `lab stop` leaves detached undercloud jobs running (see rebootLab): end them too.
    if (w.labDir) {
        for (const p of undercloudProcesses(w.labDir)) {
            try {
                process.kill(p, "SIGKILL");
            } catch {
                // gone
            }
        }
    }
    w.ws?.dispose();
    if (w.root) {
        fs.rmSync(w.root, { recursive: true, force: true });
    }
}

function start(w: World, args: string[]): RunningPulumi {
    const r = startPulumi(w.ws, args);
    w.running.push(r);
    return r;
}

// ---------------------------------------------------------------- the lab's command log

const sub = (e: LabLogEntry) => e.argv.slice(1, 4).join(" ");
const stackOf = (e: LabLogEntry) =>
    e.stack ?? (e.argv.includes("--stack") ? e.argv[e.argv.indexOf("--stack") + 1] : null);
const phaseOf = (e: LabLogEntry) =>
    e.argv.includes("--stack-only") ? "heat" : e.argv.includes("--config-download-only") ? "config" : "full";
const isDeploy = (e: LabLogEntry, stack: string, phase?: "heat" | "config") =>
    sub(e) === "overcloud deploy --templates" && stackOf(e) === stack && (!phase || phaseOf(e) === phase);

/**
 * The steps that must never run twice once finished, keyed `<command> <stack> [phase]`. (Network
 * provision is left out: every site's metal job runs the shared, idempotent network provision.)
 */
const STEPS = [
    "overcloud network vip",
    "overcloud node provision",
    "overcloud ceph deploy",
    "overcloud deploy --templates",
];
function stepKey(e: LabLogEntry): string | undefined {
    const s = sub(e);
    if (!STEPS.includes(s)) {
        return undefined;
    }
    return s === "overcloud deploy --templates" ? `deploy ${stackOf(e)} ${phaseOf(e)}` : `${s} ${stackOf(e) ?? ""}`;
}
function stepRuns(log: LabLogEntry[]): Map<string, LabLogEntry[]> {
    const m = new Map<string, LabLogEntry[]>();
    for (const e of log) {
        const k = stepKey(e);
        if (k) {
            m.set(k, [...(m.get(k) ?? []), e]);
        }
    }
    return m;
}
const show = (e: LabLogEntry) => `${e.start.slice(11, 23)}..${e.end?.slice(11, 23) ?? "(no end)"} exit ${e.exit}`;

/**
 * Every step of the seed ran to success exactly once and nothing started it again after that.
 * `strict`: not even a failed or killed attempt (a Pulumi interrupt must not disturb the
 * undercloud at all); otherwise an attempt killed by a reboot may be re-run.
 */
function assertEveryStepOnce(log: LabLogEntry[], strict: boolean): void {
    const runs = stepRuns(log);
    for (const site of SITES) {
        for (const k of [`overcloud node provision ${site}`, `overcloud ceph deploy ${site}`]) {
            assert.ok(runs.has(k), `no ${k} in the lab log`);
        }
        for (const phase of ["heat", "config"]) {
            assert.ok(runs.has(`deploy ${site} ${phase}`), `no ${phase} phase of ${site}'s deploy in the lab log`);
        }
    }
    for (const [k, es] of runs) {
        const ok = es.filter((e) => e.exit === 0);
        assert.equal(ok.length, 1, `${k}: ${ok.length} successful runs: ${es.map(show).join("; ")}`);
        if (strict) {
            assert.equal(es.length, 1, `${k} started ${es.length} times: ${es.map(show).join("; ")}`);
        }
        const after = es.filter((e) => Date.parse(e.start) >= Date.parse(ok[0].end!));
        assert.deepEqual(after.map(show), [], `${k} started again after it had finished (${show(ok[0])})`);
    }
}

// ---------------------------------------------------------------- Pulumi helpers

async function waitWhileRunning(
    up: RunningPulumi,
    what: string,
    pred: () => LabLogEntry | undefined,
    timeoutMs = 420_000,
): Promise<LabLogEntry> {
    let exited: PulumiResult | undefined;
    void up.done.then((r) => (exited = r));
    return waitFor(
        what,
        () => {
            if (exited) {
                throw new Error(`pulumi up exited (${exited.code}) before ${what}:\n${tailOf(up.output())}`);
            }
            return pred();
        },
        timeoutMs,
    );
}

async function finished(r: RunningPulumi, timeoutMs = 420_000): Promise<PulumiResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
            () => reject(new Error(`pulumi still running after ${timeoutMs / 1000} s:\n${tailOf(r.output())}`)),
            timeoutMs,
        );
    });
    try {
        return await Promise.race([r.done, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/** The error lines and job notices of a Pulumi run's output (what an operator reads). */
const noticesOf = (s: string) =>
    [
        ...new Set(
            s
                .split("\n")
                .filter((l) =>
                    /error:|\[job |already done|earlier attempt|connection problem|lost the undercloud/.test(l),
                )
                .map((l) =>
                    l
                        .replace(/^.*info: \[runtime\] /, "")
                        .trim()
                        .slice(0, 200),
                ),
        ),
    ].join("\n  ");

const tailOf = (s: string, n = 40) =>
    s
        .split("\n")
        .filter((l) => !l.includes("info: [runtime]"))
        .slice(-n)
        .join("\n");

function lockFiles(ws: PulumiWorkspace): string[] {
    const dir = path.join(ws.env.PULUMI_BACKEND_URL!.replace(/^file:\/\//, ""), ".pulumi", "locks");
    if (!fs.existsSync(dir)) {
        return [];
    }
    return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".json"));
}

async function pendingOperations(ws: PulumiWorkspace): Promise<Array<{ type: string; name: string }>> {
    const d = JSON.parse((await ws.ok(["stack", "export"])).stdout).deployment;
    return ((d.pending_operations ?? []) as Array<{ type: string; resource: { urn: string } }>).map((p) => ({
        type: p.type,
        name: p.resource.urn.split("::").pop()!,
    }));
}

/**
 * The README runbook, literally: refresh with --clear-pending-creates; when Pulumi refuses because
 * the stack is locked by the interrupted update, `pulumi cancel` and refresh again; then `up`.
 * Returns what each step printed.
 */
async function runbook(ws: PulumiWorkspace): Promise<{ locked: PulumiResult | undefined; up: PulumiResult }> {
    const refreshArgs = ["refresh", "--yes", "--non-interactive", "--skip-preview", "--clear-pending-creates"];
    let locked: PulumiResult | undefined;
    let refresh = await ws.run(refreshArgs);
    if (refresh.code !== 0 && /currently locked/.test(refresh.stderr + refresh.stdout)) {
        locked = refresh;
        const cancel = await ws.ok(["cancel", "--yes", "--non-interactive"]);
        assert.match(cancel.stdout, /has been canceled/);
        refresh = await ws.run(refreshArgs);
    }
    assert.equal(
        refresh.code,
        0,
        `refresh --clear-pending-creates failed:\n${tailOf(refresh.stdout + refresh.stderr)}`,
    );
    const up = await ws.run(UP);
    assert.equal(up.code, 0, `the recovering up failed:\n${tailOf(up.stdout + up.stderr)}`);
    return { locked, up };
}

async function assertAllDeployed(w: World): Promise<void> {
    const out = JSON.parse((await w.ws.ok(["stack", "output", "--json"])).stdout);
    for (const s of SITES) {
        assert.equal(out.sites?.[s]?.status, "DEPLOY_SUCCESS", `${s} status in the stack outputs`);
    }
    assert.deepEqual(await pendingOperations(w.ws), [], "pending operations left in the state");
    assert.deepEqual(lockFiles(w.ws), [], "lock files left in the backend");
    // Every job collected: one left behind is re-attached to by the next run with the same inputs
    // (e.g. a repair after an out-of-band delete), which then reports its stale result.
    const jobs = path.join(w.lab.connection().home, ".dcn-jobs");
    const uncollected = fs
        .readdirSync(jobs, { withFileTypes: true })
        .filter((d) => d.isDirectory() && d.name !== "done")
        .map((d) => d.name);
    assert.deepEqual(uncollected, [], `jobs left uncollected in ${jobs}`);
    const before = readLabLog(w.labDir).filter((e) => e.mutating).length;
    await w.ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
    assert.equal(readLabLog(w.labDir).filter((e) => e.mutating).length, before, "preview ran a mutating command");
}

// ---------------------------------------------------------------- scenarios

const skip = !toolchainBuilt() && "toolchain not built (npm run setup)";

describe("interrupted up and undercloud reboot", { skip }, () => {
    before(() => buildProgram());

    describe("SIGINT of up during the central deploy", () => {
        let w: World;
        before(async () => {
            w = await makeWorld("sigint");
        });
        after(() => disposeWorld(w));

        it(
            "a single Ctrl-C lets the central deploy finish; the runbook's up deploys the rest, nothing twice",
            { timeout: SCENARIO_TIMEOUT },
            async () => {
                const up = start(w, UP);
                const heat = await waitWhileRunning(up, "the central Heat phase to run", () =>
                    readLabLog(w.labDir).find((e) => isDeploy(e, "control-plane", "heat") && e.end === null),
                );
                // Ctrl-C on a terminal: SIGINT to the foreground process group.
                process.kill(-up.pid, "SIGINT");
                const interrupted = await finished(up);
                const out = interrupted.stdout + interrupted.stderr;
                assert.notEqual(interrupted.code, 0);
                assert.match(
                    out,
                    /\^C received; cancelling\. If you would like to terminate immediately, press \^C again\./,
                );
                assert.match(out, /error: update canceled/);
                // Graceful: the engine waited for the step in flight (the whole central deploy job), then stopped.
                const log = readLabLog(w.labDir);
                const config = log.find((e) => isDeploy(e, "control-plane", "config"));
                assert.ok(
                    config?.exit === 0,
                    `central config-download finished before up exited: ${config && show(config)}`,
                );
                assert.match(out, new RegExp(`OvercloudStack ${CENTRAL_URN_NAME} created`));
                assert.equal(
                    log.filter((e) => isDeploy(e, "dcn0") || isDeploy(e, "dcn1")).length,
                    0,
                    "no DCN deploy started",
                );
                assert.deepEqual(await pendingOperations(w.ws), [], "nothing pending after a graceful cancel");
                assert.deepEqual(lockFiles(w.ws), [], "no lock left after a graceful cancel");
                console.log(`SIGINT at ${heat.start.slice(11, 23)}; up exited ${interrupted.code}`);

                const { locked } = await runbook(w.ws);
                assert.equal(locked, undefined, "refresh found the stack locked after a graceful cancel");
                await assertAllDeployed(w);
                assertEveryStepOnce(readLabLog(w.labDir), true);
            },
        );
    });

    describe("SIGKILL of up (and everything under it) during the central deploy", () => {
        let w: World;
        before(async () => {
            w = await makeWorld("sigkill");
        });
        after(() => disposeWorld(w));

        it(
            "the runbook (cancel, refresh --clear-pending-creates, up) re-attaches; the central deploy runs once",
            { timeout: SCENARIO_TIMEOUT },
            async () => {
                const up = start(w, UP);
                // Into the config-download phase: the Heat phase has finished (its marker is written) and
                // the job is still running when the recovering up arrives.
                const config = await waitWhileRunning(up, "the central config-download to run", () =>
                    readLabLog(w.labDir).find((e) => isDeploy(e, "control-plane", "config") && e.end === null),
                );
                const killed = killTree(up.pid, "SIGKILL");
                const r = await finished(up, 30_000);
                assert.equal(r.code, 137);
                await waitFor("the killed processes to be gone", () => killed.every((p) => !alive(p)), 10_000);
                console.log(`SIGKILL of ${killed.length} processes at ${new Date().toISOString().slice(11, 23)}`);

                // What the file backend keeps: the update's lock file and the create in flight.
                assert.equal(lockFiles(w.ws).length, 1, "the killed update's lock file");
                assert.deepEqual(await pendingOperations(w.ws), [{ type: "creating", name: CENTRAL_URN_NAME }]);
                const refused = await w.ws.run(UP);
                assert.notEqual(refused.code, 0);
                assert.match(
                    refused.stderr,
                    /error: the stack is currently locked by 1 lock\(s\)\. Either wait for the other process\(es\) to end or delete the lock file with `pulumi cancel`\./,
                );
                const stillRunning = readLabLog(w.labDir).find((e) => e.start === config.start);
                assert.equal(stillRunning?.end, null, "the detached central deploy went on without pulumi");

                const { locked, up: recovered } = await runbook(w.ws);
                assert.ok(locked, "refresh refused the locked stack before pulumi cancel");
                const log = readLabLog(w.labDir);
                const first = log.find((e) => e.start === config.start)!;
                console.log(
                    `interrupted config-download ${show(first)}; the recovering up:\n  ${noticesOf(recovered.stdout)}`,
                );
                await assertAllDeployed(w);
                assertEveryStepOnce(readLabLog(w.labDir), true);
            },
        );
    });

    describe("undercloud reboot during the DCN deploys", () => {
        let w: World;
        before(async () => {
            w = await makeWorld("reboot");
        });
        after(() => disposeWorld(w));

        it(
            "the next up reconciles: every site deployed, no finished step redone",
            { timeout: SCENARIO_TIMEOUT },
            async () => {
                const up = start(w, UP);
                const dcn = await waitWhileRunning(up, "dcn0's config-download to run", () =>
                    readLabLog(w.labDir).find((e) => isDeploy(e, "dcn0", "config") && e.end === null),
                );
                const report = rebootLab(w.lab);
                console.log(
                    `reboot during dcn0's config-download (${dcn.start.slice(11, 23)}); left running by lab stop:\n  ` +
                        report.survivedStop.join("\n  "),
                );
                // Killed with the undercloud, or failed as its Ceph went down first: not finished.
                const broken = readLabLog(w.labDir).find((e) => e.start === dcn.start && isDeploy(e, "dcn0", "config"));
                assert.notEqual(
                    broken?.exit,
                    0,
                    `the reboot interrupted dcn0's config-download: ${broken && show(broken)}`,
                );
                const first = await finished(up);
                console.log(
                    `the up running across the reboot exited ${first.code}:\n  ${noticesOf(first.stdout + first.stderr)}`,
                );
                if (first.code !== 0) {
                    // It failed (not interrupted): no lock, nothing pending; the runbook's last step.
                    assert.deepEqual(lockFiles(w.ws), []);
                    assert.deepEqual(await pendingOperations(w.ws), []);
                    const again = await w.ws.run(UP);
                    assert.equal(
                        again.code,
                        0,
                        `the up after the reboot failed:\n${tailOf(again.stdout + again.stderr)}`,
                    );
                    console.log(`the next up:\n  ${noticesOf(again.stdout + again.stderr)}`);
                }
                await assertAllDeployed(w);
                const log = readLabLog(w.labDir);
                assertEveryStepOnce(log, false);
                // The only step runs after the reboot are the ones it killed (or that had not started).
                const done = log.filter(
                    (e) => stepKey(e) && e.exit === 0 && Date.parse(e.end!) < Date.parse(dcn.start),
                );
                for (const e of done) {
                    assert.equal(stepRuns(log).get(stepKey(e)!)!.length, 1, `${stepKey(e)} redone after the reboot`);
                }
            },
        );
    });
});
