// The seed through REAL TripleO (lab/tripleo): python-tripleoclient 20.0.0, tripleo-heat-templates
// 18.0.0 and ephemeral Heat create the stacks; only hardware is simulated. The real program, the
// project's Pulumi CLI and a private real-mode lab. Asserts on what only real THT + Heat produce,
// that no command the program sends is refused by tripleoclient (no exit 2), that the program never
// overlaps two Heat phases, and the defects of issue 11 a real undercloud shows:
// `preview --refresh --expect-no-changes` clean right after up (ceph_client.yml where tripleoclient
// writes it), a Ceph re-run (dcn0 scale-out) keeping dcn0's cephx key, a site added and removed,
// destroy leaving the lab empty. ~25 min: every Heat phase is real.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { spawn } from "node:child_process";
import { PulumiWorkspace, projectRoot, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { shJoin } from "../../providers/remote/shell";
import {
    type LabLogEntry,
    type PrivateLab,
    buildProgram,
    devConfig,
    programFixture,
    startPrivateLab,
    writeStackConfig,
} from "../support/lab";
import { killAll, undercloudProcesses } from "../../lab/power";
import { checkInstalled } from "../../lab/tripleo/real";
import { paths } from "../../lab/paths";
import { unprovisionCommand } from "../../providers/baremetalNodes";
import {
    commandsByKind,
    comparableOutputs,
    compareFiles,
    isContractCommand,
    kindOf,
    lastRunFlags,
    malformedVariants,
    rebase,
    replayThroughImitation,
    runEach,
} from "../support/contract";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-real-"));
const labDir = path.join(root, "lab");
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
type LogEntry = LabLogEntry & { end: string; exit: number };
const labLog = (): LogEntry[] => privateLab.log() as LogEntry[];
const sub = (e: LogEntry) => e.argv.slice(1, 4).join(" ");
const stackOf = (e: LogEntry) => e.stack ?? (e.argv.includes("--stack") ? e.argv[e.argv.indexOf("--stack") + 1] : null);
const t = (s: string) => Date.parse(s);
const overlap = (a: LogEntry, b: LogEntry) => t(a.start) < t(b.end) && t(b.start) < t(a.end);
/** A file of the lab undercloud's home. */
const home = (...p: string[]) => path.join(labDir, "home", ...p);
const cd = (stack: string, ...p: string[]) => home("overcloud-deploy", stack, "config-download", stack, ...p);

const skip =
    (!toolchainBuilt() && "toolchain not built (npm run setup)") ||
    (checkInstalled() && `real TripleO not installed (npm run setup)`) ||
    (process.getuid?.() !== 0 && "the real-TripleO lab needs root");

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
    const t0 = Date.now();
    while (!cond() && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 500));
}

function upOk(): Promise<unknown> {
    return ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
}

/** Every command of the program the real tripleoclient ran: none refused by its argument parser. */
function assertNoneRefused(log: LogEntry[]): void {
    const refused = log.filter((e) => e.argv[0] === "openstack" && e.argv[1] === "overcloud" && e.exit === 2);
    assert.deepEqual(
        refused.map((e) => e.argv.join(" ")),
        [],
        "tripleoclient refused (argparse exit 2) a command the program sent",
    );
}

function assertHeatNeverOverlaps(log: LogEntry[]): void {
    const heats = log.filter((e) => sub(e) === "overcloud deploy --templates" && e.argv.includes("--stack-only"));
    for (let i = 0; i < heats.length; i++)
        for (let j = i + 1; j < heats.length; j++)
            assert.ok(
                !overlap(heats[i], heats[j]),
                `Heat phases of ${stackOf(heats[i])} and ${stackOf(heats[j])} overlap`,
            );
}

/** The cephx key of client.openstack that the site's deployed-ceph and ceph_client.yml carry. */
function siteKey(stack: string): string {
    const vars = parse(fs.readFileSync(home("overcloud-deploy", stack, "ceph_client.yml"), "utf8")) as {
        keys: Array<{ name: string; key: string }>;
    };
    return vars.keys.find((k) => k.name === "client.openstack")!.key;
}

describe("the seed through real tripleoclient, THT and Heat", { skip }, () => {
    before(async () => {
        buildProgram();
        privateLab = await startPrivateLab(labDir, "0.05", "real");
        const fixture = programFixture(path.join(root, "project"), labDir);
        writeStackConfig(fixture, "real", devConfig());
        ws = await pulumiWorkspace(fixture, "real");
    });

    after(async () => {
        // A deploy cut short by a failed test goes on (it is detached, as on an undercloud): stop it
        // and its ephemeral Heat, which would hold 127.0.0.1:8006 for the next real lab.
        if (privateLab) await killAll(undercloudProcesses(privateLab.dir));
        privateLab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("up deploys the seed: three real Heat stacks, one at a time, nothing refused", async () => {
        const began = Date.now();
        await upOk();
        console.log(`seed up through real TripleO: ${((Date.now() - began) / 1000).toFixed(0)} s`);
        const log = labLog();
        assertNoneRefused(log);
        assertHeatNeverOverlaps(log);
        for (const s of ["control-plane", "dcn0", "dcn1"]) {
            const status = parse(fs.readFileSync(home("overcloud-deploy", s, `${s}-deployment_status.yaml`), "utf8"));
            assert.equal(status.deployment_status, "DEPLOY_SUCCESS", s);
        }
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.deepEqual(out.sites["control-plane"].glanceStoreIds, ["central", "dcn0", "dcn1"]);
        // The validation resource fails the up unless every site passed: its summary names them.
        assert.deepEqual(
            [...out.validation.stores].sort(),
            ["central", "dcn0", "dcn1"],
            JSON.stringify(out.validation),
        );
    });

    it("real THT put every DCN store in central Glance's hieradata and the DCN keyrings in its external deploy steps", () => {
        const hiera = parse(fs.readFileSync(cd("control-plane", "Controller", "config_settings.yaml"), "utf8"));
        const multistore = hiera["tripleo::profile::base::glance::api::multistore_config"];
        assert.deepEqual(Object.keys(multistore).sort(), ["dcn0", "dcn1"]);
        assert.equal(multistore.dcn0.CephClusterName, "dcn0");
        const step1 = fs.readFileSync(cd("control-plane", "external_deploy_steps_tasks_step1.yaml"), "utf8");
        for (const c of ["dcn0", "dcn1"]) {
            assert.match(step1, new RegExp(`keyring: /etc/ceph/${c}\\.client\\.openstack\\.keyring`));
            assert.ok(step1.includes(siteKey(c)), `${c}'s own cephx key is what central's ceph client gets`);
        }
        // The DCN stacks got their VIPs (THT 18: ControlPlaneVipData) and the central exports.
        const dcnEnv = fs.readFileSync(
            home("overcloud-deploy", "dcn0", "environment", "tripleo-dcn0-environment.yaml"),
            "utf8",
        );
        assert.match(dcnEnv, /ControlPlaneVipData:/);
        assert.match(dcnEnv, /AuthCloudName: control-plane/);
    });

    it("preview and preview --refresh right after up: no changes, nothing mutating", async () => {
        const before = labLog().filter((e) => e.mutating).length;
        await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
        await ws.ok(["preview", "--refresh", "--expect-no-changes", "--non-interactive"]);
        assert.equal(labLog().filter((e) => e.mutating).length, before);
    });

    it("dcn0 scale-out and a new site dcn2: dcn0's Ceph re-runs with its cephx key unchanged", async () => {
        const key0 = siteKey("dcn0");
        const from = labLog().length;
        const set = (k: string, v: string) => ws.ok(["config", "set", "--path", k, v]);
        await set("sites[1].roles[1].instances[1]", "oc0-spare-0");
        await set("sites[3].name", "dcn2");
        await set("sites[3].kind", "dcn");
        await set("sites[3].cephCluster", "dcn2");
        await set("sites[3].roles[0].name", "DistributedComputeHCI");
        await set("sites[3].roles[0].instances[0]", "oc0-spare-1");
        await upOk();
        const log = labLog().slice(from);
        assertNoneRefused(log);
        assertHeatNeverOverlaps(log);
        assert.ok(
            log.some((e) => sub(e) === "overcloud ceph deploy" && stackOf(e) === "dcn0" && e.exit === 0),
            "dcn0's ceph deploy ran again",
        );
        assert.equal(siteKey("dcn0"), key0, "dcn0's cephx key kept across the ceph deploy re-run");
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        assert.deepEqual(out.sites["control-plane"].glanceStoreIds, ["central", "dcn0", "dcn1", "dcn2"]);
        const hiera = parse(fs.readFileSync(cd("control-plane", "Controller", "config_settings.yaml"), "utf8"));
        assert.ok(hiera["tripleo::profile::base::glance::api::multistore_config"].dcn2, "central redeployed with dcn2");
        // dcn2 registered in central (the lab's hardware cores, from the real deploy's environment).
        const state = JSON.parse(privateLab.lab("state", "--json"));
        assert.deepEqual(
            state.volumeServices
                .filter((v: { stack: string }) => v.stack === "dcn2")
                .map((v: { zone: string }) => v.zone),
            ["dcn2"],
        );
        assert.ok(state.computeServices.some((c: { stack: string }) => c.stack === "dcn2"));
        await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
    });

    it("contract: the imitation accepts only what real tripleoclient accepts and writes the same shapes", async () => {
        const began = Date.now();
        const realHome = paths(labDir).sessionHome;
        const imitationDir = path.join(root, "imitation");
        const imitationHome = paths(imitationDir).sessionHome;
        // What the program sent so far (seed, previews, scale-out, dcn2), as real tripleoclient ran it.
        const recorded = labLog().filter((e) => isContractCommand(e.argv) && e.exit !== null);
        // Malformed variants of each kind: ones the real client refuses before it changes anything
        // (argparse, or its own checks), outputs to a scratch dir. Unprovision and delete are not in
        // the recording yet: the program's own command lines for dcn2.
        const bases = commandsByKind(recorded, [
            unprovisionCommand("dcn2", `${realHome}/dcn/dcn2/baremetal-dcn2.yaml`, true).argv,
            ["openstack", "overcloud", "delete", "dcn2", "--yes", "--skip-ipa-cleanup"],
        ]);
        const variants = [...bases.values()].flatMap((a) =>
            malformedVariants(a, realHome, `${realHome}/contract-scratch`),
        );
        const logSize = fs.statSync(paths(labDir).log).size;
        const tail = (out: string) => out.trim().split("\n").slice(-2).join(" | ");
        // The real variants and the replay through a private imitation lab run side by side.
        const [real, { lab: imitation, results }] = await Promise.all([
            runEach(
                privateLab,
                variants.map((v) => v.argv),
                2,
            ).finally(() =>
                // The deliberately refused lines leave the real lab's log again: the later tests
                // check that no line *of the program* was refused.
                fs.truncateSync(paths(labDir).log, logSize),
            ),
            replayThroughImitation(labDir, recorded, { dir: imitationDir }),
        ]);
        // Diagnostics: earlier runs that failed (not judged) and lines whose last run failed mid-replay
        // and ran again at the end (see replayThroughImitation).
        const isLast = lastRunFlags(recorded);
        for (const r of results.filter((x, i) => !isLast[i] && x.exit !== 0 && x.recorded.exit === 0))
            console.log(`contract: an earlier run failed: ${kindOf(r.argv)} (${r.recorded.stack}): ${tail(r.output)}`);
        for (const r of results.filter((x) => x.firstTry))
            console.log(
                `contract: ran again at the end: ${kindOf(r.argv)} (${r.recorded.stack}): ` +
                    `first ${r.firstTry!.exit} (${tail(r.firstTry!.output)}), then ${r.exit}`,
            );
        try {
            // (i) where real refuses, the imitation refuses too; an argparse refusal (2) with 2.
            assert.deepEqual(
                variants.filter((_, i) => real[i].exit === 0).map((v) => `${v.kind}: ${v.what}`),
                [],
                "real tripleoclient accepted a variant meant to be malformed",
            );
            const mine = await runEach(
                imitation,
                variants.map((v) => rebase(v.argv, realHome, imitationHome)),
                4,
            );
            assert.deepEqual(
                variants.flatMap((v, i) =>
                    mine[i].exit === 0 || (real[i].exit === 2 && mine[i].exit !== 2)
                        ? [
                              `${v.kind}: ${v.what}: real ${real[i].exit} (${tail(real[i].output)}), imitation ${mine[i].exit}`,
                          ]
                        : [],
                ),
                [],
                "the imitation accepted what real tripleoclient refuses",
            );
            // (ii) every line real ran to success succeeds in the imitation, judged at its last run
            // (the input files copied are the last versions; see lastRunFlags).
            const last = lastRunFlags(recorded);
            assert.deepEqual(
                results
                    .filter((r, i) => last[i] && r.recorded.exit === 0 && r.exit !== 0)
                    .map(
                        (r) => `${r.argv.slice(0, 6).join(" ")} … (${r.recorded.stack}): ${r.exit}: ${tail(r.output)}`,
                    ),
                [],
                "the imitation refused a command line real tripleoclient ran",
            );
            // ...and the files both write have the same shape. Not compared: what only real Heat makes
            // (config-download/, outputs/, environment/): the imitation's Heat is simulated; the
            // program reads them only through the stack export, which is compared.
            const ALLOWED: Array<{ file: RegExp; diff: RegExp; why: string }> = [
                {
                    file: /\/roles-[^/]+\.yaml$/,
                    diff: /: \$\[\]\.\w+: only in (real|the imitation)$/,
                    why:
                        "the imitation's roles (lab/undercloud/roles.ts) keep name, description, counts, tags, " +
                        "networks and services; THT 18's role files also carry RoleParametersDefault, " +
                        "update_serial, … (only real THT reads them). Shared keys must still agree.",
                },
            ];
            const diffs = comparableOutputs(recorded, realHome).flatMap((f) =>
                compareFiles(path.join(labDir, "home"), path.join(imitationDir, "home"), f).filter(
                    (d) => !ALLOWED.some((x) => x.file.test(f) && x.diff.test(d)),
                ),
            );
            assert.deepEqual(diffs, [], "the imitation writes differently shaped files");
        } finally {
            imitation.stop();
        }
        console.log(
            `contract: ${recorded.length} recorded lines replayed, ${variants.length} malformed variants, ` +
                `${((Date.now() - began) / 1000).toFixed(0)} s`,
        );
    });

    it("removing dcn2: its stack is deleted, its nodes freed, central loses its store", async () => {
        const from = labLog().length;
        await ws.ok(["config", "rm", "--path", "sites[3]"]);
        await upOk();
        const log = labLog().slice(from);
        assertNoneRefused(log);
        assert.ok(log.some((e) => sub(e).startsWith("overcloud delete") && e.argv.includes("dcn2") && e.exit === 0));
        const state = JSON.parse(privateLab.lab("state", "--json"));
        assert.deepEqual(
            state.nodes.filter((n: { stack: string | null }) => n.stack === "dcn2"),
            [],
        );
        assert.ok(
            !fs.existsSync(home("overcloud-deploy", "dcn2")),
            "the real cli-overcloud-delete removed dcn2's working dir",
        );
        const hiera = parse(fs.readFileSync(cd("control-plane", "Controller", "config_settings.yaml"), "utf8"));
        assert.deepEqual(Object.keys(hiera["tripleo::profile::base::glance::api::multistore_config"]).sort(), [
            "dcn0",
            "dcn1",
        ]);
        // Nothing of dcn2 left in the central cloud (providers/centralCloud.ts).
        assert.ok(!state.aggregates.some((a: { name: string }) => a.name === "dcn2"), "no dcn2 aggregate");
        assert.deepEqual(
            state.computeServices.filter((c: { stack: string }) => c.stack === "dcn2"),
            [],
        );
        assert.deepEqual(
            state.volumeServices.filter((v: { zone: string }) => v.zone === "dcn2"),
            [],
        );
    });

    it("one ephemeral Heat per undercloud: two overlapping --stack-only runs break each other", async () => {
        // dcn0's own Heat-phase command line, for two new stack names at once (what the program's
        // Heat lock prevents): both start tripleoclient's native Heat on 127.0.0.1:8006.
        const dcn0 = labLog().find(
            (e) =>
                sub(e) === "overcloud deploy --templates" && stackOf(e) === "dcn0" && e.argv.includes("--stack-only"),
        )!;
        const asStack = (name: string) => dcn0.argv.map((a, i) => (dcn0.argv[i - 1] === "--stack" ? name : a));
        const run = (argv: string[]) => {
            let out = "";
            const done = new Promise<{ code: number; out: string }>((resolve) => {
                const child = spawn(
                    process.execPath,
                    ["--import", "tsx", path.join(projectRoot, "lab", "cli.ts"), "ssh", "--", shJoin(argv)],
                    { cwd: projectRoot, env: privateLab.env },
                );
                child.stdout.on("data", (b: Buffer) => (out += b.toString()));
                child.stderr.on("data", (b: Buffer) => (out += b.toString()));
                child.on("close", (code) => resolve({ code: code ?? -1, out }));
            });
            return { done, output: () => out };
        };
        const first = run(asStack("heatx0"));
        // The second starts once the first one's Heat is creating its stack.
        await waitFor(() => /Performing Heat stack create/.test(first.output()), 300_000);
        const second = run(asStack("heatx1"));
        const results = await Promise.all([first.done, second.done]);
        try {
            assert.ok(
                results.some((r) => r.code !== 0),
                `both overlapping Heat phases succeeded:\n${results.map((r) => r.out.slice(-400)).join("\n---\n")}`,
            );
        } finally {
            for (const s of ["heatx0", "heatx1"])
                privateLab.lab("ssh", "--", `openstack overcloud delete ${s} --yes --skip-ipa-cleanup || true`);
        }
    });

    it("destroy leaves the lab empty", async () => {
        await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
        assertNoneRefused(labLog());
        const state = JSON.parse(privateLab.lab("state", "--json"));
        assert.deepEqual(state.stacks, []);
        assert.deepEqual(
            state.nodes.filter((n: { stack: string | null }) => n.stack),
            [],
        );
        assert.deepEqual(
            state.cephClusters.filter((c: { running?: boolean }) => c.running),
            [],
        );
    });
});
