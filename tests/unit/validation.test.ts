// The multistore validation as a resource: the config setting, the provider's check/diff/update
// policy and failure message, and its closure serialization (what the dynamic-provider plugin loads).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import Module from "node:module";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, planTopology } from "../../components/config";
import { UNKNOWN } from "../../providers/common";
import { POLICY, failureMessage, multistoreValidationProvider as provider } from "../../providers/multistoreValidation";
import { diffByPolicy } from "../../providers/common";

const sites = [
    {
        name: "control-plane",
        kind: "central",
        cephCluster: "central",
        roles: [
            { name: "Controller", instances: ["c0"] },
            { name: "ComputeHCI", instances: ["c1"] },
        ],
    },
    { name: "dcn0", kind: "dcn", cephCluster: "dcn0", roles: [{ name: "DistributedComputeHCI", instances: ["d0"] }] },
];

const inputs = {
    undercloud: { host: "127.0.0.1", port: 2222, user: "stack", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk" },
    privateKey: "KEY",
    providerVersion: "1",
    rcFile: "/home/stack/overcloud-deploy/control-plane/control-planerc",
    targets: [{ name: "dcn0", store: "dcn0", az: "dcn0", stack: "dcn0", cephCluster: "dcn0" }],
    keep: false,
    stackSpecs: { "control-plane": "h1@t1", dcn0: "h2@t2" },
    copyTimeoutMinutes: 5,
    bootTimeoutMinutes: 10,
    network: "none",
};

const outputs = {
    ...inputs,
    image: "0b0b6b3e-7a5e-4a43-9d0c-8f3c8b7f1a11",
    stores: ["central", "dcn0"],
    sites: { dcn0: { copied: true, snapProtected: true, cowBoot: true } },
    ok: true,
    seconds: 20.1,
    validatedAt: "2026-11-25T12:00:00.000Z",
};

describe("validation setting", () => {
    it("defaults to disabled; enabled with keep false, no network (--nic none), 5 and 10 minute waits", () => {
        const defaults = { keep: false, network: "none", copyTimeoutMinutes: 5, bootTimeoutMinutes: 10 };
        assert.deepEqual(planTopology(sites, {}).settings.validation, { enabled: false, ...defaults });
        assert.deepEqual(planTopology(sites, { validation: { enabled: true } }).settings.validation, {
            enabled: true,
            ...defaults,
        });
        assert.equal(
            planTopology(sites, { validation: { enabled: true, network: "tenant-net" } }).settings.validation.network,
            "tenant-net",
        );
        assert.throws(
            () => planTopology(sites, { validation: { enabled: true, network: "net; reboot" } }),
            (e: Error) => e instanceof ConfigError && /dcn-storage:settings\.validation\.network/.test(e.message),
        );
        assert.equal(planTopology(sites, { validation: { enabled: true, keep: true } }).settings.validation.keep, true);
    });

    it("a wrong value names the key", () => {
        assert.throws(
            () => planTopology(sites, { validation: { enabled: "yes" } }),
            (e: Error) => e instanceof ConfigError && /dcn-storage:settings\.validation\.enabled/.test(e.message),
        );
        assert.throws(
            () => planTopology(sites, { validation: { enabled: true, kep: true } }),
            (e: Error) => e instanceof ConfigError && /dcn-storage:settings\.validation/.test(e.message),
        );
    });
});

describe("MultistoreValidation provider", () => {
    it("check accepts the inputs and preview's unknowns; rejects unsafe values naming the property", async () => {
        assert.deepEqual((await provider.check!({}, inputs)).failures, []);
        assert.deepEqual(
            (await provider.check!({}, { ...inputs, rcFile: UNKNOWN, stackSpecs: { dcn0: UNKNOWN } })).failures,
            [],
        );
        const bad = await provider.check!(
            {},
            { ...inputs, rcFile: "~/rc; rm -rf ~", targets: [{ ...inputs.targets[0], az: "dcn 0" }] },
        );
        assert.deepEqual(bad.failures!.map((f) => f.property).sort(), ["rcFile", "targets.0.az"]);
    });

    it("diff: a redeploy of any stack, a site or keep re-runs it; the connection only is quiet", async () => {
        assert.equal((await provider.diff!("id", outputs, inputs)).changes, false);
        for (const news of [
            { ...inputs, stackSpecs: { ...inputs.stackSpecs, dcn0: "h2@t3" } },
            { ...inputs, targets: [...inputs.targets, { ...inputs.targets[0], name: "dcn1", store: "dcn1" }] },
            { ...inputs, keep: true },
        ]) {
            const d = await provider.diff!("id", outputs, news);
            assert.deepEqual([d.changes, d.replaces, d.deleteBeforeReplace], [true, [], false]);
            assert.ok(diffByPolicy(POLICY, outputs, news).updates.length > 0);
        }
        const q = diffByPolicy(POLICY, outputs, { ...inputs, privateKey: "KEY2", copyTimeoutMinutes: 9 });
        assert.deepEqual([q.changes, q.updates], [true, []]);
    });

    it("a quiet update stores the new values and keeps the result without running anything", async () => {
        const r = await provider.update!("id", outputs, { ...inputs, privateKey: "KEY2" });
        assert.equal(r.outs!.privateKey, "KEY2");
        assert.equal(r.outs!.image, outputs.image);
        assert.deepEqual(r.outs!.sites, outputs.sites);
    });

    it("read keeps the stored result; delete runs nothing", async () => {
        assert.deepEqual(await provider.read!("id", outputs), { id: "id", props: outputs });
        await provider.delete!("id", outputs);
    });

    it("the failure message names every failing site and why, and the sites that passed", () => {
        const m = failureMessage({
            image: "img",
            sites: {
                dcn0: {},
                dcn1: { error: "images/img@snap not found on the Ceph of site dcn1: No such file" },
            },
        });
        assert.match(m, /image img/);
        assert.match(m, /site dcn1: images\/img@snap not found/);
        assert.match(m, /site dcn0: passed/);
        assert.match(failureMessage({ image: null, error: "glance stores-info failed", sites: {} }), /stores-info/);
    });

    it("serializes without secrets or absolute paths and runs check/diff from the text", async () => {
        const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
        assert.equal(sf.containsSecrets, false);
        assert.ok(!sf.text.includes(path.resolve(__dirname, "..", "..")), "no absolute checkout path captured");
        assert.match(sf.text, /stores-info/, "the flow of tools/validate is in the serialized provider");
        const filename = path.join(__dirname, "serialized-validation-provider.js");
        const m = new Module(filename, module);
        m.filename = filename;
        m.paths = (Module as unknown as { _nodeModulePaths(p: string): string[] })._nodeModulePaths(__dirname);
        (m as unknown as { _compile(t: string, f: string): void })._compile(sf.text, filename);
        const copy = (m.exports as { handler: () => pulumi.dynamic.ResourceProvider }).handler();
        assert.deepEqual((await copy.check!({}, inputs)).failures, []);
        assert.equal((await copy.diff!("id", outputs, { ...inputs, __provider: "other" })).changes, false);
    });
});
