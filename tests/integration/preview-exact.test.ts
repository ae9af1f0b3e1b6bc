// Issue 12 items 1 and 2 through the real CLI on a private imitation lab: for each change a
// reviewer meets in a pull request, the set of resources `pulumi preview` reports as changing equals
// the set `pulumi up` changes (0 phantom, 0 missed), and the preview's saved plan is one `up
// --plan` accepts (Pulumi refuses an up that does more than its plan). The seed (central + dcn0 +
// dcn1, the multistore validation on), then, one after the other:
//   scale-out of dcn0, a new site dcn2, changing dcn0's override, changing commonEnvFiles,
//   rotating the undercloud SSH key (nothing remote may run), removing dcn2.
// Each case prints its preview/up counts (the issue asks for them).
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { changedResources, engineSteps, toolchainBuilt } from "../support/pulumi";
import { ProgramOnLab, devConfig, programOnLab } from "../support/lab";

let t: ProgramOnLab;
const config = devConfig();

const settings = () => config["dcn-storage:settings"] as Record<string, unknown>;
const sites = () => config["dcn-storage:sites"] as Array<Record<string, unknown>>;
const write = () => t.write(config);

function stepsOf(stdout: string, what: string, mayBeEmpty = false) {
    const steps = engineSteps(stdout);
    if (steps.length === 0 && !mayBeEmpty) throw new Error(`${what}: no steps on stdout:\n${stdout.slice(0, 2000)}`);
    return steps;
}

/** Commands the lab recorded as mutating since log index `from`. */
const mutatingSince = (from: number) =>
    t.lab
        .log()
        .slice(from)
        .filter((e) => e.mutating)
        .map((e) => e.argv.join(" "));

/**
 * Preview (saving its plan), then up with that plan. Returns both change sets; the up must succeed
 * under the plan. When it does not (the engine refuses an up that does more, or less, than its
 * plan), a plain up finishes the case so that the next one starts from the new config, and the
 * failure is reported with both sets (the up's: what the refused up did plus what the plain one did).
 */
async function previewThenUp(name: string): Promise<{ preview: string[]; up: string[]; mutating: string[] }> {
    const planFile = path.join(t.root, `${name.replace(/\W+/g, "-")}.plan.json`);
    const preview = await t.ws.ok(["preview", "--json", "--non-interactive", "--save-plan", planFile]);
    const previewSet = changedResources(stepsOf(preview.stdout, "preview"));
    const from = t.lab.log().length;
    const up = await t.ws.run(["up", "--json", "--yes", "--non-interactive", "--skip-preview", "--plan", planFile]);
    const upSteps = stepsOf(up.stdout, "up --plan", up.code !== 0);
    if (up.code !== 0) {
        const retry = await t.ws.run(["up", "--json", "--yes", "--non-interactive", "--skip-preview"]);
        const upSet = changedResources([...upSteps, ...stepsOf(retry.stdout, "up", true)]);
        report(name, previewSet, upSet, " (up --plan failed)");
        const errors = up.stdout
            .split("\n")
            .filter((l) => l.includes('"severity":"error"'))
            .map((l) => (JSON.parse(l) as { diagnosticEvent: { message: string } }).diagnosticEvent.message.trim());
        assert.fail(`${name}: up --plan refused or failed (exit ${up.code}):\n${errors.join("\n")}`);
    }
    const upSet = changedResources(upSteps);
    report(name, previewSet, upSet, "");
    return { preview: previewSet, up: upSet, mutating: mutatingSince(from) };
}

function report(name: string, preview: string[], up: string[], note: string): void {
    console.log(`# ${name}: preview ${preview.length}, up ${up.length}${note}`);
    for (const line of preview) console.log(`#   preview ${line}`);
    for (const line of up) console.log(`#   up      ${line}`);
}

/** preview = up, both non-empty (every case changes something). */
function assertExact(name: string, r: { preview: string[]; up: string[] }): void {
    const phantom = r.preview.filter((l) => !r.up.includes(l));
    const missed = r.up.filter((l) => !r.preview.includes(l));
    assert.deepEqual({ phantom, missed }, { phantom: [], missed: [] }, `${name}: preview and up differ`);
    assert.ok(r.up.length > 0, `${name}: the change changed nothing`);
}

const touches = (r: { up: string[] }, site: string) => r.up.filter((l) => l.includes(`::${site}-`));

describe(
    "preview tells the truth: preview's change set = up's, and up --plan accepts it",
    {
        skip: !toolchainBuilt() && "toolchain not built (npm run setup)",
    },
    () => {
        before(async () => {
            t = await programOnLab("preview-exact", "exact", config);
            await t.ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        });

        after(() => t?.dispose());

        it("scale-out of one DCN site", async () => {
            const roles = sites()[1].roles as Array<{ name: string; instances: string[] }>;
            roles[1].instances.push("oc0-spare-0");
            write();
            const r = await previewThenUp("scale-out dcn0");
            assertExact("scale-out dcn0", r);
            assert.ok(touches(r, "dcn0").length > 0, "dcn0 changed");
            assert.deepEqual(touches(r, "dcn1"), [], "dcn1 untouched");
            assert.deepEqual(touches(r, "control-plane-overcloud"), [], "central not redeployed");
        });

        it("adding a DCN site", async () => {
            sites().push({
                name: "dcn2",
                kind: "dcn",
                cephCluster: "dcn2",
                roles: [{ name: "DistributedComputeHCI", instances: ["oc0-spare-1"] }],
            });
            write();
            assertExact("adding dcn2", await previewThenUp("adding dcn2"));
        });

        it("changing one DCN site's override", async () => {
            sites()[1].overrides = { NovaReservedHostMemory: 2048 };
            write();
            const r = await previewThenUp("dcn0 override");
            assertExact("dcn0 override", r);
            assert.deepEqual(touches(r, "dcn1"), [], "dcn1 untouched");
            assert.deepEqual(touches(r, "control-plane-overcloud"), [], "central not redeployed");
        });

        it("changing commonEnvFiles", async () => {
            settings().commonEnvFiles = (settings().commonEnvFiles as string[]).filter(
                (f) => !f.endsWith("low-memory-usage.yaml"),
            );
            write();
            assertExact("commonEnvFiles", await previewThenUp("commonEnvFiles"));
        });

        it("rotating the undercloud SSH key changes nothing remote", async () => {
            const key = path.join(t.lab.dir, "ssh", "rotated_ed25519");
            execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rotated", "-f", key]);
            fs.appendFileSync(path.join(t.lab.dir, "ssh", "authorized_keys"), fs.readFileSync(`${key}.pub`));
            (config["dcn-storage:undercloud"] as Record<string, unknown>).privateKeyFile = ".lab/ssh/rotated_ed25519";
            write();
            const r = await previewThenUp("SSH key rotation");
            assertExact("SSH key rotation", r);
            assert.deepEqual(r.mutating, [], "nothing remote ran");
        });

        it("removing a DCN site", async () => {
            config["dcn-storage:sites"] = sites().filter((s) => s.name !== "dcn2");
            write();
            assertExact("removing dcn2", await previewThenUp("removing dcn2"));
        });
    },
);
