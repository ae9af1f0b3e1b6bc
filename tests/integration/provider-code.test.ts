// Issue 12 item 3: does a fix in a dynamic provider's delete reach the next `destroy` without a
// hand-bumped version? Pulumi v3.192 has `destroy --run-program` and `refresh --run-program`, but
// a Node dynamic provider's read and delete run the code serialized in the resource's STATE
// (`__provider` of the old outputs: sdk/nodejs/cmd/dynamic-provider), whatever the program now
// registers. Measured here on a one-resource fixture (tests/fixtures/provider-code): with the
// program's code changed, `refresh --run-program` and `destroy --run-program` still run the old
// code; an `up` with the version input bumped (the providers' PROVIDER_VERSION, a quiet update
// that stores the new code) is what makes the next destroy run the new delete.
import { after, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PulumiWorkspace, pulumiWorkspace, projectRoot, toolchainBuilt } from "../support/pulumi";

const fixture = path.join(projectRoot, "tests", "fixtures", "provider-code");
const workspaces: PulumiWorkspace[] = [];

/** A workspace of the fixture with its code mark and version set, and the file the provider notes to. */
async function workspace(stack: string) {
    const ws = await pulumiWorkspace(fixture, stack);
    workspaces.push(ws);
    const markFile = path.join(ws.projectDir, "marks.txt");
    const program = path.join(ws.projectDir, "index.js");
    const release = (code: string, version: string) =>
        fs.writeFileSync(
            program,
            fs
                .readFileSync(program, "utf8")
                .replace(/const CODE = "[^"]*";/, `const CODE = "${code}";`)
                .replace(/const VERSION = "[^"]*";/, `const VERSION = "${version}";`),
        );
    const run = (args: string[]) => ws.ok([...args, "--yes", "--non-interactive"], { MARK_FILE: markFile });
    const marks = () => (fs.existsSync(markFile) ? fs.readFileSync(markFile, "utf8").trim().split("\n") : []);
    return { release, run, marks };
}

describe(
    "which code a dynamic provider's read and delete run",
    {
        skip: !toolchainBuilt() && "toolchain not built (npm run setup)",
    },
    () => {
        after(() => {
            for (const ws of workspaces) ws.dispose();
        });

        it("--run-program does not bring new code to refresh or destroy: the state's code runs", async () => {
            const w = await workspace("runprogram");
            await w.run(["up", "--skip-preview"]);
            w.release("v2", "1");
            await w.run(["refresh", "--run-program", "--skip-preview"]);
            await w.run(["destroy", "--run-program", "--skip-preview"]);
            assert.deepEqual(w.marks(), ["read v1", "delete v1"]);
        });

        it("an up with the version bumped stores the new code: the next destroy runs the new delete", async () => {
            const w = await workspace("bumped");
            await w.run(["up", "--skip-preview"]);
            w.release("v2", "2");
            await w.run(["up", "--skip-preview"]);
            await w.run(["destroy", "--skip-preview"]);
            assert.deepEqual(w.marks(), ["delete v2"]);
        });
    },
);
