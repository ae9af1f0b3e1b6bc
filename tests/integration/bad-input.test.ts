// Bad input through the real CLI: the `live` cases of the bad-input table (tests/support/
// bad-input-cases.ts; every case is checked through the config module in tests/unit/bad-input.test.ts)
// run as `pulumi up`/`preview` of the compiled program against a running private lab. Each must fail
// naming the key, and nothing may reach the undercloud: the lab's command log stays empty. The
// undercloud-file cases (UNDERCLOUD_FILE_CASES) are refused by the program's read-only preflight,
// the one command that reads the lab's files (a shell read, not in the log), before any resource.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { PrivateLab, buildProgram, programFixture, startPrivateLab, writeStackConfig } from "../support/lab";
import { ALL_CASES, BadCase, UNDERCLOUD_FILE_CASES, asPulumiConfig, baseConfig } from "../support/bad-input-cases";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-badinput-"));
const LIVE = [...ALL_CASES, ...UNDERCLOUD_FILE_CASES].filter((c) => c.live);
const PARALLEL = 5;
let lab: PrivateLab;
let ws: PulumiWorkspace;

async function runCase(c: BadCase, stack: string): Promise<void> {
    const cfg = baseConfig();
    c.mutate(cfg);
    writeStackConfig(ws.projectDir, stack, asPulumiConfig(cfg));
    const args =
        c.live === "preview"
            ? ["preview", "--non-interactive", "--stack", stack]
            : ["up", "--yes", "--non-interactive", "--skip-preview", "--stack", stack];
    const r = await ws.run(args);
    assert.notEqual(r.code, 0, `${c.name}: pulumi ${args[0]} succeeded`);
    const out = r.stdout + r.stderr;
    for (const key of [c.key, ...(c.alsoKeys ?? [])]) {
        assert.ok(out.includes(`${key}:`), `${c.name}: the output does not name ${key}:\n${out}`);
    }
    assert.match(out, /invalid stack config|dcn-storage:undercloud\./, `${c.name}: not a config error:\n${out}`);
    if (UNDERCLOUD_FILE_CASES.includes(c)) {
        assert.match(out, /undercloud files \(read-only preflight on /, `${c.name}: not the preflight:\n${out}`);
    }
}

describe(
    "bad input against a running lab",
    { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" },
    () => {
        before(async () => {
            buildProgram();
            lab = await startPrivateLab(path.join(root, "lab"));
            ws = await pulumiWorkspace(programFixture(path.join(root, "project"), lab.dir), "bi0");
            for (let i = 1; i < PARALLEL; i++) {
                await ws.ok(["stack", "init", `bi${i}`, "--non-interactive"]);
            }
        });

        after(() => {
            lab?.stop();
            ws?.dispose();
            fs.rmSync(root, { recursive: true, force: true });
        });

        it(`${LIVE.length} malformed configs (${LIVE.filter((c) => c.name.includes(" in dcn-storage:")).length} with shell metacharacters) fail naming the key, nothing reaches the undercloud`, async () => {
            assert.ok(LIVE.length >= 8);
            const queue = [...LIVE];
            const failures: string[] = [];
            await Promise.all(
                Array.from({ length: PARALLEL }, async (_, w) => {
                    for (let c = queue.shift(); c; c = queue.shift()) {
                        try {
                            await runCase(c, `bi${w}`);
                        } catch (e) {
                            failures.push((e as Error).message);
                        }
                    }
                }),
            );
            assert.deepEqual(failures, []);
            assert.deepEqual(
                lab.log().map((e) => e.argv.join(" ")),
                [],
                "commands reached the undercloud",
            );
            assert.deepEqual(
                fs.readdirSync(path.join(lab.connection().home, ".")).includes("dcn"),
                false,
                "no ~/dcn written",
            );
        });

        it("control: a command that does reach the undercloud shows in the same log", () => {
            lab.lab("ssh", "--", "openstack", "baremetal", "node", "list");
            assert.ok(lab.log().some((e) => e.argv.join(" ").startsWith("openstack baremetal node list")));
        });
    },
);
