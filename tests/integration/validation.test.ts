// End to end with the validation enabled: the real program (compiled bin/), the project's own Pulumi
// CLI (with the command plugin for the sanity checks) and a private lab (own LAB_DIR, SSH port and
// Ceph loopback net). `up` deploys the seed topology, runs each site's sanity check (a
// command.remote.Command with the host key pinned) and then the multistore validation; the stack
// outputs carry its result (image, stores, per site {copied, snapProtected, cowBoot}). A second `up`
// changes nothing; `destroy` empties the lab.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PulumiWorkspace, projectRoot, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import {
    type LabLogEntry,
    type PrivateLab,
    buildProgram,
    devConfig,
    programFixture,
    startPrivateLab,
    writeStackConfig,
} from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-validation-"));
const labDir = path.join(root, "lab");
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
const lab = (...args: string[]): string => privateLab.lab(...args);
/** Log entries of finished commands (these tests read the log only when nothing is running). */
type LogEntry = LabLogEntry & { end: string; exit: number };
const labLog = (): LogEntry[] => privateLab.log() as LogEntry[];

const hasCommandPlugin = fs.existsSync(path.join(projectRoot, ".pulumi", "bin", "pulumi-resource-command"));

describe(
    "program with the validation enabled against the lab",
    {
        skip:
            (!toolchainBuilt() && "toolchain not built (npm run setup)") ||
            (!hasCommandPlugin && "pulumi-resource-command not in .pulumi/bin (npm run setup)"),
    },
    () => {
        before(async () => {
            buildProgram();
            privateLab = await startPrivateLab(labDir, process.env.LAB_TIME_SCALE ?? "0.05");
            const fixture = programFixture(path.join(root, "project"), labDir);
            const config = devConfig();
            assert.equal(
                (config["dcn-storage:settings"] as { validation?: { enabled?: boolean } }).validation?.enabled,
                true,
                "Pulumi.dev.yaml enables the validation",
            );
            writeStackConfig(fixture, "val", config);
            ws = await pulumiWorkspace(fixture, "val");
        });

        after(() => {
            privateLab?.stop();
            ws?.dispose();
            fs.rmSync(root, { recursive: true, force: true });
        });

        it("up runs the sanity checks and the validation after every deploy; outputs carry the result", async () => {
            const began = Date.now();
            const up = await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
            const wall = (Date.now() - began) / 1000;
            const log = labLog();
            const lastDeploy = Math.max(
                ...log.filter((e) => e.argv.slice(1, 3).join(" ") === "overcloud deploy").map((e) => Date.parse(e.end)),
            );
            const checks = log.filter(
                (e) => e.argv.includes("token") || (e.argv.includes("aggregate") && e.argv.includes("show")),
            );
            assert.ok(
                checks.some((e) => e.argv.slice(1, 3).join(" ") === "token issue" && e.exit === 0),
                "central: openstack token issue",
            );
            for (const d of ["dcn0", "dcn1"]) {
                assert.ok(
                    checks.some((e) => e.argv.includes(d) && e.exit === 0),
                    `${d}: openstack aggregate show ${d}`,
                );
            }
            // glance runs outside the lab's command log; the COW boots (`openstack server create`) are in it.
            const boots = log.filter((e) => e.argv.slice(1, 3).join(" ") === "server create" && e.exit === 0);
            assert.deepEqual(
                boots.map((e) => e.argv[e.argv.indexOf("--availability-zone") + 1]).sort(),
                ["dcn0", "dcn1"],
                "one COW boot per DCN site",
            );
            for (const b of boots) {
                assert.ok(Date.parse(b.start) >= lastDeploy, "the validation runs after the last deploy finished");
            }
            for (const c of checks) {
                assert.ok(Date.parse(c.start) <= Date.parse(boots[0].start), "sanity checks before the validation");
            }
            assert.ok(
                log.some((e) => e.argv.slice(1, 3).join(" ") === "server delete"),
                "the validation deleted its servers (keep: false)",
            );
            assert.match(up.stdout + up.stderr, /multistore validation: passed in/);
            const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
            const v = out.validation;
            assert.match(v.image, /^[0-9a-f-]{36}$/);
            assert.deepEqual([...v.stores].sort(), ["central", "dcn0", "dcn1"]);
            for (const s of ["dcn0", "dcn1"]) {
                assert.deepEqual(v.sites[s], { copied: true, snapProtected: true, cowBoot: true }, s);
            }
            assert.equal(out.sites.dcn1.status, "DEPLOY_SUCCESS");
            const state = (await ws.ok(["stack", "export"])).stdout;
            assert.ok(!/PRIVATE KEY/.test(state), "private key in plaintext");
            assert.ok(!/"stdout":\s*"gAAAA/.test(state), "a token in the state");
            console.log(
                `up with validation: wall ${wall.toFixed(1)} s; validation ${v.seconds} s; ` +
                    `sanity-check commands in the lab log: ${checks.length}`,
            );
        });

        it("a second up changes nothing and runs neither the checks nor the validation again", async () => {
            const from = labLog().length;
            await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview", "--expect-no-changes"]);
            const log = labLog().slice(from);
            assert.equal(log.filter((e) => e.mutating).length, 0, "no mutating command");
            assert.equal(log.filter((e) => e.argv.includes("server")).length, 0, "no validation run");
        });

        it("a broken DCN store fails the validation naming the site; the other site passes", async () => {
            // dcn1's keyring gone from the central Glance's view (as in tests/lab/validate.test.ts).
            fs.rmSync(path.join(labDir, "glance", "control-plane", "ceph", "dcn1.client.openstack.keyring"));
            const urn = (await ws.ok(["stack", "--show-urns"])).stdout
                .split("\n")
                .map((l) => /(urn:pulumi:\S+::control-plane-validation)/.exec(l)?.[1])
                .find((u) => u);
            assert.ok(urn, "validation URN");
            const r = await ws.run(["up", "--yes", "--non-interactive", "--skip-preview", "--replace", urn!]);
            const text = r.stdout + r.stderr;
            assert.notEqual(r.code, 0, text);
            assert.match(text, /multistore validation failed/);
            assert.match(text, /site dcn1: copy-image to store dcn1 failed/);
            assert.match(text, /site dcn0: passed/);
        });

        it("destroy empties the lab", async () => {
            await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
            const state = JSON.parse(lab("state", "--json"));
            assert.deepEqual(state.stacks, []);
        });
    },
);
