// The fault matrix (issue 6): for every step kind of `up` and `destroy` — network, VIP and node
// provision, ceph deploy, ceph export, overcloud deploy, the central stack export, overcloud delete
// and node unprovision — the lab injects `fail`, `hang` and `drop` (SSH connections cut while the
// command goes on); the program's own timeout stops a hang. Then ONE rerun of the same operation
// finishes, and the lab's log shows no step redone that had finished and no node deployed twice.
//
// Each cycle deploys the seed (control-plane, dcn0, dcn1) from nothing with the faults of one row
// armed, on different stacks where the step runs per stack, so one run meets all three kinds; the
// destroy that resets the lab for the next row carries the teardown faults. Every fault must be
// consumed by the first run (a fault left for the rerun would test nothing): the engine starts no
// new step after a failure, so the faults of one row are met in the same wave (a drop fails
// nothing and may go anywhere).
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

type FaultKind = "fail" | "hang" | "drop";
interface Fault {
    command: string;
    stack?: string;
    kind: FaultKind;
}
interface Row {
    name: string;
    up: Fault[];
    destroy: Fault[];
}

/** Minutes: every step's deadline in this suite, so a hang costs 30 s (normal steps take < 10 s here). */
const TIMEOUT_MIN = 0.5;

const ROWS: Row[] = [
    {
        // No --stack on network provision: three faults, consumed in turn by the three sites' runs.
        name: "network provision; delete (fail dcn0, drop dcn1)",
        up: [
            { command: "overcloud network provision", kind: "fail" },
            { command: "overcloud network provision", kind: "hang" },
            { command: "overcloud network provision", kind: "drop" },
        ],
        destroy: [
            { command: "overcloud delete", stack: "dcn0", kind: "fail" },
            { command: "overcloud delete", stack: "dcn1", kind: "drop" },
        ],
    },
    {
        name: "node provision; delete (hang control-plane)",
        up: [
            { command: "overcloud node provision", stack: "dcn0", kind: "fail" },
            { command: "overcloud node provision", stack: "dcn1", kind: "hang" },
            { command: "overcloud node provision", stack: "control-plane", kind: "drop" },
        ],
        destroy: [{ command: "overcloud delete", stack: "control-plane", kind: "hang" }],
    },
    {
        // The central stack's metal is the longest (three controllers, VIPs): its ceph deploy starts
        // last, so its failure cannot stop the engine before the DCN ceph deploys have started.
        name: "ceph deploy; node unprovision",
        up: [
            { command: "overcloud ceph deploy", stack: "control-plane", kind: "fail" },
            { command: "overcloud ceph deploy", stack: "dcn0", kind: "hang" },
            { command: "overcloud ceph deploy", stack: "dcn1", kind: "drop" },
        ],
        // A fail and a hang on two sites' unprovisions in one destroy would depend on both having
        // started before either fired: the hang gets its own row below.
        destroy: [
            { command: "overcloud node unprovision", stack: "dcn0", kind: "fail" },
            { command: "overcloud node unprovision", stack: "control-plane", kind: "drop" },
        ],
    },
    // VIPs exist on the central stack only; the two ceph exports (central; all DCN stacks) run once each.
    {
        name: "VIP provision fail; node unprovision hang",
        up: [{ command: "overcloud network vip provision", stack: "control-plane", kind: "fail" }],
        destroy: [{ command: "overcloud node unprovision", stack: "dcn1", kind: "hang" }],
    },
    {
        name: "VIP provision hang",
        up: [{ command: "overcloud network vip provision", stack: "control-plane", kind: "hang" }],
        destroy: [],
    },
    {
        name: "VIP provision drop; central ceph export drop",
        up: [
            { command: "overcloud network vip provision", stack: "control-plane", kind: "drop" },
            { command: "overcloud export ceph", stack: "control-plane", kind: "drop" },
        ],
        destroy: [],
    },
    {
        name: "DCN ceph export fail",
        up: [{ command: "overcloud export ceph", stack: "dcn0", kind: "fail" }],
        destroy: [],
    },
    {
        name: "central ceph export hang",
        up: [{ command: "overcloud export ceph", stack: "control-plane", kind: "hang" }],
        destroy: [],
    },
    {
        name: "overcloud deploy (fail dcn0, hang dcn1, drop control-plane); central export drop",
        up: [
            { command: "overcloud deploy", stack: "control-plane", kind: "drop" },
            { command: "overcloud export", stack: "control-plane", kind: "drop" },
            { command: "overcloud deploy", stack: "dcn0", kind: "fail" },
            { command: "overcloud deploy", stack: "dcn1", kind: "hang" },
        ],
        destroy: [],
    },
    {
        name: "central export fail",
        up: [{ command: "overcloud export", stack: "control-plane", kind: "fail" }],
        destroy: [],
    },
    {
        name: "central export hang",
        up: [{ command: "overcloud export", stack: "control-plane", kind: "hang" }],
        destroy: [],
    },
];

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-faults-"));
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
const lab = (...args: string[]): string => privateLab.lab(...args);

/** What a hang makes the first run print: the step's own deadline (TIMEOUT_MIN) stopped it. */
const HANG_REPORTED = /timed out after 30 s \(job [^)]+\); stopped it on the undercloud/;

interface LabNode {
    name: string;
    stack: string | null;
    deployments?: number;
}
const labState = () =>
    JSON.parse(lab("state", "--json")) as { nodes: LabNode[]; stacks: Array<{ name: string; status: string }> };
const deploymentsByNode = () => new Map(labState().nodes.map((n) => [n.name, n.deployments ?? 0]));

function armFaults(faults: Fault[]): void {
    for (const f of faults) {
        lab(
            "fault",
            "add",
            "--command",
            f.command,
            ...(f.stack ? ["--stack", f.stack] : []),
            "--kind",
            f.kind,
            "--message",
            `ERROR: injected fault (${f.kind}) in ${f.command}${f.stack ? ` of ${f.stack}` : ""}`,
        );
    }
}

/** Successful mutating commands run more than once (same argv) in a slice of the log. */
function redone(log: LabLogEntry[]): string[] {
    const seen = new Map<string, number>();
    for (const e of log) {
        if (e.mutating && e.exit === 0) {
            const k = e.argv.join(" ");
            seen.set(k, (seen.get(k) ?? 0) + 1);
        }
    }
    return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${n}× ${k}`);
}

const outputOf = (r: PulumiResult) => `${r.stdout}\n${r.stderr}`;

/**
 * Runs `op` with the faults armed, then once more without: the first run meets every fault (none
 * left over), fails with each fail/hang message (a drop alone is recovered within the run), and the
 * rerun finishes; in between nothing that had finished is run again.
 */
async function faultCycle(op: "up" | "destroy", faults: Fault[]): Promise<LabLogEntry[]> {
    const from = privateLab.log().length;
    armFaults(faults);
    const args = [op, "--yes", "--non-interactive", "--skip-preview"];
    const first = await ws.run(args);
    const text = outputOf(first);
    // A drop fails nothing, so one whose step the failed first run never reached is met by the rerun.
    const left = lab("fault", "list").trim().split("\n").filter(Boolean);
    assert.deepEqual(
        left.filter((l) => !/"kind":"drop"/.test(l)),
        [],
        `every fail and hang met by the first ${op} (exit ${first.code}):\n${text.slice(-3000)}`,
    );
    const failing = faults.filter((f) => f.kind !== "drop");
    if (failing.length === 0) {
        assert.equal(first.code, 0, `a dropped connection is recovered within the ${op}:\n${text.slice(-3000)}`);
    } else {
        assert.notEqual(first.code, 0, `the first ${op} must fail`);
        for (const f of failing) {
            const re = f.kind === "fail" ? new RegExp(`injected fault \\(fail\\) in ${f.command}`) : HANG_REPORTED;
            assert.match(text, re, `${f.kind} in ${f.command} reported`);
        }
    }
    const rerun = await ws.run(args);
    assert.equal(rerun.code, 0, `one rerun of ${op} finishes:\n${outputOf(rerun).slice(-4000)}`);
    assert.equal(lab("fault", "list").trim(), "", "every fault met");
    const log = privateLab.log().slice(from);
    assert.deepEqual(redone(log), [], `no finished step redone by the ${op} rerun`);
    assert.ok(
        log.every((e) => e.end !== null),
        "nothing left running on the undercloud (a hung command was stopped)",
    );
    return log;
}

describe(
    "fault matrix: fail, hang and drop at every step kind",
    { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" },
    () => {
        before(async () => {
            buildProgram();
            privateLab = await startPrivateLab(path.join(root, "lab"), "0.05");
            const fixture = programFixture(path.join(root, "project"), path.join(root, "lab"));
            const config = devConfig();
            const settings = config["dcn-storage:settings"] as Record<string, unknown>;
            settings.validation = { enabled: false };
            settings.sanityChecks = false;
            settings.timeoutMinutes = {
                metal: TIMEOUT_MIN,
                ceph: TIMEOUT_MIN,
                deploy: TIMEOUT_MIN,
                export: TIMEOUT_MIN,
            };
            writeStackConfig(fixture, "faults", config);
            ws = await pulumiWorkspace(fixture, "faults");
        });

        after(() => {
            privateLab?.stop();
            ws?.dispose();
            fs.rmSync(root, { recursive: true, force: true });
        });

        // A row that failed half-way leaves resources and faults behind: the next row starts clean.
        let clean = true;
        for (const row of ROWS) {
            it(row.name, async () => {
                if (!clean) {
                    lab("fault", "clear");
                    await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
                }
                clean = false;
                const before = deploymentsByNode();
                await faultCycle("up", row.up);
                const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
                for (const s of ["control-plane", "dcn0", "dcn1"]) {
                    assert.equal(out.sites[s].status, "DEPLOY_SUCCESS", `${s} deployed`);
                }
                const after = labState();
                for (const n of after.nodes.filter((x) => x.stack)) {
                    assert.equal(
                        (n.deployments ?? 0) - (before.get(n.name) ?? 0),
                        1,
                        `${n.name} deployed exactly once`,
                    );
                }
                await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);

                if (row.destroy.length > 0) {
                    await faultCycle("destroy", row.destroy);
                } else {
                    await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
                }
                const empty = labState();
                assert.deepEqual(empty.stacks, [], "destroy leaves no stack");
                assert.deepEqual(
                    empty.nodes.filter((n) => n.stack).map((n) => n.name),
                    [],
                    "destroy leaves no node allocated",
                );
                clean = true;
            });
        }
    },
);
