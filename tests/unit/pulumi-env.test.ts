// scripts/pulumi-env.sh (issue 11): the published dev passphrase only for the dev stack; any other
// stack (named by the arguments, PULUMI_STACK or the selected stack) needs the user's passphrase.
import { after, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { projectRoot } from "../support/pulumi";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-pulumi-env-"));
const UNSET = "<unset>";

/** Sources pulumi-env.sh with `args` (as scripts/pulumi.sh does) in a clean environment. */
function source(args: string[], env: Record<string, string> = {}, pulumiHome = path.join(root, "home")) {
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_STACK"]) {
        delete base[k];
    }
    const r = spawnSync(
        "bash",
        [
            "-c",
            `set -euo pipefail; source scripts/pulumi-env.sh "$@"; printf '%s' "\${PULUMI_CONFIG_PASSPHRASE-${UNSET}}"`,
            "bash",
            ...args,
        ],
        {
            cwd: projectRoot,
            encoding: "utf8",
            env: {
                ...base,
                PULUMI_HOME: pulumiHome,
                PULUMI_BACKEND_URL: `file://${path.join(root, "state")}`,
                ...env,
            },
        },
    );
    return { code: r.status, passphrase: r.stdout, stderr: r.stderr };
}

/** Selects `stack` the way the CLI records it (PULUMI_HOME/workspaces/<project>-<sha1 of Pulumi.yaml path>-workspace.json). */
function selectStack(pulumiHome: string, stack: string): void {
    const hash = createHash("sha1").update(path.join(projectRoot, "Pulumi.yaml")).digest("hex");
    const dir = path.join(pulumiHome, "workspaces");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
        path.join(dir, `dcn-storage-${hash}-workspace.json`),
        JSON.stringify({ stack: `organization/dcn-storage/${stack}` }, null, 4),
    );
}

after(() => fs.rmSync(root, { recursive: true, force: true }));

describe("pulumi-env.sh passphrase", () => {
    it("the dev stack gets the dev passphrase", () => {
        for (const args of [
            ["--stack", "dev"],
            ["-s", "dev"],
            ["up", "--stack=organization/dcn-storage/dev"],
        ]) {
            const r = source(args);
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.passphrase, "dcn-lab-dev", args.join(" "));
        }
        const home = path.join(root, "home-dev");
        selectStack(home, "dev");
        assert.equal(source(["up"], {}, home).passphrase, "dcn-lab-dev");
    });

    it("refuses any other stack without a passphrase, with an error naming what to set", () => {
        const home = path.join(root, "home-prod");
        selectStack(home, "prod");
        // [args, env, PULUMI_HOME (its selected stack)]
        const cases: Array<[string[], Record<string, string>, string?]> = [
            [["up", "--stack", "prod"], {}],
            [["-s", "prod", "preview"], {}],
            [["up", "--stack=prod"], {}],
            [["stack", "init", "prod"], {}],
            [["stack", "select", "prod"], {}, path.join(root, "home-dev")],
            [["up"], { PULUMI_STACK: "prod" }],
            [["up"], {}, home],
            [["-C", "/elsewhere", "up"], {}],
        ];
        for (const [args, env, pulumiHome] of cases) {
            const r = source(args, env, pulumiHome);
            const what = `${args.join(" ")} ${JSON.stringify(env)}`;
            assert.notEqual(r.code, 0, `${what}: sourced with passphrase ${JSON.stringify(r.passphrase)}`);
            assert.match(r.stderr, /PULUMI_CONFIG_PASSPHRASE/, what);
            assert.ok(!r.passphrase.includes("dcn-lab-dev"), what);
        }
    });

    it("another stack uses the user's passphrase or passphrase file; no stack at all sets nothing", () => {
        assert.equal(source(["up", "-s", "prod"], { PULUMI_CONFIG_PASSPHRASE: "mine" }).passphrase, "mine");
        const file = source(["up", "-s", "prod"], { PULUMI_CONFIG_PASSPHRASE_FILE: "/run/secrets/p" });
        assert.equal(file.code, 0, file.stderr);
        assert.equal(file.passphrase, UNSET);
        const none = source(["stack", "ls"]);
        assert.equal(none.code, 0, none.stderr);
        assert.equal(none.passphrase, UNSET);
    });
});
