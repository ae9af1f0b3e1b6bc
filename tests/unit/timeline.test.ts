// The deploy timeline: the phases the progress model records, the runs of timeline.jsonl, the
// critical path and the chart (tools/timeline.ts).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { progressModel } from "../../providers/remote/progress";
import { LOCK_HELD, LOCK_WAIT } from "../../providers/remote/jobs";
import type { StepTiming } from "../../providers/remote/report";
import { criticalPath, readRuns, rows, tickStep, timelineDot } from "../../tools/timeline";

const S = 1000;
const step = (site: string, name: string, phases: Array<[string, number, number]>, ok = true): StepTiming => ({
    run: "2026-12-04T10:00:00.000Z",
    site,
    step: name,
    start: phases[0][1] * S - S,
    end: phases[phases.length - 1][2] * S + S,
    ok,
    phases: phases.map(([phase, a, b]) => ({ phase, start: a * S, end: b * S })),
});

/** The seed as the lab deploys it: central Heat, config-download, then the DCN Heat phases one at a time. */
const SEED: StepTiming[] = [
    step("control-plane", "deploy", [
        ["Heat", 100, 380],
        ["config-download", 380, 390],
        ["export", 390, 391],
    ]),
    step("dcn0", "deploy", [
        ["Heat waiting for the lock", 392, 520],
        ["Heat", 520, 680],
        ["config-download", 680, 690],
    ]),
    step("dcn1", "deploy", [
        ["Heat", 392, 520],
        ["config-download", 520, 529],
    ]),
    step("control-plane", "ceph", [["ceph", 40, 95]]),
    step("dcn0", "ceph", [["ceph", 40, 90]]),
];

describe("deploy timeline", () => {
    it("the progress model records each phase's span, the lock wait apart, a skipped phase not at all", () => {
        const m = progressModel({ site: "dcn0", step: "deploy" }, 0);
        m.line("+ flock /h/.dcn-jobs/heat.lock sh -c x sh openstack overcloud deploy --stack dcn0 --stack-only", 1000);
        m.line(LOCK_WAIT + "/h/.dcn-jobs/heat.lock", 1000);
        m.line(LOCK_HELD, 9000);
        m.line("+ openstack overcloud deploy --stack dcn0 --config-download-only", 20000);
        m.line("+ openstack overcloud export --stack dcn0", 30000);
        m.line("  (finished in an earlier attempt of this job: skipped)", 30000);
        m.end(31000);
        assert.deepEqual(m.spans(), [
            { phase: "Heat waiting for the lock", start: 1000, end: 9000 },
            { phase: "Heat", start: 9000, end: 20000 },
            { phase: "config-download", start: 20000, end: 30000 },
        ]);
    });

    it("a phase whose lines came in one batch is still there, with no length", () => {
        const m = progressModel({ site: "dcn1", step: "deploy" }, 0);
        m.line("+ openstack overcloud deploy --stack dcn1 --stack-only", 5000);
        m.line("+ openstack overcloud deploy --stack dcn1 --config-download-only", 5000);
        m.end(8000);
        assert.deepEqual(
            m.spans().map((s) => [s.phase, s.end - s.start]),
            [
                ["Heat", 0],
                ["config-download", 3000],
            ],
        );
    });

    it("timeline.jsonl: runs apart, oldest first, steps by start; a cut-off line is skipped", () => {
        const older = { ...SEED[0], run: "2026-12-03T09:00:00.000Z" };
        const text = [...SEED, older].map((s) => JSON.stringify(s)).join("\n") + '\n{"run": "2026-12-04T1';
        const runs = readRuns(text);
        assert.deepEqual(
            runs.map((r) => [r.run, r.steps.length]),
            [
                ["2026-12-03T09:00:00.000Z", 1],
                ["2026-12-04T10:00:00.000Z", 5],
            ],
        );
        assert.deepEqual(
            runs[1].steps.map((s) => `${s.site} ${s.step}`),
            ["control-plane ceph", "dcn0 ceph", "control-plane deploy", "dcn0 deploy", "dcn1 deploy"],
        );
    });

    it("the critical path runs through the Heat phases one after the other, never a lock wait", () => {
        const named = criticalPath(SEED).map((r) => `${SEED[r.step].site} ${SEED[r.step].phases[r.phase].phase}`);
        assert.deepEqual(named, [
            "control-plane ceph",
            "control-plane Heat",
            "control-plane config-download",
            "control-plane export",
            "dcn1 Heat",
            "dcn0 Heat",
            "dcn0 config-download",
        ]);
    });

    it("rows: sites in the order they started, each site's steps by start", () => {
        assert.deepEqual(
            rows(SEED).map((i) => `${SEED[i].site} ${SEED[i].step}`),
            ["control-plane ceph", "control-plane deploy", "dcn0 ceph", "dcn0 deploy", "dcn1 deploy"],
        );
        assert.equal(tickStep(650 * S), 60 * S);
        assert.equal(tickStep(90 * 60 * S), 600 * S);
    });

    it("the chart: every phase placed, the critical ones outlined, and graphviz draws it", () => {
        const dot = timelineDot("2026-12-04T10:00:00.000Z", SEED);
        const bars = dot.split("\n").filter((l) => /fillcolor="#(e67e22|3498db|9b59b6|16a085|dddddd)"/.test(l));
        assert.equal(bars.length, 10, "one bar per phase");
        assert.equal(dot.split("\n").filter((l) => l.includes('color="#c0392b"')).length, 7);
        assert.match(dot, /label="dcn0 deploy"/);
        const r = spawnSync("neato", ["-n2", "-Tpng"], { input: dot });
        if (r.error) return; // graphviz is installed by npm run setup; without it only the DOT is checked
        assert.equal(r.status, 0, String(r.stderr));
        assert.deepEqual([...r.stdout.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    });
});
