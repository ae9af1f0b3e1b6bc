// Components under pulumi mocks: type tokens, parents, and the wiring that makes the seed order fall
// out of data dependencies (every mocked output is tagged with the resource that produced it).
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import { planTopology } from "../../components/config";

interface Reg {
    type: string;
    name: string;
    inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    dependencies: string[];
}
const regs: Reg[] = [];

const OUTPUTS: Record<string, string[]> = {
    BaremetalNodes: ["rolesFile", "baremetalFile", "metalFile", "networkFile", "vipsFile", "metalHash", "metalSpec"],
    CephCluster: ["cephFile", "fsid", "clientKey", "cephHash", "cephSpec"],
    CephExport: ["exportHash", "exportSpec"],
    GlanceMultistore: ["contentHash"],
    OvercloudStack: [
        "status",
        "exportFile",
        "rcFile",
        "exportHash",
        "deployHash",
        "deployedAt",
        "deploySpec",
        "exportSpec",
    ],
    MultistoreValidation: ["image", "validatedAt"],
};

void pulumi.runtime.setMocks(
    {
        newResource(args) {
            regs.push({
                type: args.type,
                name: args.name,
                inputs: args.inputs,
                dependencies: (args as unknown as { dependencies?: string[] }).dependencies ?? [],
            });
            const kind = args.type.split(":").pop()!;
            const state: Record<string, unknown> = { ...args.inputs };
            for (const k of OUTPUTS[kind] ?? []) {
                state[k] = `${k}@${args.name}`;
            }
            if (kind === "BaremetalNodes") {
                state.nodes = [];
            }
            if (kind === "GlanceMultistore") {
                state.storeIds = [args.inputs.backendId];
            }
            if (kind === "OvercloudStack") {
                state.endpoints = { KeystonePublic: "http://10.0.0.5:5000" };
            }
            if (kind === "MultistoreValidation") {
                state.stores = ["central", "dcn0", "dcn1"];
                state.seconds = 12.5;
                state.sites = Object.fromEntries(
                    (args.inputs.targets as Array<{ name: string }>).map((t) => [
                        t.name,
                        { copied: true, snapProtected: true, cowBoot: true },
                    ]),
                );
            }
            return { id: `${args.name}-id`, state };
        },
        call() {
            throw new Error("no calls expected");
        },
    },
    "dcn-storage",
    "dev",
    false,
);

const dev = parse(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")).config;
const undercloud = { host: "127.0.0.1", port: 2222, user: "stack", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk" };

function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((r) => o.apply((v) => r(v)));
}

let deployment: import("../../components/deployment").Deployment;
const byName = (n: string) => {
    const r = regs.find((x) => x.name === n);
    assert.ok(r, `resource ${n} not registered; have ${regs.map((x) => x.name).join(", ")}`);
    return r!;
};

/** Marker of a secret value in the inputs the mock monitor deserializes. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Resource name → URNs it depends on (explicit dependsOn and inputs' resources), from the mock monitor. */
const deps = new Map<string, string[]>();

before(async () => {
    // The mocks' newResource does not see dependencies: record them from the monitor's requests.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: { getName(): string; getDependenciesList(): string[] }, cb: unknown): unknown;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
        deps.set(req.getName(), req.getDependenciesList());
        return register(req, cb);
    };
    const { Deployment } = await import("../../components/deployment");
    const plan = planTopology(dev["dcn-storage:sites"], dev["dcn-storage:settings"]);
    deployment = new Deployment("dcn", { plan, undercloud, privateKey: pulumi.secret("KEY") });
    await valueOf(deployment.centralEndpoints);
    await new Promise((r) => setTimeout(r, 200));
});

describe("deployment component", () => {
    it("runs every site's metal after CentralSites (its Glance env after the metal), a DCN site's metal after its SiteServices", () => {
        const sites = byName("control-plane-central-sites");
        assert.equal(sites.type, "pulumi-nodejs:dynamic/dcn:CentralSites");
        assert.equal(sites.inputs.centralStack, "control-plane");
        assert.deepEqual(sites.inputs.sites, [
            { stack: "dcn0", az: "dcn0" },
            { stack: "dcn1", az: "dcn1" },
        ]);
        assert.deepEqual(deps.get("control-plane-central-sites"), []);
        const urn = (n: string) => (deps.get(n) ?? []).map((u) => u.split("::").pop());
        for (const s of ["control-plane", "dcn0", "dcn1"]) {
            assert.ok(urn(`${s}-metal`).includes("control-plane-central-sites"), `${s}-metal: ${urn(`${s}-metal`)}`);
            assert.ok(urn(`${s}-glance`).includes(`${s}-metal`), `${s}-glance: ${urn(`${s}-glance`)}`);
        }
        for (const s of ["dcn0", "dcn1"]) {
            assert.ok(urn(`${s}-metal`).includes(`${s}-central-services`));
            const svc = byName(`${s}-central-services`);
            assert.deepEqual([svc.inputs.centralStack, svc.inputs.stack, svc.inputs.az], ["control-plane", s, s]);
        }
        assert.ok(!regs.some((r) => r.name === "control-plane-central-services"));
    });

    it("registers the components and five resource types with their custom tokens", () => {
        const types = new Set(regs.map((r) => r.type));
        for (const t of [
            "dcn:index:Deployment",
            "dcn:index:Site",
            ...Object.keys(OUTPUTS).map((k) => `pulumi-nodejs:dynamic/dcn:${k}`),
        ]) {
            assert.ok(types.has(t), `missing ${t} in ${[...types].join(", ")}`);
        }
        const names = regs
            .filter((r) => r.type.startsWith("pulumi-nodejs"))
            .map((r) => r.name)
            .sort();
        assert.deepEqual(names, [
            "control-plane-central-sites",
            "control-plane-ceph",
            "control-plane-ceph-export",
            "control-plane-dcn-ceph-export",
            "control-plane-glance",
            "control-plane-metal",
            "control-plane-overcloud",
            "control-plane-validation",
            "dcn0-central-services",
            "dcn0-ceph",
            "dcn0-glance",
            "dcn0-metal",
            "dcn0-overcloud",
            "dcn1-central-services",
            "dcn1-ceph",
            "dcn1-glance",
            "dcn1-metal",
            "dcn1-overcloud",
        ]);
    });

    it("children are parented to their site (URN type chain)", async () => {
        const urn = await valueOf(deployment.dcns[0].metal.urn);
        assert.match(urn, /::dcn:index:Site\$pulumi-nodejs:dynamic\/dcn:BaremetalNodes::dcn0-metal$/);
        assert.match(await valueOf(deployment.dcns[0].urn), /::dcn:index:Deployment\$dcn:index:Site::dcn0$/);
        const exp = await valueOf(deployment.dcnCephExport!.urn);
        assert.match(exp, /dcn:index:Site\$pulumi-nodejs:dynamic\/dcn:CephExport::control-plane-dcn-ceph-export$/);
    });

    it("metal → ceph: each site's Ceph consumes its own metal", () => {
        for (const s of ["control-plane", "dcn0", "dcn1"]) {
            const ceph = byName(`${s}-ceph`).inputs;
            assert.equal(ceph.metalFile, `metalFile@${s}-metal`);
            assert.equal(ceph.metalSpec, `metalSpec@${s}-metal`);
            assert.equal(ceph.rolesFile, `rolesFile@${s}-metal`);
        }
        assert.equal(byName("control-plane-ceph").inputs.clusterName, "central");
    });

    it("ceph → exports: one export of every DCN cluster, one of central", () => {
        const dcnExport = byName("control-plane-dcn-ceph-export").inputs;
        assert.deepEqual(dcnExport.stacks, ["dcn0", "dcn1"]);
        // Each cluster's identity (components/site.ts cephIdentity): its id, key generation, mon roles.
        const identities = [...dcnExport.sourceSpecs, ...byName("control-plane-ceph-export").inputs.sourceSpecs];
        assert.equal(identities.length, 3);
        for (const id of identities) assert.match(id, /^[0-9a-f]{64}$/);
        assert.equal(new Set(identities).size, 3);
        for (const s of ["dcn0", "dcn1"]) {
            assert.ok(
                (deps.get("control-plane-dcn-ceph-export") ?? []).some((u) => u.endsWith(`::${s}-ceph`)),
                `the DCN export runs after ${s}-ceph`,
            );
        }
    });

    it("central deploy consumes every DCN export and store; DCN deploys consume central's export", () => {
        const central = byName("control-plane-overcloud").inputs;
        assert.equal(central.kind, "central");
        assert.equal(central.consumedSpecs.dcnCephExport, "exportSpec@control-plane-dcn-ceph-export");
        assert.equal(central.files.dcnCephExportFile, "~/dcn/control-plane/ceph-export-dcn-stacks.yaml");
        assert.deepEqual(
            byName("control-plane-glance").inputs.stores.map((s: { id: string }) => s.id),
            ["dcn0", "dcn1"],
        );
        for (const d of ["dcn0", "dcn1"]) {
            const dcn = byName(`${d}-overcloud`).inputs;
            assert.equal(dcn.kind, "dcn");
            assert.equal(dcn.files.centralExportFile, "exportFile@control-plane-overcloud");
            assert.equal(dcn.consumedSpecs.centralExport, "exportSpec@control-plane-overcloud");
            assert.equal(dcn.consumedSpecs.centralCephExport, "exportSpec@control-plane-ceph-export");
            assert.equal(dcn.consumedSpecs.metal, `metalSpec@${d}-metal`);
            assert.equal(dcn.consumedSpecs.ceph, `cephSpec@${d}-ceph`);
            assert.equal(dcn.centralRcFile, undefined, "the aggregate check moved to the site's Command");
            assert.equal(dcn.sanityChecks, undefined);
            assert.equal(dcn.files.metalFile, `metalFile@${d}-metal`);
            assert.equal(dcn.overrides.CephClusterName, d);
            assert.equal(dcn.overrides.CinderStorageAvailabilityZone, d);
            assert.deepEqual(
                byName(`${d}-glance`).inputs.stores.map((s: { id: string }) => s.id),
                ["central"],
            );
            assert.equal(byName(`${d}-glance`).inputs.backendId, d);
        }
    });

    it("DCN sites do not depend on each other", () => {
        const dcn1 = JSON.stringify(regs.filter((r) => r.name.startsWith("dcn1-")).map((r) => r.inputs));
        assert.ok(!/@dcn0-/.test(dcn1));
    });

    it("exports per-site outputs and central endpoints", async () => {
        assert.deepEqual(Object.keys(deployment.sites), ["control-plane", "dcn0", "dcn1"]);
        assert.equal(await valueOf(deployment.sites.dcn0.cephFsid), "fsid@dcn0-ceph");
        assert.equal(await valueOf(deployment.sites.dcn1.status), "status@dcn1-overcloud");
        assert.deepEqual(await valueOf(deployment.centralEndpoints), { KeystonePublic: "http://10.0.0.5:5000" });
    });

    it("sanity checks: one command.remote.Command per site, host key pinned, key secret, after the stack, re-run on redeploy", async () => {
        const cmds = regs.filter((r) => r.type === "command:remote:Command");
        assert.deepEqual(cmds.map((c) => c.name).sort(), ["control-plane-sanity", "dcn0-sanity", "dcn1-sanity"]);
        for (const c of cmds) {
            const site = c.name.replace(/-sanity$/, "");
            // The whole connection (with the private key) reaches the engine as a secret.
            assert.equal(c.inputs.connection[SECRET_SIG], "1b47061264138c4ac30d75fd1eb44270", `${c.name}: secret`);
            assert.deepEqual(
                c.inputs.connection.value,
                { ...undercloud, privateKey: "KEY", dialErrorLimit: 3, perDialTimeout: 15 },
                `${c.name}: connection with the pinned host key`,
            );
            assert.deepEqual(c.inputs.triggers, [`deploySpec@${site}-overcloud`]);
            assert.equal(c.inputs.addPreviousOutputInEnv, false);
            const d = deps.get(c.name) ?? [];
            assert.ok(
                d.some((u) => u.endsWith(`::${site}-overcloud`)),
                `${c.name} depends on ${site}-overcloud: ${d.join(", ")}`,
            );
            // Parented to its site component.
            const site_ = [deployment.central, ...deployment.dcns].find((x) => x.plan.name === site)!;
            assert.match(await valueOf(site_.sanityCheck!.urn), /dcn:index:Site\$command:remote:Command::/);
        }
        const central = byName("control-plane-sanity").inputs.create as string;
        assert.match(central, /openstack token issue -f value -c id > \/dev\/null/);
        assert.ok(central.endsWith(" sh rcFile@control-plane-overcloud"), central);
        for (const dcn of ["dcn0", "dcn1"]) {
            const create = byName(`${dcn}-sanity`).inputs.create as string;
            assert.match(create, /openstack aggregate show "\$2"/);
            assert.ok(create.endsWith(` sh rcFile@control-plane-overcloud ${dcn}`), create);
            assert.ok(
                (deps.get(`${dcn}-sanity`) ?? []).some((u) => u.endsWith("::control-plane-overcloud")),
                `${dcn}-sanity runs after the central stack`,
            );
        }
    });

    it("validation: after every stack (beside the sanity checks), with the DCN sites and every stack's deploy hash", async () => {
        const v = byName("control-plane-validation");
        assert.equal(v.type, "pulumi-nodejs:dynamic/dcn:MultistoreValidation");
        assert.equal(v.inputs.rcFile, "rcFile@control-plane-overcloud");
        assert.deepEqual(v.inputs.targets, [
            { name: "dcn0", store: "dcn0", az: "dcn0", stack: "dcn0", cephCluster: "dcn0" },
            { name: "dcn1", store: "dcn1", az: "dcn1", stack: "dcn1", cephCluster: "dcn1" },
        ]);
        assert.equal(v.inputs.keep, false);
        assert.equal(v.inputs.undercloud.hostKey, undercloud.hostKey);
        for (const s of ["control-plane", "dcn0", "dcn1"]) {
            assert.equal(v.inputs.stackSpecs[s], `deploySpec@${s}-overcloud`);
            assert.ok(
                (deps.get("control-plane-validation") ?? []).some((u) => u.endsWith(`::${s}-overcloud`)),
                `validation depends on ${s}-overcloud`,
            );
            // It does not wait for the sanity checks (bench P1: they run side by side).
            assert.ok(
                !(deps.get("control-plane-validation") ?? []).some((u) => u.endsWith(`::${s}-sanity`)),
                `validation does not wait for ${s}-sanity`,
            );
        }
        assert.match(
            await valueOf(deployment.validation!.urn),
            /dcn:index:Deployment\$pulumi-nodejs:dynamic\/dcn:MultistoreValidation::control-plane-validation$/,
        );
        assert.deepEqual(await valueOf(deployment.validationSummary!.sites), {
            dcn0: { copied: true, snapProtected: true, cowBoot: true },
            dcn1: { copied: true, snapProtected: true, cowBoot: true },
        });
        assert.deepEqual(await valueOf(deployment.validationSummary!.stores), ["central", "dcn0", "dcn1"]);
    });
});
