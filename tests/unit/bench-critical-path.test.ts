// Pure helpers of the benchmarks (bench/critical-path.ts): step graph from a lab log, lower bound
// with the one-Heat-at-a-time rule, sequential order.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import {
    LogEntry,
    Step,
    criticalChain,
    criticalPath,
    lowerBound,
    scheduleWithHeatOrder,
    sequentialOrder,
    sequentialSum,
    stepDurations,
    stepGraph,
    stepOf,
    startDelays,
} from "../../bench/critical-path";

const T0 = Date.parse("2026-01-01T00:00:00Z");
function entry(from: number, to: number, argv: string[], stack: string | null = null, exit = 0): LogEntry {
    return {
        start: new Date(T0 + from * 1000).toISOString(),
        end: new Date(T0 + to * 1000).toISOString(),
        argv,
        stack,
        exit,
        mutating: true,
    };
}

/** Reference durations (lab README, simulated minutes). */
function seedDurations(): Map<string, number> {
    const d = new Map<string, number>();
    for (const s of ["control-plane", "dcn0", "dcn1"]) {
        d.set(`metal:${s}`, 15);
        d.set(`ceph:${s}`, 20);
    }
    d.set("exports", 1);
    d.set("heat:control-plane", 20);
    d.set("config:control-plane", 70);
    d.set("central-export", 1);
    for (const s of ["dcn0", "dcn1"]) {
        d.set(`heat:${s}`, 10);
        d.set(`config:${s}`, 35);
    }
    return d;
}

describe("bench critical path", () => {
    it("classifies the lab's commands into steps", () => {
        const c = "control-plane";
        const at = (argv: string[], stack: string | null = null) => stepOf(entry(0, 1, argv, stack), c);
        assert.equal(at(["openstack", "overcloud", "node", "provision", "--stack", "dcn0"]), "metal:dcn0");
        assert.equal(at(["openstack", "overcloud", "network", "vip", "provision", "--stack", "dcn0"]), "metal:dcn0");
        assert.equal(at(["openstack", "overcloud", "ceph", "deploy", "x.yaml"], "dcn1"), "ceph:dcn1");
        assert.equal(at(["openstack", "overcloud", "export", "ceph", "--stack", "dcn0,dcn1"]), "exports");
        assert.equal(at(["openstack", "overcloud", "export", "ceph", "--stack", c]), "central-ceph-export");
        assert.equal(at(["openstack", "overcloud", "export", "--stack", c]), "central-export");
        assert.equal(
            at(["openstack", "overcloud", "deploy", "--templates", "--stack", c, "--stack-only"]),
            `heat:${c}`,
        );
        assert.equal(
            at(["openstack", "overcloud", "deploy", "--templates", "--stack", "dcn0", "--config-download-only"]),
            "config:dcn0",
        );
        assert.equal(
            at(["openstack", "overcloud", "roles", "generate", "-o", "/h/dcn/dcn1/roles-dcn1.yaml", "CephAll"]),
            "metal:dcn1",
        );
        assert.equal(
            at(["openstack", "overcloud", "network", "provision", "--output", "/h/dcn/dcn0/n.yaml", "/h/net.yaml"]),
            "metal:dcn0",
        );
        assert.equal(at(["openstack", "server", "create", "--image", "x", "v"]), null);
        assert.equal(at(["openstack", "baremetal", "node", "list"]), null);
        assert.equal(at(["metalsmith", "list"]), null);
    });

    it("sums the successful commands of a step and ignores failed ones", () => {
        const log = [
            entry(0, 2, ["openstack", "overcloud", "node", "provision", "--stack", "dcn0"]),
            entry(2, 3, ["openstack", "overcloud", "network", "vip", "provision", "--stack", "dcn0"]),
            entry(3, 9, ["openstack", "overcloud", "ceph", "deploy"], "dcn0", 1),
            entry(9, 12, ["openstack", "overcloud", "ceph", "deploy"], "dcn0"),
        ];
        const d = stepDurations(log, "control-plane");
        assert.equal(d.get("metal:dcn0"), 3);
        assert.equal(d.get("ceph:dcn0"), 3);
    });

    it("seed with the reference durations: lower bound 0.63 × sequential", () => {
        const steps = stepGraph(seedDurations(), "control-plane", ["dcn0", "dcn1"]);
        const lb = lowerBound(steps);
        // 15 + 20 + 1 + 20 + 70 + 1 + 10 + 10 + 35 = 182
        assert.equal(lb.makespan, 182);
        assert.equal(lb.exact, true);
        assert.equal(lb.heatOrder[0], "heat:control-plane");
        const seq = sequentialSum(steps);
        assert.equal(seq, 3 * 15 + 3 * 20 + 1 + 20 + 70 + 1 + 2 * 45);
        assert.ok(Math.abs(lb.makespan / seq - 0.63) < 0.01, `${lb.makespan / seq}`);
        // Ignoring the Heat rule both DCN deploys would run side by side: 172.
        assert.equal(criticalPath(steps), 172);
    });

    it("the longer config-download goes first among DCN Heat phases", () => {
        const d = seedDurations();
        d.set("config:dcn1", 60);
        const steps = stepGraph(d, "control-plane", ["dcn0", "dcn1"]);
        const lb = lowerBound(steps);
        assert.deepEqual(lb.heatOrder, ["heat:control-plane", "heat:dcn1", "heat:dcn0"]);
        assert.equal(lb.makespan, 127 + 10 + 60);
        // The heuristic for many sites agrees with the exhaustive search here.
        assert.equal(lowerBound(steps, 0).makespan, lb.makespan);
    });

    it("ten DCN sites: Heat phases serialized, the last config-download ends the run", () => {
        const dcns = Array.from({ length: 10 }, (_, i) => `dcn${i}`);
        const d = seedDurations();
        for (const s of dcns) {
            d.set(`metal:${s}`, 15);
            d.set(`ceph:${s}`, 20);
            d.set(`heat:${s}`, 10);
            d.set(`config:${s}`, 35);
        }
        const steps = stepGraph(d, "control-plane", dcns);
        const lb = lowerBound(steps);
        assert.equal(lb.exact, false);
        assert.equal(lb.makespan, 127 + 10 * 10 + 35);
    });

    it("a heat order against the dependencies is refused", () => {
        const steps: Step[] = [
            { id: "a", duration: 1, deps: [], heat: true },
            { id: "b", duration: 1, deps: ["a"], heat: true },
        ];
        assert.throws(() => scheduleWithHeatOrder(steps, ["b", "a"]), /contradicts/);
        assert.equal(scheduleWithHeatOrder(steps, ["a", "b"]).makespan, 2);
    });

    it("start delays: time between the dependencies' end and the step's start", () => {
        const c = "control-plane";
        const log = [
            entry(0, 3, ["openstack", "overcloud", "node", "provision", "--stack", c]),
            entry(5, 10, ["openstack", "overcloud", "ceph", "deploy"], c),
            entry(0, 2, ["openstack", "overcloud", "node", "provision", "--stack", "dcn0"]),
            entry(2.5, 8, ["openstack", "overcloud", "ceph", "deploy"], "dcn0"),
            entry(11, 11.1, ["openstack", "overcloud", "export", "ceph", "--stack", "dcn0"]),
            entry(12, 14, ["openstack", "overcloud", "deploy", "--templates", "--stack", c, "--stack-only"]),
        ];
        const steps = stepGraph(stepDurations(log, c), c, ["dcn0"]);
        const d = startDelays(log, steps, c);
        assert.equal(d[`ceph:${c}`], 2);
        assert.equal(d["ceph:dcn0"], 0.5);
        assert.equal(d["exports"], 1);
        assert.ok(Math.abs(d[`heat:${c}`] - 0.9) < 1e-9);
        // No central-export command: the DCN Heat phase is late from the central config-download's end.
        const more = [
            ...log,
            entry(14, 20, ["openstack", "overcloud", "deploy", "--templates", "--stack", c, "--config-download-only"]),
            entry(21.5, 23, ["openstack", "overcloud", "deploy", "--templates", "--stack", "dcn0", "--stack-only"]),
        ];
        assert.equal(startDelays(more, stepGraph(stepDurations(more, c), c, ["dcn0"]), c)["heat:dcn0"], 1.5);
    });

    it("critical chain: back from the last step through the dependency that ended last", () => {
        const c = "control-plane";
        const log = [
            entry(0, 1, ["openstack", "overcloud", "roles", "generate", "-o", "/h/dcn/control-plane/roles.yaml"]),
            entry(1.2, 3, ["openstack", "overcloud", "node", "provision", "--stack", c]),
            entry(0, 2, ["openstack", "overcloud", "node", "provision", "--stack", "dcn0"]),
            entry(4, 10, ["openstack", "overcloud", "ceph", "deploy"], c),
            entry(2.5, 8, ["openstack", "overcloud", "ceph", "deploy"], "dcn0"),
            entry(11, 11.1, ["openstack", "overcloud", "export", "ceph", "--stack", "dcn0"]),
            entry(10.5, 10.6, ["openstack", "overcloud", "export", "ceph", "--stack", c]),
            entry(12, 14, ["openstack", "overcloud", "deploy", "--templates", "--stack", c, "--stack-only"]),
            entry(14, 20, ["openstack", "overcloud", "deploy", "--templates", "--stack", c, "--config-download-only"]),
            entry(20.5, 22, ["openstack", "overcloud", "deploy", "--templates", "--stack", "dcn0", "--stack-only"]),
            entry(22, 30, [
                "openstack",
                "overcloud",
                "deploy",
                "--templates",
                "--stack",
                "dcn0",
                "--config-download-only",
            ]),
        ];
        const chain = criticalChain(log, stepGraph(stepDurations(log, c), c, ["dcn0"]), c);
        assert.deepEqual(
            chain.map((l) => l.step),
            [`metal:${c}`, `ceph:${c}`, "exports", `heat:${c}`, `config:${c}`, "heat:dcn0", "config:dcn0"],
        );
        const round = (x: number) => Math.round(x * 1000) / 1000;
        assert.deepEqual(
            chain.map((l) => round(l.delay)),
            [0, 1, 1, 0.9, 0, 0.5, 0],
        );
        // metal: span 3 s, busy 2.8 s (a 0.2 s gap between its commands).
        assert.equal(round(chain[0].busy), 2.8);
        assert.equal((chain[0].end - chain[0].start) / 1000, 3);
    });

    it("sequential order lists every step once", () => {
        const order = sequentialOrder("control-plane", ["dcn0", "dcn1"]);
        const steps = stepGraph(seedDurations(), "control-plane", ["dcn0", "dcn1"]);
        assert.deepEqual([...order].sort(), steps.map((s) => s.id).sort());
        assert.equal(order[0], "metal:control-plane");
        assert.equal(order.at(-1), "config:dcn1");
    });
});
