// The undercloud files preflight (components/preflight.ts): the remote script run by a local sh on
// a home seeded as the lab seeds its undercloud (lab/home.ts), its output parsed and judged. The
// dev config passes on the lab's imitation tree and on THT 18.0.0 itself; each wrong file is
// refused naming its config key and what is wrong.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { TopologyPlan, planTopology } from "../../components/config";
import {
    heatEnvProblem,
    networkDataProblems,
    parsePreflightOutput,
    preflightArgv,
    preflightProblems,
    preflightReads,
} from "../../components/preflight";
import { homeFiles } from "../../lab/home";
import { devConfig } from "../support/lab";

const THT = path.join(__dirname, "..", "..", ".tripleo", "tht");

/** A home as the lab seeds it (imitation templates tree, or ~/templates → THT 18.0.0). */
function seededHome(real = false): string {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-preflight-"));
    for (const [rel, text] of Object.entries(homeFiles(home, real ? "real" : "imitation"))) {
        fs.mkdirSync(path.dirname(path.join(home, rel)), { recursive: true });
        fs.writeFileSync(path.join(home, rel), text);
    }
    if (real) fs.symlinkSync(THT, path.join(home, "templates"));
    return home;
}

type Cfg = { settings: Record<string, any>; sites: any[] }; // eslint-disable-line @typescript-eslint/no-explicit-any

function devCfg(): Cfg {
    const d = devConfig();
    return JSON.parse(JSON.stringify({ settings: d["dcn-storage:settings"], sites: d["dcn-storage:sites"] })) as Cfg;
}

/** The preflight of `cfg` against `home`: the script run by the local sh, as sshd would run it. */
function preflight(home: string, cfg: Cfg): string[] {
    const plan: TopologyPlan = planTopology(cfg.sites, cfg.settings);
    const reads = preflightReads(plan);
    const [cmd, ...args] = preflightArgv(reads);
    const r = spawnSync(cmd, args, { env: { PATH: process.env.PATH, HOME: home }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return preflightProblems(plan, reads, parsePreflightOutput(r.stdout, reads.length));
}

function refused(problems: string[], key: string, what: RegExp): void {
    const hit = problems.find((p) => p.startsWith(`dcn-storage:${key}: `));
    assert.ok(hit, `no problem names ${key}:\n${problems.join("\n")}`);
    assert.match(hit, what);
}

describe("undercloud files preflight", () => {
    const home = seededHome();

    it("the dev config passes on the lab's home (imitation tree)", () => {
        assert.deepEqual(preflight(home, devCfg()), []);
    });

    it("the dev config passes on THT 18.0.0 (network-environment.yaml rendered from its .j2.yaml)", (t) => {
        if (!fs.existsSync(path.join(THT, "roles"))) return t.skip("no .tripleo/tht (npm run setup)");
        const real = seededHome(true);
        assert.deepEqual(preflight(real, devCfg()), []);
    });

    it("one remote command reads everything: every path is an argument, never part of the script", () => {
        const plan = planTopology(devCfg().sites, devCfg().settings);
        const argv = preflightArgv(preflightReads(plan));
        assert.equal(argv[0], "sh");
        assert.ok(!argv[2].includes("oc0-network-data"));
        assert.ok(argv.includes("~/oc0-network-data.yaml"));
        assert.ok(argv.includes("~/templates/roles/DistributedComputeHCIScaleOut.yaml"));
    });

    it("networkDataFile pointing at the container prepare file", () => {
        const c = devCfg();
        c.settings.networkDataFile = "~/containers-prepare-parameter.yaml";
        refused(
            preflight(home, c),
            "settings.networkDataFile",
            /^dcn-storage:settings\.networkDataFile: ~\/containers-prepare-parameter\.yaml: is not TripleO network data .*it is a Heat environment file$/,
        );
    });

    it("containerPrepareFile pointing at the network data", () => {
        const c = devCfg();
        c.settings.containerPrepareFile = "~/oc0-network-data.yaml";
        refused(preflight(home, c), "settings.containerPrepareFile", /is not a Heat environment .*a network data file/);
    });

    it("a container prepare file without ContainerImagePrepare", () => {
        const c = devCfg();
        c.settings.containerPrepareFile = "~/oc0-domain.yaml";
        refused(preflight(home, c), "settings.containerPrepareFile", /no parameter_defaults\.ContainerImagePrepare/);
    });

    it("a missing common env file, a directory, and an env file with a wrong section: all at once", () => {
        const c = devCfg();
        fs.writeFileSync(path.join(home, "bad-env.yaml"), stringify({ parameter_default: { A: 1 } }));
        c.settings.commonEnvFiles[3] = "~/foo.yaml";
        c.settings.commonEnvFiles[4] = "~/overcloud-0-yml";
        c.settings.commonEnvFiles[5] = "~/bad-env.yaml";
        const p = preflight(home, c);
        assert.equal(p.length, 3, p.join("\n"));
        refused(
            p,
            "settings.commonEnvFiles[3]",
            /^dcn-storage:settings\.commonEnvFiles\[3\]: ~\/foo\.yaml: not found on the undercloud$/,
        );
        refused(p, "settings.commonEnvFiles[4]", /is a directory/);
        refused(p, "settings.commonEnvFiles[5]", /section parameter_default \(Heat accepts only parameters, /);
    });

    it("a templatesDir that is not a THT tree", () => {
        const c = devCfg();
        c.settings.templatesDir = "~/metalsmith";
        refused(
            preflight(home, c),
            "settings.templatesDir",
            /is not a tripleo-heat-templates tree: no overcloud\.j2\.yaml/,
        );
        c.settings.templatesDir = "~/nowhere";
        refused(preflight(home, c), "settings.templatesDir", /not found on the undercloud/);
    });

    it("a role not in the templates' roles dir (custom, with its networks)", () => {
        const c = devCfg();
        c.sites[2].roles[1].name = "EdgeCompute";
        c.sites[2].roles[1].networks = ["ctlplane", "internal_api_cloud_0"];
        refused(preflight(home, c), "sites[2].roles[1].name", /role EdgeCompute is not in the templates' roles/);
    });

    it("a custom role declared cephMon whose file has no CephMon", () => {
        const h = seededHome();
        fs.writeFileSync(
            path.join(h, "templates/roles/EdgeMon.yaml"),
            stringify([{ name: "EdgeMon", ServicesDefault: ["OS::TripleO::Services::CephOSD"] }]),
        );
        const c = devCfg();
        c.sites[1].roles = [
            { name: "EdgeMon", instances: ["oc0-ceph-1"], cephMon: true, cephDisks: true, networks: ["ctlplane"] },
        ];
        refused(preflight(h, c), "sites[1].roles", /no role of the site runs OS::TripleO::Services::CephMon/);
    });

    it("a role network that is not in the network data names the key it came from", () => {
        const c = devCfg();
        c.settings.roleNetworks = { CephAll: ["ctlplane", "storage_cloud_9"] };
        refused(
            preflight(home, c),
            "settings.roleNetworks.CephAll",
            /network storage_cloud_9 of role CephAll is not in/,
        );
    });
});

describe("preflight pure parts", () => {
    it("parses the script's lines; a path the output lacks is missing", () => {
        const out = `0 file ${Buffer.from("a: 1\n").toString("base64")}\n1 dir\n3 big\n`;
        assert.deepEqual(parsePreflightOutput(out, 4), [
            { state: "file", content: "a: 1\n" },
            { state: "dir" },
            { state: "missing" },
            { state: "big" },
        ]);
    });

    it("Heat environment sections as environment_format.py has them", () => {
        assert.equal(heatEnvProblem(null), undefined);
        assert.equal(heatEnvProblem({ parameter_defaults: {}, parameter_merge_strategies: {} }), undefined);
        assert.match(heatEnvProblem({ parameter_defaults: null }) ?? "", /empty section parameter_defaults/);
        assert.match(heatEnvProblem([1]) ?? "", /it is a YAML list/);
    });

    it("network data v2: name and subnets required, unknown keys refused", () => {
        const r = networkDataProblems([
            { name: "Storage", subnets: { s: { ip_subnet: "172.16.1.0/24", vlan: 30 } } },
            { name_lower: "x", subnets: {} },
            { name: "Tenant", subnets: { t: { cidr: "10.0.0.0/24" } }, vlans: 3 },
        ]);
        assert.deepEqual(r.networks, [
            { nameLower: "storage", subnets: ["s"] },
            { nameLower: "tenant", subnets: ["t"] },
        ]);
        assert.deepEqual(r.problems, [
            "network [1] has no name",
            "network [1] has no subnets mapping",
            "network Tenant has unknown key vlans",
            "network Tenant subnet t has neither ip_subnet nor ipv6_subnet",
        ]);
    });
});
