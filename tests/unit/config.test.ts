// Stack config validation (components/config.ts, components/connection.ts): the seed topology and
// errors naming the exact key.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { utils } from "ssh2";
import {
    CEPH_MON_ROLES,
    CEPH_OSD_ROLES,
    ConfigError,
    checkProjectKeys,
    DEFAULT_VIPS,
    parseUndercloud,
    planTopology,
} from "../../components/config";
import { resolveUndercloud } from "../../components/connection";

const devYaml = parse(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")).config;
const seedSites = devYaml["dcn-storage:sites"];
const seedSettings = devYaml["dcn-storage:settings"];
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

function fails(fn: () => unknown, ...patterns: RegExp[]) {
    assert.throws(fn, (e: Error) => {
        assert.ok(e instanceof ConfigError, `not a ConfigError: ${e}`);
        for (const p of patterns) {
            assert.match(e.message, p);
        }
        return true;
    });
}

describe("topology", () => {
    it("plans the seed topology from Pulumi.dev.yaml", () => {
        const plan = planTopology(seedSites, seedSettings);
        assert.equal(plan.central.name, "control-plane");
        assert.equal(plan.central.cephCluster, "central");
        assert.equal(plan.central.glanceStore, "central");
        assert.deepEqual(
            plan.dcns.map((d) => [d.name, d.cephCluster, d.az, d.glanceStore]),
            [
                ["dcn0", "dcn0", "dcn0", "dcn0"],
                ["dcn1", "dcn1", "dcn1", "dcn1"],
            ],
        );
        assert.deepEqual(
            plan.central.roles.map((r) => [r.name, r.instances.map((i) => i.hostname), r.cephDisks]),
            [
                ["Controller", ["oc0-controller-0", "oc0-controller-1", "oc0-controller-2"], false],
                ["ComputeHCI", ["oc0-ceph-0"], true],
            ],
        );
        assert.deepEqual(plan.central.roles[0].defaultRouteNetwork, ["external_cloud_0"]);
        assert.ok(plan.central.vips.length > 0, "central gets VIPs");
        assert.deepEqual(plan.dcns[0].vips, plan.central.vips, "every stack provisions its VIPs (THT 18)");
        assert.equal(plan.dcns[1].workDir, "~/dcn/dcn1");
        assert.deepEqual(
            plan.dcns[1].roles.map((r) => r.name),
            ["CephAll", "DistributedCompute"],
        );
        assert.equal(plan.settings.singleHostCeph, true);
        assert.equal(plan.settings.timeoutMinutes.deploy, 240);
    });

    // Every stack provisions its VIPs (reference: the seed's `dcn/metal.sh <STACK>` ensures
    // deployed-vips-<STACK>.yaml for every stack, central or DCN): THT 18's overcloud-resource-registry-puppet.j2.yaml maps
    // OS::TripleO::Network::Ports::ControlPlaneVipPort to network/ports/deployed_vip_ctlplane.yaml,
    // whose outputs are get_param [ControlPlaneVipData, …] (written by the VIP provision).
    it("DCN sites without vips get the default VIPs, as central does", () => {
        const plan = planTopology(seedSites, seedSettings);
        for (const d of plan.dcns) {
            assert.ok(
                d.vips.some((v) => v.network === "ctlplane"),
                `${d.name} provisions the ctlplane VIP`,
            );
            assert.deepEqual(d.vips, plan.central.vips, d.name);
        }
        assert.deepEqual(plan.central.vips, DEFAULT_VIPS);
        const s = clone(seedSites);
        s[1].vips = [{ network: "ctlplane" }];
        assert.deepEqual(planTopology(s, seedSettings).dcns[0].vips, [{ network: "ctlplane" }]);
    });

    it("every DCN site is generated from its own entry (dcn1 is not a copy of dcn0)", () => {
        const plan = planTopology(seedSites, seedSettings);
        const [d0, d1] = plan.dcns;
        assert.notDeepEqual(d0.roles, d1.roles);
        assert.ok(!JSON.stringify(d1).includes("dcn0"));
    });

    it("rejects a Ceph cluster name with a hyphen, naming the key", () => {
        const s = clone(seedSites);
        s[2].cephCluster = "dcn-1";
        fails(() => planTopology(s, seedSettings), /dcn-storage:sites\[2\]\.cephCluster/, /\[a-zA-Z0-9\]\+/);
    });

    it("rejects duplicate cluster names, hostnames and two central sites", () => {
        const s = clone(seedSites);
        s[2].cephCluster = "dcn0";
        fails(
            () => planTopology(s, seedSettings),
            /sites\[2\]\.cephCluster: Ceph cluster name "dcn0" is already used by dcn-storage:sites\[1\]/,
        );
        const h = clone(seedSites);
        h[2].roles[0].instances = ["oc0-ceph-1"];
        fails(() => planTopology(h, seedSettings), /sites\[2\]\.roles\[0\]\.instances\[0\]: hostname oc0-ceph-1/);
        const c = clone(seedSites);
        c[1].kind = "central";
        fails(() => planTopology(c, seedSettings), /exactly one site must have kind central \(found 2\)/);
    });

    it("rejects unknown keys, bad roles, missing sites and bad settings", () => {
        const s = clone(seedSites);
        s[0].clusterName = "x";
        fails(() => planTopology(s, seedSettings), /dcn-storage:sites\[0\]/, /clusterName/);
        const r = clone(seedSites);
        r[1].roles[0].name = "FancyRole";
        fails(
            () => planTopology(r, seedSettings),
            /sites\[1\]\.roles\[0\]\.networks: role FancyRole has no default networks/,
        );
        fails(() => planTopology(undefined, seedSettings), /dcn-storage:sites: missing/);
        fails(
            () => planTopology(seedSites, { ...seedSettings, templatesDir: "templates; rm -rf /" }),
            /dcn-storage:settings\.templatesDir/,
        );
        fails(
            () => planTopology(seedSites, { ...seedSettings, deployArgs: ["--x", "$(id)"] }),
            /dcn-storage:settings\.deployArgs\[1\]/,
        );
    });

    it("a site with no Ceph monitor role is refused naming its roles (not found only inside ceph deploy)", () => {
        const s = clone(seedSites);
        s[1].roles = s[1].roles.filter((r: { name: string }) => r.name === "DistributedComputeHCIScaleOut");
        fails(
            () => planTopology(s, seedSettings),
            /dcn-storage:sites\[1\]\.roles: no role runs a Ceph monitor/,
            /DistributedComputeHCI,/,
            /cephMon: true/,
            /cluster dcn0/,
        );
        const c = clone(seedSites);
        c[0].roles[0].cephMon = false;
        fails(() => planTopology(c, seedSettings), /dcn-storage:sites\[0\]\.roles: no role runs a Ceph monitor/);
    });

    it("a custom role declares its Ceph services (cephMon, cephDisks)", () => {
        const s = clone(seedSites);
        s[1].roles = [
            {
                name: "EdgeStorage",
                instances: ["oc0-ceph-1"],
                networks: ["ctlplane", "storage_cloud_0"],
                cephMon: true,
                cephDisks: true,
            },
        ];
        const plan = planTopology(s, seedSettings);
        assert.equal(plan.dcns[0].roles[0].cephDisks, true);
        assert.ok(!("cephMon" in plan.dcns[0].roles[0]), "cephMon is config-only: metal inputs do not change");
        s[1].roles[0].cephMon = undefined;
        fails(() => planTopology(s, seedSettings), /sites\[1\]\.roles: no role runs a Ceph monitor/);
    });

    // The table is the program's own (a plain preview never reaches the undercloud): it must be
    // what THT 18's roles files say. .tripleo/tht is installed by `npm run setup`.
    const thtRoles = [
        path.join(__dirname, "..", "..", ".tripleo", "tht", "roles"),
        "/usr/share/openstack-tripleo-heat-templates/roles",
    ].find((d) => fs.existsSync(d));
    it("the CephMon/CephOSD role tables are THT 18's roles/*.yaml", { skip: !thtRoles && "no THT tree" }, () => {
        const mon: string[] = [];
        const osd: string[] = [];
        for (const f of fs.readdirSync(thtRoles!).filter((n) => n.endsWith(".yaml"))) {
            for (const role of parse(fs.readFileSync(path.join(thtRoles!, f), "utf8")) as Array<{
                name: string;
                ServicesDefault?: string[];
            }>) {
                const svc = role.ServicesDefault ?? [];
                if (svc.includes("OS::TripleO::Services::CephMon")) mon.push(role.name);
                if (svc.includes("OS::TripleO::Services::CephOSD")) osd.push(role.name);
            }
        }
        assert.deepEqual([...CEPH_MON_ROLES].sort(), mon.sort());
        assert.deepEqual([...CEPH_OSD_ROLES].sort(), osd.sort());
    });

    it("adding a site dcn2 changes nothing in the plans of the other sites", () => {
        const s = clone(seedSites);
        s.push({
            name: "dcn2",
            kind: "dcn",
            cephCluster: "dcn2",
            roles: [{ name: "DistributedComputeHCI", instances: ["oc0-ceph-4"] }],
        });
        const before = planTopology(seedSites, seedSettings);
        const after = planTopology(s, seedSettings);
        assert.deepEqual(after.dcns.slice(0, 2), before.dcns);
        assert.deepEqual(after.central, before.central);
        assert.equal(after.dcns[2].az, "dcn2");
    });
});

describe("undercloud connection", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-conn-"));
    const host = utils.generateKeyPairSync("ed25519");
    const hostLine = host.public.trim().split(/\s+/).slice(0, 2).join(" ");
    fs.mkdirSync(path.join(dir, ".lab", "ssh"), { recursive: true });
    fs.writeFileSync(path.join(dir, ".lab", "ssh", "known_hosts"), `[127.0.0.1]:2222 ${hostLine}\n`);
    fs.writeFileSync(path.join(dir, ".lab", "ssh", "id_ed25519"), "KEY");
    fs.writeFileSync(
        path.join(dir, ".lab", "connection.json"),
        JSON.stringify({
            host: "127.0.0.1",
            port: 2222,
            user: "stack",
            privateKeyPath: path.join(dir, ".lab", "ssh", "id_ed25519"),
            knownHostsPath: path.join(dir, ".lab", "ssh", "known_hosts"),
            hostKey: hostLine,
        }),
    );

    it("resolves the lab's connection.json with the known_hosts pin", () => {
        const r = resolveUndercloud(parseUndercloud(devYaml["dcn-storage:undercloud"]), dir, false);
        assert.deepEqual(r.connection, { host: "127.0.0.1", port: 2222, user: "stack", hostKey: hostLine });
        assert.equal(r.privateKeyFile, path.join(dir, ".lab", "ssh", "id_ed25519"));
    });

    it("names the key when the pin cannot be found or a field is wrong", () => {
        fails(
            () =>
                resolveUndercloud(
                    parseUndercloud({
                        host: "10.0.0.1",
                        knownHostsFile: ".lab/ssh/known_hosts",
                        privateKeyFile: ".lab/ssh/id_ed25519",
                    }),
                    dir,
                    false,
                ),
            /dcn-storage:undercloud\.knownHostsFile: .* has no key for 10\.0\.0\.1/,
        );
        fails(
            () => resolveUndercloud(parseUndercloud({ host: "10.0.0.1" }), dir, false),
            /dcn-storage:undercloud\.hostKey: missing/,
        );
        fails(() => parseUndercloud({ host: "10.0.0.1", port: 99999 }), /dcn-storage:undercloud\.port/);
        fails(() => parseUndercloud(undefined), /dcn-storage:undercloud: missing/);
        fails(
            () => resolveUndercloud(parseUndercloud({ connectionFile: "nope.json" }), dir, false),
            /dcn-storage:undercloud\.connectionFile/,
        );
        const ok = resolveUndercloud(parseUndercloud({ host: "h", hostKey: hostLine + " comment" }), dir, true);
        assert.equal(ok.connection.hostKey, hostLine);
        assert.equal(ok.privateKeyFile, undefined);
    });

    it("hostKey takes several lines or a list; the pin is normalized (ed25519 first, @revoked last)", () => {
        const rsa = utils.generateKeyPairSync("rsa", { bits: 2048 }).public.trim().split(/\s+/).slice(0, 2).join(" ");
        const old = utils.generateKeyPairSync("ed25519").public.trim().split(/\s+/).slice(0, 2).join(" ");
        const want = `${hostLine}\n${rsa}\n@revoked ${old}`;
        for (const hostKey of [`${rsa} a\n${hostLine} b\n@revoked ${old}\n`, [rsa, hostLine, `@revoked ${old}`]]) {
            assert.equal(
                resolveUndercloud(parseUndercloud({ host: "h", hostKey }), dir, true).connection.hostKey,
                want,
            );
        }
        fails(() => parseUndercloud({ host: "h", hostKey: [hostLine, "yes"] }), /undercloud\.hostKey\[1\]: must be/);
        fails(() => parseUndercloud({ host: "h", hostKey: `@revoked ${hostLine}` }), /hostKey: no host key pinned/);
    });

    it("known_hosts: @revoked keys are not pinned, @cert-authority lines give a note", () => {
        const kh = path.join(dir, "kh-revoked");
        fs.writeFileSync(kh, `[h]:2222 ${hostLine}\n@revoked [h]:2222 ${hostLine}\n@cert-authority * ${hostLine}\n`);
        fails(
            () => resolveUndercloud(parseUndercloud({ host: "h", port: 2222, knownHostsFile: kh }), dir, true),
            /knownHostsFile: .* has no key for \[h\]:2222 \(.*@cert-authority ignored.*; 1 key\(s\) .* @revoked/,
        );
        fs.appendFileSync(kh, `h,[h]:2222 ${utils.generateKeyPairSync("ecdsa", { bits: 256 }).public}\n`);
        const r = resolveUndercloud(parseUndercloud({ host: "h", port: 2222, knownHostsFile: kh }), dir, true);
        assert.match(r.connection.hostKey, /^ecdsa-sha2-nistp256 \S+\n@revoked ssh-ed25519 \S+$/);
        assert.equal(r.notes.length, 2);
        assert.match(r.notes[0], /@cert-authority ignored/);
    });
});

describe("project keys", () => {
    it("the program's own keys and other namespaces pass", () => {
        checkProjectKeys([
            "dcn-storage:undercloud",
            "dcn-storage:undercloudPrivateKey",
            "dcn-storage:settings",
            "dcn-storage:sites",
            "command:anything",
            "pulumi:tags",
        ]);
    });

    it("an unknown key is refused, naming it and the key it is closest to", () => {
        assert.throws(
            () =>
                checkProjectKeys([
                    "dcn-storage:sites",
                    "dcn-storage:sitez",
                    "dcn-storage:Settings",
                    "dcn-storage:zone",
                ]),
            (e: Error) => {
                assert.ok(e instanceof ConfigError);
                const lines = e.message.split("\n");
                assert.equal(lines[0], "invalid stack config:");
                assert.match(
                    lines[1],
                    /^ {2}dcn-storage:Settings: unknown key \(did you mean dcn-storage:settings\?\)/,
                );
                assert.match(lines[2], /^ {2}dcn-storage:sitez: unknown key \(did you mean dcn-storage:sites\?\)/);
                assert.match(
                    lines[3],
                    /^ {2}dcn-storage:zone: unknown key; the program reads dcn-storage:undercloud, /,
                );
                return true;
            },
        );
    });
});

describe("stack names", () => {
    it("a name over 63 characters is refused, the message naming the limit", () => {
        const sites = structuredClone(seedSites);
        sites[1].name = "d" + "0".repeat(63);
        assert.throws(
            () => planTopology(sites, seedSettings),
            /dcn-storage:sites\[1\]\.name: stack names are 1 to 63 characters/,
        );
    });
});
