// Issue 11 (defect 10) through the real CLI on a private imitation lab: config changes that used
// to destroy a site. Central + dcn0 of the seed, deployed once; then
// - settings.workRoot moved: `preview` shows updates and no replace of a dcn resource, `up` moves the
//   generated files and runs no TripleO command (the lab's log gains no overcloud delete, node
//   unprovision, deploy or provision; only the sanity checks run again), a second preview is clean;
// - dcn0's cephCluster renamed: preview and up refuse naming the fix, nothing reaches the lab;
// - undercloud.host changed (same machine as `localhost`): refused until undercloud.sameAs names
//   the previous undercloud, then a quiet update;
// - destroy still takes it all down.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { PrivateLab, buildProgram, devConfig, programFixture, startPrivateLab, writeStackConfig } from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-safe-changes-"));
const STACK = "sc";
let lab: PrivateLab;
let ws: PulumiWorkspace;
let config: Record<string, unknown>;
let home: string;

const settings = () => config["dcn-storage:settings"] as Record<string, unknown>;
const sites = () => config["dcn-storage:sites"] as Array<Record<string, unknown>>;
const undercloud = () => config["dcn-storage:undercloud"] as Record<string, unknown>;
const write = () => writeStackConfig(ws.projectDir, STACK, config);

/** TripleO commands the lab ran since log index `from`, as `overcloud <verb> …` lines. */
function tripleoSince(from: number): string[] {
    return lab
        .log()
        .slice(from)
        .filter((e) => e.argv[0] === "openstack" && e.argv[1] === "overcloud")
        .map((e) => e.argv.slice(1, 4).join(" "));
}
const DESTRUCTIVE = /overcloud (delete|node unprovision)/;
const REDEPLOY = /overcloud (deploy|ceph deploy|node provision|network provision|export)/;

describe("config changes that must not destroy a site", { skip: !toolchainBuilt() && "toolchain not built" }, () => {
    before(async () => {
        buildProgram();
        lab = await startPrivateLab(path.join(root, "lab"), "0.05", "imitation");
        home = lab.connection().home;
        config = devConfig();
        delete settings().validation;
        config["dcn-storage:sites"] = sites().filter((s) => s.name !== "dcn1");
        ws = await pulumiWorkspace(programFixture(path.join(root, "project"), lab.dir), STACK);
        write();
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
    });

    after(() => {
        lab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("a moved workRoot: preview shows updates, no replace", async () => {
        settings().workRoot = "~/dcn-moved";
        write();
        const r = await ws.ok(["preview", "--diff", "--non-interactive"]);
        // The sanity checks (command:remote:Command) are replaced as after any stack update: they
        // run again. No dcn resource is replaced or deleted.
        assert.doesNotMatch(r.stdout, /dynamic\/dcn:\w+: \((replace|delete)/, r.stdout);
        assert.match(r.stdout, /dynamic\/dcn:OvercloudStack: \(update\)/);
        assert.match(r.stdout, /~ workDir\s*: "~\/dcn\/dcn0" => "~\/dcn-moved\/dcn0"/);
    });

    it("up moves the generated files and runs no TripleO command (no overcloud delete, no unprovision)", async () => {
        const from = lab.log().length;
        const r = await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        const ran = tripleoSince(from);
        assert.deepEqual(
            ran.filter((c) => DESTRUCTIVE.test(c)),
            [],
        );
        assert.deepEqual(
            ran.filter((c) => REDEPLOY.test(c)),
            [],
            `TripleO steps ran again:\n${ran.join("\n")}`,
        );
        assert.doesNotMatch(r.stdout, /dynamic\/dcn:\w+ \S+ (replac|delet)/);
        assert.match(r.stdout, /overcloud dcn0: moved the generated files .*nothing else changed: no redeploy/);
        for (const f of [
            "dcn0/deployed-metal-dcn0.yaml",
            "dcn0/deployed-ceph-dcn0.yaml",
            "dcn0/overrides-dcn0.yaml",
            "dcn0/glance-dcn0.yaml",
            "control-plane/ceph-export-dcn-stacks.yaml",
            "control-plane/deployed-vips-control-plane.yaml",
        ]) {
            assert.ok(fs.existsSync(path.join(home, "dcn-moved", f)), `${f} is not at the new place`);
        }
        assert.ok(!fs.existsSync(path.join(home, "dcn", "dcn0")), "files left at the old place");
        const state = JSON.parse(lab.lab("state", "--json")) as { stacks: Array<{ name: string; status: string }> };
        assert.deepEqual(
            state.stacks.map((s) => [s.name, s.status]).sort(([a], [b]) => a.localeCompare(b)),
            [
                ["control-plane", "DEPLOY_SUCCESS"],
                ["dcn0", "DEPLOY_SUCCESS"],
            ],
        );
    });

    it("after the move, preview --refresh shows no changes", async () => {
        await ws.ok(["preview", "--refresh", "--expect-no-changes", "--non-interactive"]);
    });

    it("a renamed Ceph cluster of the deployed dcn0: preview and up refuse naming the fix, nothing runs", async () => {
        sites()[1].cephCluster = "edge0";
        write();
        const from = lab.log().length;
        for (const args of [
            ["preview", "--non-interactive"],
            ["up", "--yes", "--non-interactive", "--skip-preview"],
        ]) {
            const r = await ws.run(args);
            const out = r.stdout + r.stderr;
            assert.notEqual(r.code, 0, `${args[0]} accepted the rename:\n${out}`);
            assert.match(out, /cannot rename the Ceph cluster of a deployed site/);
            assert.match(out, /back to dcn0/);
        }
        assert.deepEqual(tripleoSince(from), []);
        sites()[1].cephCluster = "dcn0";
        write();
    });

    it("another undercloud address is refused until undercloud.sameAs names the previous one", async () => {
        const conn = lab.connection();
        const previous = `${conn.user}@${conn.host}:${conn.port}`;
        undercloud().host = "localhost";
        undercloud().hostKey = conn.hostKey;
        write();
        const r = await ws.run(["preview", "--non-interactive"]);
        assert.notEqual(r.code, 0);
        assert.ok((r.stdout + r.stderr).includes(`set dcn-storage:undercloud.sameAs to "${previous}"`), r.stdout);
        undercloud().sameAs = previous;
        write();
        const from = lab.log().length;
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        assert.deepEqual(tripleoSince(from), []);
        await ws.ok(["preview", "--refresh", "--expect-no-changes", "--non-interactive"]);
    });

    it("destroy takes the deployment down from the moved place", async () => {
        await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
        const state = JSON.parse(lab.lab("state", "--json")) as { stacks: unknown[] };
        assert.deepEqual(state.stacks, []);
        assert.ok(!fs.existsSync(path.join(home, "dcn-moved", "dcn0", "deployed-metal-dcn0.yaml")));
    });
});
