// The switches under pulumi mocks: `settings.sanityChecks: false` leaves out the sites' Commands and
// `settings.validation.enabled: false` the MultistoreValidation (and its stack output).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { planTopology } from "../../components/config";

const types: string[] = [];

void pulumi.runtime.setMocks(
    {
        newResource(args) {
            types.push(args.type);
            return { id: `${args.name}-id`, state: { ...args.inputs, nodes: [], storeIds: [], endpoints: {} } };
        },
        call() {
            throw new Error("no calls expected");
        },
    },
    "dcn-storage",
    "off",
    false,
);

const dev = parse(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")).config;
let deployment: import("../../components/deployment").Deployment;

before(async () => {
    const { Deployment } = await import("../../components/deployment");
    const settings = { ...dev["dcn-storage:settings"], sanityChecks: false, validation: { enabled: false } };
    const plan = planTopology(dev["dcn-storage:sites"], settings);
    deployment = new Deployment("dcn", {
        plan,
        undercloud: {
            host: "127.0.0.1",
            port: 2222,
            user: "stack",
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk",
        },
        privateKey: pulumi.secret("KEY"),
    });
    await new Promise<void>((r) => deployment.centralEndpoints.apply(() => r()));
    await new Promise((r) => setTimeout(r, 200));
});

describe("sanity checks and validation switched off", () => {
    it("no command.remote.Command and no MultistoreValidation; the stacks are still there", () => {
        assert.ok(!types.includes("command:remote:Command"), types.join(", "));
        assert.ok(!types.includes("pulumi-nodejs:dynamic/dcn:MultistoreValidation"));
        assert.equal(types.filter((t) => t === "pulumi-nodejs:dynamic/dcn:OvercloudStack").length, 3);
        assert.equal(deployment.validation, undefined);
        assert.equal(deployment.validationSummary, undefined);
        for (const s of [deployment.central, ...deployment.dcns]) {
            assert.equal(s.sanityCheck, undefined);
        }
    });
});
