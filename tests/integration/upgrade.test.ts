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
import { PulumiWorkspace, projectRoot, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { PrivateLab, buildProgram, devConfig, programFixture, startPrivateLab, writeStackConfig } from "../support/lab";

/** The last commit whose consumers read content hashes. */
const BEFORE = "ee679ea";
const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-upgrade-"));
const STACK = "upgrade";
let lab: PrivateLab;
let ws: PulumiWorkspace;

const haveBefore =
    spawnSync("git", ["-C", projectRoot, "cat-file", "-e", `${BEFORE}^{commit}`], { stdio: "ignore" }).status === 0;

/** The program of commit `rev`, compiled, in `dir/bin`. */
function buildAt(rev: string, dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("sh", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", projectRoot, rev, dir]);
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"));
    execFileSync(path.join(projectRoot, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], { cwd: dir });
    return path.join(dir, "bin");
}

interface Step {
    op: string;
    urn: string;
}

/** `<op> <name>` of every step that changes something, sorted (`preview --json` or `up --json`). */
function changes(stdout: string): string[] {
    let steps: Step[];
    try {
        steps = (JSON.parse(stdout) as { steps: Step[] }).steps;
    } catch {
        steps = stdout
            .split("\n")
            .filter((l) => l.startsWith("{"))
            .map((l) => JSON.parse(l) as { resOutputsEvent?: { metadata: Step } })
            .flatMap((e) => (e.resOutputsEvent ? [e.resOutputsEvent.metadata] : []));
    }
    return steps
        .filter((s) => !["same", "read", "refresh"].includes(s.op))
        .map((s) => `${/replace/.test(s.op) ? "replace" : s.op} ${s.urn.split("::").pop()}`)
        .filter((l, i, all) => all.indexOf(l) === i)
        .sort();
}

describe(
    "upgrading from the content-hash program redeploys nothing",
    {
        skip:
            (!toolchainBuilt() && "toolchain not built (npm run setup)") ||
            (!haveBefore && `commit ${BEFORE} not in this clone`),
    },
    () => {
        before(async () => {
            buildProgram();
            const oldBin = buildAt(BEFORE, path.join(root, "before"));
            lab = await startPrivateLab(path.join(root, "lab"), "0.05", "imitation");
            const fixture = programFixture(path.join(root, "project"), lab.dir);
            fs.rmSync(path.join(fixture, "bin"), { recursive: true });
            fs.cpSync(oldBin, path.join(fixture, "bin"), { recursive: true });
            ws = await pulumiWorkspace(fixture, STACK);
            writeStackConfig(ws.projectDir, STACK, devConfig());
            await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        });

        after(() => {
            lab?.stop();
            ws?.dispose();
            fs.rmSync(root, { recursive: true, force: true });
        });

        it("the new program: quiet updates only, preview = up, nothing mutating runs, then no changes", async () => {
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
                    /^(update \S+|replace \S+-sanity)$/,
                    "only updates (and the sanity checks' new trigger)",
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
