// End to end: the real program (compiled bin/), the project's own Pulumi CLI and a private lab
// (own LAB_DIR, SSH port and Ceph loopback net, so it never collides with `npm start`'s lab).
// Checks the "done when": seed order in the lab's command log (metal → ceph → exports →
// central deploy → DCN deploys; Heat phases serialized, config-download phases overlapping),
// preview with no changes and no mutating command, preview without a reachable undercloud,
// no plaintext secret in the state, destroy in reverse order leaving the lab empty.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { PulumiWorkspace, projectRoot, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { criticalPath, readRuns } from "../../tools/timeline";
import {
    type LabLogEntry,
    type PrivateLab,
    buildProgram,
    devConfig,
    programFixture,
    startPrivateLab,
    writeStackConfig,
} from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-program-"));
const labDir = path.join(root, "lab");
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
const lab = (...args: string[]): string => privateLab.lab(...args);
/** Log entries of finished commands (these tests read the log only when nothing is running). */
type LogEntry = LabLogEntry & { end: string; exit: number };
const labLog = (): LogEntry[] => privateLab.log() as LogEntry[];

const sub = (e: LogEntry) => e.argv.slice(1, 4).join(" ");
const stackOf = (e: LogEntry) => e.stack ?? (e.argv.includes("--stack") ? e.argv[e.argv.indexOf("--stack") + 1] : null);
const t = (s: string) => Date.parse(s);
function find(log: LogEntry[], pred: (e: LogEntry) => boolean, what: string): LogEntry[] {
    const r = log.filter(pred);
    assert.ok(r.length > 0, `no ${what} in the lab log`);
    return r;
}
const overlap = (a: LogEntry, b: LogEntry) => t(a.start) < t(b.end) && t(b.start) < t(a.end);
const span = (e: LogEntry) => `${stackOf(e)} ${e.start.slice(11, 23)}..${e.end.slice(11, 23)}`;

describe("program against the lab", { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" }, () => {
    before(async () => {
        buildProgram();
        // Time scale 0.2 s per simulated minute: steps long enough that "overlap" is not a matter of luck.
        privateLab = await startPrivateLab(labDir, "0.2");
        const fixture = programFixture(path.join(root, "project"), labDir);
        writeStackConfig(fixture, "it", devConfig());
        ws = await pulumiWorkspace(fixture, "it");
    });

    after(() => {
        privateLab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("up deploys the seed topology in the seed order", async () => {
        const began = Date.now();
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        const wall = (Date.now() - began) / 1000;
        const log = labLog();
        const sites = ["control-plane", "dcn0", "dcn1"];
        for (const s of sites) {
            const metal = find(
                log,
                (e) => sub(e) === "overcloud node provision" && stackOf(e) === s && e.exit === 0,
                `metal of ${s}`,
            );
            const ceph = find(
                log,
                (e) => sub(e) === "overcloud ceph deploy" && stackOf(e) === s && e.exit === 0,
                `ceph of ${s}`,
            );
            assert.ok(t(metal[0].end) <= t(ceph[0].start), `${s}: metal before ceph`);
        }
        const dcnExport = find(
            log,
            (e) => sub(e) === "overcloud export ceph" && e.argv.includes("dcn0,dcn1"),
            "DCN ceph export",
        )[0];
        const deploys = (s: string, flag: string) =>
            find(
                log,
                (e) => sub(e) === "overcloud deploy --templates" && stackOf(e) === s && e.argv.includes(flag),
                `${flag} of ${s}`,
            )[0];
        const centralHeat = deploys("control-plane", "--stack-only");
        const centralConfig = deploys("control-plane", "--config-download-only");
        assert.ok(t(dcnExport.end) <= t(centralHeat.start), "DCN exports before the central deploy");
        for (const d of ["dcn0", "dcn1"]) {
            assert.ok(t(centralConfig.end) <= t(deploys(d, "--stack-only").start), `central deploy before ${d}`);
        }
        const metal = (s: string) =>
            find(log, (e) => sub(e) === "overcloud node provision" && stackOf(e) === s, "metal")[0];
        const ceph = (s: string) =>
            find(log, (e) => sub(e) === "overcloud ceph deploy" && stackOf(e) === s && e.exit === 0, "ceph")[0];
        assert.ok(
            overlap(metal("dcn0"), metal("dcn1")),
            `dcn0/dcn1 metal overlap: ${span(metal("dcn0"))} ${span(metal("dcn1"))}`,
        );
        assert.ok(
            overlap(ceph("dcn0"), ceph("dcn1")),
            `dcn0/dcn1 ceph overlap: ${span(ceph("dcn0"))} ${span(ceph("dcn1"))}`,
        );
        const heats = log.filter((e) => sub(e) === "overcloud deploy --templates" && e.argv.includes("--stack-only"));
        for (let i = 0; i < heats.length; i++) {
            for (let j = i + 1; j < heats.length; j++) {
                assert.ok(
                    !overlap(heats[i], heats[j]),
                    `Heat phases of ${stackOf(heats[i])} and ${stackOf(heats[j])} overlap`,
                );
            }
        }
        assert.ok(
            overlap(deploys("dcn0", "--config-download-only"), deploys("dcn1", "--config-download-only")),
            "DCN config-download phases overlap",
        );
        const first = Math.min(...log.map((e) => t(e.start)));
        const last = Math.max(...log.map((e) => t(e.end)));
        console.log(
            `up wall time ${wall.toFixed(1)} s; undercloud busy from first to last command ${((last - first) / 1000).toFixed(1)} s`,
        );
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.equal(out.sites.dcn0.status, "DEPLOY_SUCCESS");
        assert.match(out.sites.dcn1.cephFsid, /^[0-9a-f-]{36}$/);
        assert.deepEqual(out.sites["control-plane"].glanceStoreIds, ["central", "dcn0", "dcn1"]);
    });

    it("the program's own timings of that up: Heat phases one at a time, DCN config-downloads side by side, a chart", () => {
        // Recorded by the providers (logs/<stack>/timeline.jsonl under the project), not the lab.
        const logs = path.join(ws.projectDir, "logs", "it");
        const file = path.join(logs, "timeline.jsonl");
        assert.ok(fs.existsSync(file), `no ${file}`);
        const runs = readRuns(fs.readFileSync(file, "utf8"));
        assert.equal(runs.length, 1, "one run recorded");
        const steps = runs[0].steps;
        const spans = (phase: string, site?: string) =>
            steps
                .filter((s) => site === undefined || s.site === site)
                .flatMap((s) => s.phases.filter((p) => p.phase === phase).map((p) => ({ ...p, site: s.site })));
        // The times are when the program received each line: the runner long-polls the job, so
        // they are late by up to one poll (2 s; 5 s allowed for a loaded machine).
        const RESOLUTION = 5000;
        const heats = spans("Heat");
        assert.deepEqual(heats.map((h) => h.site).sort(), ["control-plane", "dcn0", "dcn1"]);
        for (const a of heats)
            for (const b of heats)
                if (a !== b)
                    assert.ok(
                        a.end <= b.start + RESOLUTION || b.end <= a.start + RESOLUTION,
                        `Heat of ${a.site} and ${b.site} overlap`,
                    );
        const [centralConfig] = spans("config-download", "control-plane");
        for (const d of ["dcn0", "dcn1"])
            assert.ok(centralConfig.end <= spans("Heat", d)[0].start + RESOLUTION, `central before ${d}`);
        const [c0] = spans("config-download", "dcn0");
        const [c1] = spans("config-download", "dcn1");
        assert.ok(c0.start < c1.end && c1.start < c0.end, "DCN config-downloads overlap");
        // The critical path ends with the last phase and runs through the central Heat phase.
        const path_ = criticalPath(steps).map((r) => `${steps[r.step].site} ${steps[r.step].phases[r.phase].phase}`);
        assert.ok(path_.includes("control-plane Heat"), path_.join(" → "));
        const png = path.join(logs, "timeline.png");
        const r = spawnSync(
            process.execPath,
            ["--import", "tsx", path.join(projectRoot, "tools", "timeline.ts"), "--stack", "it"],
            {
                env: { ...process.env, DCN_LOG_DIR: path.join(ws.projectDir, "logs") },
                encoding: "utf8",
            },
        );
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), png);
        assert.deepEqual([...fs.readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], "a PNG");
        console.log(`timeline: ${steps.length} steps; critical path ${path_.join(" → ")}`);
    });

    it("preview right after shows no changes and runs no mutating command", async () => {
        const before = labLog().filter((e) => e.mutating).length;
        await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
        assert.equal(labLog().filter((e) => e.mutating).length, before);
    });

    it("a plain preview works with the undercloud unreachable", async () => {
        lab("stop");
        try {
            await ws.ok(["preview", "--non-interactive"]);
        } finally {
            lab("start");
        }
    });

    it("the state holds no plaintext cephx key or private key", async () => {
        const state = (await ws.ok(["stack", "export"])).stdout;
        // A cephx key is 40 base64 characters: "AQ", 36 more, "==" (reference §3.3: [A-Za-z0-9+/]{38}==).
        // A standalone token: inside a longer base64 ciphertext the same shape turns up by chance.
        const cephxKey = /(?<![A-Za-z0-9+/])AQ[A-Za-z0-9+/]{36}==(?![A-Za-z0-9+/=])/;
        assert.ok(!cephxKey.test(state), `cephx key in plaintext: ${cephxKey.exec(state)?.[0].slice(0, 6)}…`);
        assert.ok(!/PRIVATE KEY/.test(state), "private key in plaintext");
        const key = fs.readFileSync(
            JSON.parse(fs.readFileSync(path.join(labDir, "connection.json"), "utf8")).privateKeyPath,
            "utf8",
        );
        const body = key.split("\n").find((l) => l.length > 40 && !l.startsWith("-----"));
        assert.ok(body && !state.includes(body));
    });

    it("refresh reports a stack deleted out of band and the next up repairs it", async () => {
        lab("ssh", "--", "openstack", "overcloud", "delete", "dcn1", "--yes");
        const refresh = await ws.ok(["refresh", "--yes", "--non-interactive", "--skip-preview"]);
        assert.match(refresh.stdout, /dcn1-overcloud\s+deleted/);
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.equal(out.sites.dcn1.status, "DEPLOY_SUCCESS");
        await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
    });

    it("adding dcn2 with a failing deploy: up fails with the undercloud's message, the next up finishes without repeating steps; dcn0/dcn1 untouched", async () => {
        const from = labLog().length;
        for (const [k, v] of [
            ["sites[3].name", "dcn2"],
            ["sites[3].kind", "dcn"],
            ["sites[3].cephCluster", "dcn2"],
            ["sites[3].roles[0].name", "DistributedComputeHCI"],
            ["sites[3].roles[0].instances[0]", "oc0-spare-0"],
        ]) {
            await ws.ok(["config", "set", "--path", k, v]);
        }
        lab(
            "fault",
            "add",
            "--command",
            "overcloud deploy",
            "--stack",
            "dcn2",
            "--kind",
            "fail",
            "--message",
            "injected: heat stack dcn2 CREATE_FAILED",
        );
        const failed = await ws.run(["up", "--yes", "--non-interactive", "--skip-preview"]);
        assert.notEqual(failed.code, 0);
        assert.match(failed.stdout + failed.stderr, /injected: heat stack dcn2 CREATE_FAILED/);
        lab("fault", "clear");
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        const log = labLog().slice(from);
        const count = (cmd: string, stack: string) =>
            log.filter((e) => sub(e).startsWith(cmd) && stackOf(e) === stack && e.exit === 0).length;
        assert.equal(count("overcloud node provision", "dcn2"), 1, "dcn2 provisioned once");
        assert.equal(count("overcloud ceph deploy", "dcn2"), 1, "dcn2 ceph deployed once");
        for (const d of ["dcn0", "dcn1"]) {
            assert.equal(log.filter((e) => stackOf(e) === d && e.mutating).length, 0, `${d} untouched`);
        }
        assert.ok(count("overcloud deploy --templates", "control-plane") >= 1, "central redeployed with dcn2's store");
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.deepEqual(out.sites["control-plane"].glanceStoreIds, ["central", "dcn0", "dcn1", "dcn2"]);
    });

    it("removing dcn2 reverses it and leaves dcn0/dcn1 untouched", async () => {
        const from = labLog().length;
        await ws.ok(["config", "rm", "--path", "sites[3]"]);
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        const log = labLog().slice(from);
        assert.ok(log.some((e) => sub(e).startsWith("overcloud delete") && e.argv.includes("dcn2")));
        for (const d of ["dcn0", "dcn1"]) {
            assert.equal(log.filter((e) => stackOf(e) === d && e.mutating).length, 0, `${d} untouched`);
        }
        const state = JSON.parse(lab("state", "--json"));
        assert.deepEqual(
            state.nodes.filter((n: { stack: string | null }) => n.stack === "dcn2"),
            [],
        );
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.deepEqual(out.sites["control-plane"].glanceStoreIds, ["central", "dcn0", "dcn1"]);
    });

    it("destroy empties the lab in reverse order", async () => {
        const from = labLog().length;
        await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
        const log = labLog().slice(from);
        const del = (s: string) =>
            find(log, (e) => sub(e).startsWith("overcloud delete") && e.argv.includes(s), `delete of ${s}`)[0];
        const unprov = find(log, (e) => sub(e) === "overcloud node unprovision", "unprovision");
        for (const d of ["dcn0", "dcn1"]) {
            assert.ok(t(del(d).end) <= t(del("control-plane").start), `${d} deleted before central`);
        }
        for (const u of unprov) {
            assert.ok(t(del("control-plane").end) <= t(u.start), "stacks deleted before metal");
        }
        const state = JSON.parse(lab("state", "--json"));
        assert.deepEqual(state.stacks, []);
        assert.deepEqual(
            state.nodes.filter((n: { stack: string | null }) => n.stack),
            [],
        );
        assert.deepEqual(
            state.nodes.filter((n: { disksDirty?: boolean }) => n.disksDirty).map((n: { name: string }) => n.name),
            [],
        );
        assert.deepEqual(
            state.cephClusters.filter((c: { running?: boolean }) => c.running),
            [],
        );
    });
});
