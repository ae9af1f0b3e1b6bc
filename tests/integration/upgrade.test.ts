// Upgrading the program must not redeploy a cloud. The providers' consumers moved from content
// hashes (metalHash, cephHash, exportHash, deployHash@deployedAt) to specs derived by `check`, so
// that preview knows what up will do (issue 12); a stack deployed by the program as it was before
// (commit BEFORE, the last without specs) then takes the new program with quiet updates only: the
// new keys are adopted (providers/common.ts `adopted`), nothing runs on the undercloud but the
// sanity checks' read-only commands (their trigger changed), and a second preview is clean.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { changedResources, engineSteps, projectRoot, toolchainBuilt } from "../support/pulumi";
import { ProgramOnLab, devConfig, programOnLab } from "../support/lab";

/** The last commit whose consumers read content hashes. */
const BEFORE = "ee679ea";
const oldSource = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-upgrade-before-"));
let t: ProgramOnLab;

const haveBefore =
    spawnSync("git", ["-C", projectRoot, "cat-file", "-e", `${BEFORE}^{commit}`], { stdio: "ignore" }).status === 0;

/** The program of commit `rev`, compiled, in `dir/bin`. */
function buildAt(rev: string, dir: string): string {
    execFileSync("sh", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", projectRoot, rev, dir]);
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
    execFileSync(path.join(projectRoot, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], { cwd: dir });
    return path.join(dir, "bin");
}

/** `<op> <type>::<name>` of every step that changes something (`preview --json` or `up --json`). */
const changes = (stdout: string) => changedResources(engineSteps(stdout));

describe(
    "upgrading from the content-hash program redeploys nothing",
    {
        skip:
            (!toolchainBuilt() && "toolchain not built (npm run setup)") ||
            (!haveBefore && `commit ${BEFORE} not in this clone`),
    },
    () => {
        before(async () => {
            t = await programOnLab("upgrade", "upgrade", devConfig(), buildAt(BEFORE, oldSource));
            await t.ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        });

        after(() => {
            t?.dispose();
            fs.rmSync(oldSource, { recursive: true, force: true });
        });

        it("the new program: quiet updates only, preview = up, nothing mutating runs, then no changes", async () => {
            const { ws, lab } = t;
            fs.rmSync(path.join(ws.projectDir, "bin"), { recursive: true });
            fs.cpSync(path.join(projectRoot, "bin"), path.join(ws.projectDir, "bin"), { recursive: true });
            const preview = changes((await ws.ok(["preview", "--json", "--non-interactive"])).stdout);
            const from = lab.log().length;
            const up = changes((await ws.ok(["up", "--json", "--yes", "--non-interactive", "--skip-preview"])).stdout);
            console.log(`# upgrade: preview ${preview.length}, up ${up.length} changes\n#   ${up.join("\n#   ")}`);
            assert.deepEqual(preview, up, "preview = up");
            for (const line of up) {
                assert.match(
                    line,
                    /^(update \S+|replace \S+-sanity|create \S+:(CentralSites|SiteServices)::\S+)$/,
                    "only updates (the sanity checks: their new trigger; the central-cloud resources: new)",
                );
            }
            assert.deepEqual(
                lab
                    .log()
                    .slice(from)
                    .filter((e) => e.mutating)
                    .map((e) => e.argv.join(" ")),
                [],
                "no mutating command on the undercloud",
            );
            await ws.ok(["preview", "--expect-no-changes", "--non-interactive"]);
        });
    },
);
