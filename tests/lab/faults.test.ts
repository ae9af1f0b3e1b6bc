// Injected faults (fail, hang, drop) and the undercloud's concurrency rules (reference §9): node
// provision and ceph deploy of different stacks overlap fine; two deploys whose Heat phases overlap
// both fail (one ephemeral Heat per undercloud); --config-download-only runs side by side.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { alive, undercloudProcesses } from "../../lab/power";
import {
    Lab,
    NETWORK_PROVISION,
    cephCommand,
    centralDeployCommand,
    dcnDeployCommand,
    exportCeph,
    metalCommands,
    portFor,
    writeSiteFiles,
} from "./helpers";

const lab = new Lab(portFor("faults"), 0.05);

before(() => lab.start());
after(() => lab.destroy());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | undefined, timeoutMs = 60_000): Promise<T> {
    const t0 = Date.now();
    for (;;) {
        const v = fn();
        if (v !== undefined) return v;
        if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
        await sleep(200);
    }
}

/** PIDs of undercloud CLI processes of this lab whose argv contains `words`. */
function undercloudPids(words: string): number[] {
    const out: number[] = [];
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const argv = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
            if (argv.includes(path.join(lab.dir, "bin", "undercloud.cjs")) && argv.join(" ").includes(words))
                out.push(Number(d));
        } catch {
            /* exited */
        }
    }
    return out;
}

test("fault fail: the next matching command exits non-zero with the message, once", async () => {
    await writeSiteFiles(lab);
    await lab.ok(NETWORK_PROVISION);
    const add = lab.cli(
        "fault",
        "add",
        "--command",
        "overcloud node provision",
        "--stack",
        "control-plane",
        "--kind",
        "fail",
        "--message",
        "ERROR: Node oc0-controller-1 deploy failed: Timeout reached while waiting for callback",
    );
    assert.equal(add.code, 0, add.stderr);
    assert.equal(lab.cli("fault", "list").stdout.trim().split("\n").length, 1);
    const [vip, provision] = metalCommands("control-plane");
    await lab.ok(vip, undefined);
    const r = await lab.ssh(provision);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Timeout reached while waiting for callback/);
    assert.equal(lab.log().at(-1)?.exit, 1);
    assert.equal(lab.cli("fault", "list").stdout.trim(), "", "consumed");
    await lab.ok(provision);
    assert.equal(lab.state().nodes.find((n) => n.name === "oc0-controller-1")?.state, "active");
});

test("fault drop: the SSH connection is cut mid-run, the command goes on and completes", async () => {
    lab.cli("fault", "add", "--command", "overcloud node provision", "--stack", "dcn0", "--kind", "drop");
    const [vip, provision] = metalCommands("dcn0");
    await lab.ok(vip);
    const r = await lab.ssh(provision);
    assert.equal(r.code, 255, `ssh should report a dropped connection, got ${r.code}: ${r.stderr}`);
    const entry = await waitFor("the dropped command to finish", () =>
        lab
            .log()
            .find(
                (e) => e.stack === "dcn0" && e.argv.includes("provision") && e.argv.includes("node") && e.end !== null,
            ),
    );
    assert.equal(entry.exit, 0);
    assert.equal(lab.state().nodes.find((n) => n.name === "oc0-ceph-1")?.stack, "dcn0");
    await lab.ok("test -s ~/dcn/dcn0/deployed-metal-dcn0.yaml");
});

test("fault hang: the command blocks until killed", async () => {
    lab.cli("fault", "add", "--command", "baremetal node list", "--kind", "hang");
    const pending = lab.ssh("openstack baremetal node list");
    let done = false;
    void pending.then(() => (done = true));
    const pids = await waitFor("the hung command", () => {
        const p = undercloudPids("baremetal node list");
        return p.length ? p : undefined;
    });
    await sleep(1500);
    assert.equal(done, false, "still blocked");
    assert.equal(lab.log().at(-1)?.end, null);
    for (const pid of pids) process.kill(pid, "SIGTERM");
    const r = await pending;
    assert.notEqual(r.code, 0);
    assert.equal(lab.log().at(-1)?.exit, 143);
});

test("node provision and ceph deploy of different stacks overlap fine", { timeout: 180_000 }, async () => {
    const [vip] = metalCommands("dcn1");
    await lab.ok(vip);
    await lab.ok(metalCommands("dcn1")[1]);
    // The first two runs race for the shared ceph-admin SSH key (§9): one of them fails.
    const first = await Promise.all(["control-plane", "dcn0"].map((s) => lab.ssh(cephCommand(s))));
    assert.deepEqual(first.map((r) => r.code).sort(), [0, 1]);
    assert.match(first.find((r) => r.code === 1)!.stderr, /ceph-admin SSH key was being created by another/);
    // With the key in place, ceph deploy of different stacks overlaps fine.
    const failed = first[0].code === 0 ? "dcn0" : "control-plane";
    await Promise.all([failed, "dcn1"].map((s) => lab.ok(cephCommand(s))));
    const s = lab.state();
    assert.deepEqual(s.cephClusters.map((c) => [c.name, c.running]).sort(), [
        ["central", true],
        ["dcn0", true],
        ["dcn1", true],
    ]);
    await exportCeph(lab);
    await lab.ok(centralDeployCommand());
    await lab.ok("cd ~/dcn && cp ~/overcloud-deploy/control-plane/control-plane-export.yaml .");
});

test("two deploys whose Heat phases overlap both fail (one ephemeral Heat)", { timeout: 120_000 }, async () => {
    // A slower clock for these two runs only (3 s Heat phases), so the second SSH session reliably
    // starts inside the first one's Heat phase even on a loaded machine.
    const slow = (command: string) => `export LAB_TIME_SCALE=0.3; ${command}`;
    const first = lab.ssh(slow(dcnDeployCommand("dcn0")));
    await sleep(500);
    const second = lab.ssh(slow(dcnDeployCommand("dcn1")));
    const [a, b] = await Promise.all([first, second]);
    assert.notEqual(a.code, 0, a.stdout.slice(-500));
    assert.notEqual(b.code, 0, b.stdout.slice(-500));
    assert.match(b.stdout, /pod already running, skipping launch/);
    assert.match(a.stderr + b.stderr, /Heat Stack create failed/);
    assert.match(a.stderr + b.stderr, /Unable to establish connection to http:\/\/127.0.0.1:8006|Engine went away/);
    const st = lab.state().stacks;
    assert.equal(st.find((x) => x.name === "dcn0")?.status, "DEPLOY_FAILED");
    assert.equal(st.find((x) => x.name === "dcn1")?.status, "DEPLOY_FAILED");
});

test(
    "Heat phases one at a time (--stack-only), config-download side by side (--config-download-only)",
    { timeout: 120_000 },
    async () => {
        await lab.ok(dcnDeployCommand("dcn0", "--stack-only"));
        await lab.ok(dcnDeployCommand("dcn1", "--stack-only"));
        const runs = await Promise.all(
            ["dcn0", "dcn1"].map((s) => lab.ssh(dcnDeployCommand(s, "--config-download-only"))),
        );
        for (const r of runs) assert.equal(r.code, 0, r.stderr);
        const st = lab.state().stacks;
        assert.deepEqual(
            st.map((x) => [x.name, x.status]),
            [
                ["control-plane", "DEPLOY_SUCCESS"],
                ["dcn0", "DEPLOY_SUCCESS"],
                ["dcn1", "DEPLOY_SUCCESS"],
            ],
        );
        const cd = lab.log().filter((e) => e.argv.includes("--config-download-only"));
        assert.equal(cd.length, 2);
        assert.ok(cd[0].end! > cd[1].start && cd[1].end! > cd[0].start, "the two config-download runs overlapped");
        await lab.ok("source ~/control-planerc && openstack aggregate show dcn1");
    },
);

test("reboot: the undercloud's commands and detached jobs die with it; the lab comes back", async () => {
    const started = await lab.ssh(
        "nohup setsid sh -c 'sleep 300; echo survived > ~/rebooted' > /dev/null 2>&1 & echo ok",
    );
    assert.equal(started.code, 0, started.stderr);
    const job = await waitFor("the detached job", () => {
        const p = undercloudProcesses(lab.dir).filter((pid) => {
            try {
                return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("sleep 300");
            } catch {
                return false;
            }
        });
        return p.length ? p : undefined;
    });
    const r = lab.cli("reboot");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /power cycle: killed \d+ process/);
    for (const pid of job) {
        assert.ok(!alive(pid), `job ${pid} killed`);
    }
    await lab.ok("true");
    assert.ok(
        lab.state().cephClusters.every((c) => c.running),
        "the sites' Ceph clusters run again after the reboot",
    );
});
