// tools/validate against the lab after the seed: the flow passes for dcn0 and dcn1; with dcn1's
// keyring removed from the central Glance's view, it fails naming dcn1 while dcn0 still passes.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { Lab, REPO, portFor, seed } from "./helpers";

const lab = new Lab(portFor("validate"), 0.02);

interface Report {
    image: string | null;
    stores: string[];
    sites: Record<string, { copied: boolean; snapProtected: boolean; cowBoot: boolean; error?: string }>;
    error?: string;
}

function validate(...args: string[]): { code: number; report: Report; stderr: string; seconds: number } {
    const t0 = Date.now();
    const r = spawnSync(
        path.join(REPO, "node_modules", ".bin", "tsx"),
        [
            path.join(REPO, "tools", "validate", "cli.ts"),
            "--connection",
            path.join(lab.dir, "connection.json"),
            ...args,
        ],
        { encoding: "utf8", timeout: 300_000 },
    );
    const lines = r.stdout.trim().split("\n");
    return {
        code: r.status ?? -1,
        report: JSON.parse(lines[lines.length - 1]) as Report,
        stderr: r.stderr,
        seconds: (Date.now() - t0) / 1000,
    };
}

before(async () => {
    lab.start();
    await seed(lab);
});
after(() => lab.destroy());

test("the validation passes for dcn0 and dcn1 after the seed", () => {
    const v = validate("--stack-config", path.join(REPO, "Pulumi.dev.yaml"));
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(v.report.stores, ["central", "dcn0", "dcn1"]);
    assert.deepEqual(v.report.sites, {
        dcn0: { copied: true, snapProtected: true, cowBoot: true },
        dcn1: { copied: true, snapProtected: true, cowBoot: true },
    });
    console.log(`validation flow: ${v.seconds.toFixed(1)} s`);
});

test("the image and the servers are cleaned up", async () => {
    const images = await lab.ok(`source ~/control-planerc && glance image-list`);
    assert.doesNotMatch(images.stdout, /validate-/);
    const servers = await lab.ok(`source ~/control-planerc && openstack server list -f value`);
    assert.equal(servers.stdout.trim(), "");
});

test("dcn1's keyring removed from the central Glance's view: dcn1 fails, dcn0 still passes", async () => {
    await lab.ok(`rm $LAB_DIR/glance/control-plane/ceph/dcn1.client.openstack.keyring`);
    const v = validate();
    assert.equal(v.code, 1);
    assert.deepEqual(v.report.sites.dcn0, { copied: true, snapProtected: true, cowBoot: true });
    assert.equal(v.report.sites.dcn1.copied, false);
    assert.equal(v.report.sites.dcn1.cowBoot, false);
    assert.match(v.report.sites.dcn1.error ?? "", /store dcn1 failed/);
    assert.match(v.stderr, /site dcn1 FAILED: copy-image to store dcn1 failed/);
    assert.deepEqual(v.report.stores, ["central", "dcn0"]);
});
