// Issue 12 item 6, end to end: `pulumi destroy` leaves nothing on the undercloud that the program
// created. The real program and Pulumi CLI against a private imitation-mode lab: the undercloud
// home (`<labDir>/home`: the work dirs under ~/dcn, ~/overcloud-deploy, the job dir ~/.dcn-jobs,
// rc and status files) is listed before the first `up`; the seed is deployed through failures
// (node provision of dcn0 and the deploy of dcn1 fail once: failed jobs, their archives and progress
// markers exist), destroyed through a failed `overcloud delete` (a destroy after a partly failed
// one), and the home must then hold exactly what it held before.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import {
    type PrivateLab,
    buildProgram,
    devConfig,
    programFixture,
    startPrivateLab,
    writeStackConfig,
} from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-cleanup-"));
const labDir = path.join(root, "lab");
const home = path.join(labDir, "home");
let privateLab: PrivateLab;
let ws: PulumiWorkspace;
const lab = (...args: string[]): string => privateLab.lab(...args);

/** Every path under `dir` (relative; directories end in `/`, symlinks in `@` and are not followed). */
export function listTree(dir: string, rel = ""): string[] {
    const out: string[] = [];
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (e.isSymbolicLink()) {
            out.push(`${p}@`);
        } else if (e.isDirectory()) {
            out.push(`${p}/`, ...listTree(dir, p));
        } else {
            out.push(p);
        }
    }
    return out.sort();
}

/**
 * Not the program's: the entry-point cache (stevedore's) of the undercloud's Python OpenStack tools,
 * keyed by the interpreter's path list and rebuilt on demand; a real undercloud has it from its
 * install. It holds no name of a stack or file of the program.
 */
const NOT_THE_PROGRAMS = /^\.cache\/(python-entrypoints\/([0-9a-f]+)?)?$/;

const UP = ["up", "--yes", "--non-interactive", "--skip-preview"];
const DESTROY = ["destroy", "--yes", "--non-interactive", "--skip-preview"];

function fault(command: string, stack: string, message: string): void {
    lab("fault", "add", "--command", command, "--stack", stack, "--kind", "fail", "--message", message);
}

describe("destroy cleans the undercloud", { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" }, () => {
    let homeBefore: string[] = [];

    before(async () => {
        buildProgram();
        privateLab = await startPrivateLab(labDir, "0.05");
        const fixture = programFixture(path.join(root, "project"), labDir);
        writeStackConfig(fixture, "cleanup", devConfig());
        ws = await pulumiWorkspace(fixture, "cleanup");
    });

    after(() => {
        privateLab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("up through a failed node provision and a failed deploy, each run again", async () => {
        homeBefore = listTree(home);
        fault("overcloud node provision", "dcn0", "injected: node provision of dcn0 failed");
        const first = await ws.run(UP);
        assert.notEqual(first.code, 0, "the first up fails");
        assert.match(first.stdout + first.stderr, /injected: node provision of dcn0 failed/);
        assert.equal(lab("fault", "list").trim(), "", "the node provision fault was met");

        fault("overcloud deploy", "dcn1", "injected: heat stack dcn1 CREATE_FAILED");
        const second = await ws.run(UP);
        assert.notEqual(second.code, 0, "the second up fails");
        assert.match(second.stdout + second.stderr, /injected: heat stack dcn1 CREATE_FAILED/);
        assert.equal(lab("fault", "list").trim(), "", "the deploy fault was met");

        await ws.ok(UP);
        const out = JSON.parse((await ws.ok(["stack", "output", "--json"])).stdout);
        for (const s of ["control-plane", "dcn0", "dcn1"]) {
            assert.equal(out.sites[s].status, "DEPLOY_SUCCESS", `${s} deployed`);
        }
        const jobs = listTree(path.join(home, ".dcn-jobs"));
        assert.ok(
            jobs.some((p) => /^done\/dcn0-metal-[0-9a-f]{16}\.failed-/.test(p)),
            `a failed metal job of dcn0 is archived:\n${jobs.join("\n")}`,
        );
    });

    it("destroy, through a failed overcloud delete and a second destroy, leaves the home as it was before up", async () => {
        fault("overcloud delete", "dcn0", "injected: delete of dcn0 failed");
        const first = await ws.run(DESTROY);
        assert.notEqual(first.code, 0, "the first destroy fails");
        assert.match(first.stdout + first.stderr, /injected: delete of dcn0 failed/);
        await ws.ok(DESTROY);
        const state = JSON.parse(lab("state", "--json"));
        assert.deepEqual(state.stacks, [], "no stack left");

        const after = listTree(home);
        const was = new Set(homeBefore);
        const now = new Set(after);
        const left = after.filter((p) => !was.has(p) && !NOT_THE_PROGRAMS.test(p));
        const lost = homeBefore.filter((p) => !now.has(p));
        assert.deepEqual(left, [], `destroy left in the undercloud home (${home}):\n${left.join("\n")}`);
        assert.deepEqual(lost, [], `destroy removed what was there before up:\n${lost.join("\n")}`);
    });

    it("a destroy with nothing left to destroy succeeds", async () => {
        await ws.ok(DESTROY);
    });
});
