// The bad-input table (issue 6, "Reliability and security suites"): malformed variants of the dev
// stack's config, each with the config key its error must name. Shared by tests/unit/bad-input.test.ts
// (every case, through the config module) and tests/integration/bad-input.test.ts (the `live`
// subset, through a real `pulumi up`/`preview` against a private lab).
import { checkProjectKeys, parseUndercloud, planTopology } from "../../components/config";
import { resolveUndercloud } from "../../components/connection";
import { keyLine, parseableKeyPair } from "./ssh-keys";
import { parsePublicKeyLine } from "../../providers/remote/ssh";
import { devConfig } from "./lab";

/** The three config keys of the program (values of `dcn-storage:undercloud`, `:settings`, `:sites`). */
export interface StackCfg {
    undercloud?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    settings?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    sites?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    /** Other keys under the project namespace (`sitez` for `dcn-storage:sitez`): typos. */
    other?: Record<string, unknown>;
}

export interface BadCase {
    name: string;
    /** The key path the error must name, e.g. `dcn-storage:sites[1].cephCluster` (followed by `:`). */
    key: string;
    mutate: (c: StackCfg) => void;
    /** Also run through the real Pulumi CLI against a lab (integration test). */
    live?: "up" | "preview";
    /** Further keys the same error names (the undercloud files preflight reports every problem at once). */
    alsoKeys?: string[];
}

/** The dev stack's config (Pulumi.dev.yaml), relative `.lab/...` paths included. */
export function baseConfig(): StackCfg {
    const d = devConfig();
    return JSON.parse(
        JSON.stringify({
            undercloud: d["dcn-storage:undercloud"],
            settings: d["dcn-storage:settings"],
            sites: d["dcn-storage:sites"],
        }),
    ) as StackCfg;
}

/** As Pulumi.<stack>.yaml's `config:` map (absent keys left out). */
export function asPulumiConfig(c: StackCfg): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of ["undercloud", "settings", "sites"] as const) {
        if (c[k] !== undefined) {
            out[`dcn-storage:${k}`] = c[k];
        }
    }
    for (const [k, v] of Object.entries(c.other ?? {})) out[`dcn-storage:${k}`] = v;
    return out;
}

/** What index.ts does before any resource exists: parse, plan, resolve the connection. */
export function validateStackConfig(c: StackCfg, projectDir: string): void {
    checkProjectKeys(Object.keys(asPulumiConfig(c)));
    const u = parseUndercloud(c.undercloud);
    planTopology(c.sites, c.settings);
    resolveUndercloud(u, projectDir, false);
}

const S = "dcn-storage:sites";
const ST = "dcn-storage:settings";
const U = "dcn-storage:undercloud";
/** A well-formed host key line (the pin itself is never the fault in these cases). */
const LAB_HOST_KEY = ((): string => {
    for (;;) {
        const line = keyLine(parseableKeyPair().public);
        try {
            parsePublicKeyLine(line);
            return line;
        } catch {
            // ssh2 rejects a few of its own ed25519 keys: draw again
        }
    }
})();

/** Structured mistakes: names, Ceph clusters, roles, nodes, stores, types, ports, undercloud keys. */
export const STRUCTURAL_CASES: BadCase[] = [
    {
        name: "a typo of a top-level key (sitez beside sites)",
        key: "dcn-storage:sitez",
        mutate: (c) => (c.other = { sitez: c.sites }),
        live: "up",
    },
    {
        name: "a key the program does not read",
        key: "dcn-storage:region",
        mutate: (c) => (c.other = { region: "east" }),
    },
    { name: "sites missing", key: S, mutate: (c) => delete c.sites },
    { name: "sites empty", key: S, mutate: (c) => (c.sites = []) },
    { name: "sites is a string", key: S, mutate: (c) => (c.sites = "control-plane,dcn0") },
    {
        name: "sites as a map instead of a list",
        key: S,
        mutate: (c) => (c.sites = { "control-plane": c.sites[0] }),
    },
    { name: "a site is null", key: `${S}[1]`, mutate: (c) => (c.sites[1] = null) },
    { name: "site name missing", key: `${S}[1].name`, mutate: (c) => delete c.sites[1].name },
    { name: "site name empty", key: `${S}[1].name`, mutate: (c) => (c.sites[1].name = "") },
    {
        name: "duplicate site name",
        key: `${S}[2].name`,
        mutate: (c) => {
            c.sites[2].name = "dcn0";
            c.sites[2].az = "dcn1";
        },
    },
    { name: "site name upper case", key: `${S}[1].name`, mutate: (c) => (c.sites[1].name = "DCN0") },
    { name: "site name 64 characters", key: `${S}[1].name`, mutate: (c) => (c.sites[1].name = "d" + "0".repeat(63)) },
    { name: "site name a number", key: `${S}[1].name`, mutate: (c) => (c.sites[1].name = 0) },
    {
        name: "Ceph cluster control-plane",
        key: `${S}[0].cephCluster`,
        mutate: (c) => (c.sites[0].cephCluster = "control-plane"),
        live: "preview",
    },
    { name: "Ceph cluster dcn-0", key: `${S}[1].cephCluster`, mutate: (c) => (c.sites[1].cephCluster = "dcn-0") },
    { name: "Ceph cluster dcn_0", key: `${S}[1].cephCluster`, mutate: (c) => (c.sites[1].cephCluster = "dcn_0") },
    { name: "Ceph cluster empty", key: `${S}[1].cephCluster`, mutate: (c) => (c.sites[1].cephCluster = "") },
    {
        name: "DCN site without a Ceph cluster",
        key: `${S}[2].cephCluster`,
        mutate: (c) => delete c.sites[2].cephCluster,
    },
    {
        name: "DCN site without a Ceph role (no OSD disks)",
        key: `${S}[2].roles`,
        mutate: (c) => (c.sites[2].roles = [{ name: "DistributedCompute", instances: ["oc0-compute-0"] }]),
        live: "up",
    },
    {
        // Issue 11 (defect 12): found only inside `ceph deploy` before, after node provision.
        name: "DCN site without a Ceph monitor (CephOSD scale-out role only)",
        key: `${S}[1].roles`,
        mutate: (c) => c.sites[1].roles.splice(0, 1),
        live: "up",
    },
    {
        name: "central site without a Ceph role",
        key: `${S}[0].roles`,
        mutate: (c) => c.sites[0].roles.splice(1, 1),
    },
    {
        name: "duplicate Ceph cluster",
        key: `${S}[2].cephCluster`,
        mutate: (c) => {
            c.sites[2].cephCluster = "dcn0";
            c.sites[2].glanceStore = "dcn1";
        },
    },
    {
        name: "unknown role without networks",
        key: `${S}[1].roles[0].networks`,
        mutate: (c) => (c.sites[1].roles[0].name = "FancyRole"),
    },
    {
        name: "role name lower case",
        key: `${S}[0].roles[0].name`,
        mutate: (c) => (c.sites[0].roles[0].name = "controller"),
    },
    {
        name: "role listed twice in a site",
        key: `${S}[1].roles[1].name`,
        mutate: (c) => (c.sites[1].roles[1].name = "DistributedComputeHCI"),
    },
    { name: "site without roles", key: `${S}[1].roles`, mutate: (c) => (c.sites[1].roles = []) },
    {
        name: "role without instances",
        key: `${S}[1].roles[0].instances`,
        mutate: (c) => (c.sites[1].roles[0].instances = []),
    },
    {
        name: "instances is a string",
        key: `${S}[1].roles[0].instances`,
        mutate: (c) => (c.sites[1].roles[0].instances = "oc0-ceph-1"),
    },
    {
        name: "a node in two sites",
        key: `${S}[2].roles[0].instances[0]`,
        mutate: (c) => (c.sites[2].roles[0].instances = ["oc0-ceph-1"]),
        live: "up",
    },
    {
        name: "a node in two sites under another hostname",
        key: `${S}[2].roles[1].instances[0]`,
        mutate: (c) => (c.sites[2].roles[1].instances = [{ hostname: "dcn1-compute-0", node: "oc0-ceph-2" }]),
    },
    {
        name: "a hostname twice in one role",
        key: `${S}[0].roles[0].instances[1]`,
        mutate: (c) => (c.sites[0].roles[0].instances[1] = "oc0-controller-0"),
    },
    {
        name: "instance with an unknown key",
        key: `${S}[1].roles[0].instances[0]`,
        mutate: (c) => (c.sites[1].roles[0].instances[0] = { hostname: "oc0-ceph-1", nodes: "oc0-ceph-1" }),
    },
    { name: "kind edge", key: `${S}[1].kind`, mutate: (c) => (c.sites[1].kind = "edge") },
    { name: "kind missing", key: `${S}[1].kind`, mutate: (c) => delete c.sites[1].kind },
    { name: "two central sites", key: S, mutate: (c) => (c.sites[1].kind = "central") },
    { name: "no central site", key: S, mutate: (c) => (c.sites[0].kind = "dcn") },
    {
        name: "duplicate Glance store id",
        key: `${S}[2].glanceStore`,
        mutate: (c) => (c.sites[2].glanceStore = "dcn0"),
    },
    {
        name: "Glance store id equal to the central store",
        key: `${S}[1].glanceStore`,
        mutate: (c) => (c.sites[1].glanceStore = "central"),
    },
    {
        name: "Glance store id with a space",
        key: `${S}[1].glanceStore`,
        mutate: (c) => (c.sites[1].glanceStore = "dcn 0"),
    },
    { name: "duplicate AZ", key: `${S}[2].az`, mutate: (c) => (c.sites[2].az = "dcn0") },
    { name: "AZ with a dot", key: `${S}[1].az`, mutate: (c) => (c.sites[1].az = "dcn.0") },
    {
        name: "Glance description over 200 characters",
        key: `${S}[0].glanceDescription`,
        mutate: (c) => (c.sites[0].glanceDescription = "x".repeat(201)),
    },
    { name: "unknown site key", key: `${S}[0]`, mutate: (c) => (c.sites[0].clusterName = "central") },
    {
        name: "overrides value is an object",
        key: `${S}[1].overrides.NovaCrossAZAttach`,
        mutate: (c) => (c.sites[1].overrides = { NovaCrossAZAttach: { value: true } }),
    },
    {
        name: "defaultRouteNetwork is a string",
        key: `${S}[0].roles[0].defaultRouteNetwork`,
        mutate: (c) => (c.sites[0].roles[0].defaultRouteNetwork = "external_cloud_0"),
    },
    {
        name: "vip network is a number",
        key: `${S}[0].vips[0].network`,
        mutate: (c) => (c.sites[0].vips = [{ network: 5 }]),
    },
    { name: "settings is a list", key: ST, mutate: (c) => (c.settings = ["~/templates"]) },
    { name: "unknown settings key", key: ST, mutate: (c) => (c.settings.templateDir = "~/templates") },
    {
        name: "singleHostCeph is a string",
        key: `${ST}.singleHostCeph`,
        mutate: (c) => (c.settings.singleHostCeph = "yes"),
    },
    {
        name: "deployArgs is a string",
        key: `${ST}.deployArgs`,
        mutate: (c) => (c.settings.deployArgs = "--timeout 90"),
    },
    { name: "deployArgs holds a number", key: `${ST}.deployArgs[1]`, mutate: (c) => (c.settings.deployArgs[1] = 90) },
    {
        name: "relative env file",
        key: `${ST}.commonEnvFiles[0]`,
        mutate: (c) => (c.settings.commonEnvFiles[0] = "templates/environments/podman.yaml"),
    },
    { name: "relative workRoot", key: `${ST}.workRoot`, mutate: (c) => (c.settings.workRoot = "dcn") },
    { name: "metalConcurrency 0", key: `${ST}.metalConcurrency`, mutate: (c) => (c.settings.metalConcurrency = 0) },
    {
        name: "negative deploy timeout",
        key: `${ST}.timeoutMinutes.deploy`,
        mutate: (c) => (c.settings.timeoutMinutes = { deploy: -5 }),
    },
    {
        name: "roleNetworks entry not a list",
        key: `${ST}.roleNetworks.Controller`,
        mutate: (c) => (c.settings.roleNetworks = { Controller: "ctlplane" }),
    },
    { name: "undercloud missing", key: U, mutate: (c) => delete c.undercloud },
    { name: "undercloud is a string", key: U, mutate: (c) => (c.undercloud = "stack@127.0.0.1") },
    { name: "unknown undercloud key", key: U, mutate: (c) => (c.undercloud.hostname = "127.0.0.1") },
    { name: "port 0", key: `${U}.port`, mutate: (c) => (c.undercloud.port = 0), live: "up" },
    { name: "port 65536", key: `${U}.port`, mutate: (c) => (c.undercloud.port = 65536) },
    { name: "port -22", key: `${U}.port`, mutate: (c) => (c.undercloud.port = -22) },
    { name: "port 22.5", key: `${U}.port`, mutate: (c) => (c.undercloud.port = 22.5) },
    { name: "port as a string", key: `${U}.port`, mutate: (c) => (c.undercloud.port = "2222") },
    {
        name: "no host and no connection file",
        key: `${U}.host`,
        mutate: (c) => (c.undercloud = { hostKey: LAB_HOST_KEY, privateKeyFile: ".lab/ssh/id_ed25519" }),
    },
    {
        name: "no host key pin",
        key: `${U}.hostKey`,
        mutate: (c) => (c.undercloud = { host: "127.0.0.1", port: 2222, privateKeyFile: ".lab/ssh/id_ed25519" }),
    },
    {
        name: "no private key",
        key: `${U}.privateKeyFile`,
        mutate: (c) => (c.undercloud = { host: "127.0.0.1", port: 2222, hostKey: LAB_HOST_KEY }),
    },
    {
        name: "connection file does not exist",
        key: `${U}.connectionFile`,
        mutate: (c) => (c.undercloud.connectionFile = ".lab/nope.json"),
    },
    {
        name: "known_hosts file without this host",
        key: `${U}.knownHostsFile`,
        mutate: (c) => (c.undercloud.host = "10.0.0.1"),
    },
    {
        name: "private key file does not exist",
        key: `${U}.privateKeyFile`,
        mutate: (c) => (c.undercloud.privateKeyFile = ".lab/ssh/id_rsa_missing"),
    },
    { name: "host key not a key line", key: `${U}.hostKey`, mutate: (c) => (c.undercloud.hostKey = "yes") },
    {
        name: "host key with a truncated blob",
        key: `${U}.hostKey`,
        mutate: (c) => (c.undercloud.hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
    },
    { name: "user with upper case", key: `${U}.user`, mutate: (c) => (c.undercloud.user = "Stack") },
];

/** Shell metacharacters, command substitution, quotes, newline and path traversal. */
export const PAYLOADS: Array<[label: string, text: string]> = [
    ["semicolon", "; touch /tmp/pwned"],
    ["command substitution", "$(touch /tmp/pwned)"],
    ["backticks", "`touch /tmp/pwned`"],
    ["pipe", "|touch /tmp/pwned"],
    ["ampersand", "&touch /tmp/pwned"],
    ["newline", "\ntouch /tmp/pwned"],
    ["single quote", "'"],
    ["double quote", '"'],
    ["dotdot", "/../../../etc/passwd"],
];

type Setter = (c: StackCfg, v: (base: string) => string) => void;

/**
 * Every string field of the config (and map keys), with how to put a tainted value there. In a map
 * key's path `{}` stands for the payload (the error names the tainted key itself).
 */
export const STRING_FIELDS: Array<[key: string, set: Setter]> = [
    [`${U}.connectionFile`, (c, v) => (c.undercloud.connectionFile = v(c.undercloud.connectionFile))],
    [`${U}.knownHostsFile`, (c, v) => (c.undercloud.knownHostsFile = v(c.undercloud.knownHostsFile))],
    [`${U}.privateKeyFile`, (c, v) => (c.undercloud.privateKeyFile = v(c.undercloud.privateKeyFile))],
    [`${U}.host`, (c, v) => (c.undercloud.host = v("127.0.0.1"))],
    [`${U}.user`, (c, v) => (c.undercloud.user = v("stack"))],
    [`${U}.hostKey`, (c, v) => (c.undercloud.hostKey = v(LAB_HOST_KEY))],
    [`${ST}.networkDataFile`, (c, v) => (c.settings.networkDataFile = v(c.settings.networkDataFile))],
    [`${ST}.containerPrepareFile`, (c, v) => (c.settings.containerPrepareFile = v(c.settings.containerPrepareFile))],
    [`${ST}.templatesDir`, (c, v) => (c.settings.templatesDir = v(c.settings.templatesDir))],
    [`${ST}.workRoot`, (c, v) => (c.settings.workRoot = v(c.settings.workRoot))],
    [`${ST}.commonEnvFiles[2]`, (c, v) => (c.settings.commonEnvFiles[2] = v(c.settings.commonEnvFiles[2]))],
    [`${ST}.deployArgs[1]`, (c, v) => (c.settings.deployArgs[1] = v(c.settings.deployArgs[1]))],
    [
        `${ST}.networkConfigTemplate`,
        (c, v) => (c.settings.networkConfigTemplate = v("templates/single_nic_vlans/single_nic_vlans.j2")),
    ],
    [`${ST}.roleNetworks.CephAll[0]`, (c, v) => (c.settings.roleNetworks = { CephAll: [v("ctlplane")] })],
    [`${ST}.roleNetworks.CephAll{}`, (c, v) => (c.settings.roleNetworks = { [v("CephAll")]: ["ctlplane"] })],
    [`${S}[1].name`, (c, v) => (c.sites[1].name = v(c.sites[1].name))],
    [`${S}[1].kind`, (c, v) => (c.sites[1].kind = v(c.sites[1].kind))],
    [`${S}[1].cephCluster`, (c, v) => (c.sites[1].cephCluster = v(c.sites[1].cephCluster))],
    [`${S}[0].az`, (c, v) => (c.sites[0].az = v(c.sites[0].az))],
    [`${S}[0].glanceStore`, (c, v) => (c.sites[0].glanceStore = v(c.sites[0].glanceStore))],
    [`${S}[0].glanceDescription`, (c, v) => (c.sites[0].glanceDescription = v(c.sites[0].glanceDescription))],
    [`${S}[2].roles[0].name`, (c, v) => (c.sites[2].roles[0].name = v(c.sites[2].roles[0].name))],
    [
        `${S}[2].roles[0].instances[0]`,
        (c, v) => (c.sites[2].roles[0].instances[0] = v(c.sites[2].roles[0].instances[0])),
    ],
    [
        `${S}[2].roles[0].instances[0].hostname`,
        (c, v) => (c.sites[2].roles[0].instances[0] = { hostname: v("dcn1-ceph-0"), node: "oc0-ceph-3" }),
    ],
    [
        `${S}[2].roles[0].instances[0].node`,
        (c, v) => (c.sites[2].roles[0].instances[0] = { hostname: "dcn1-ceph-0", node: v("oc0-ceph-3") }),
    ],
    [`${S}[1].roles[0].networks[1]`, (c, v) => (c.sites[1].roles[0].networks = ["ctlplane", v("storage_cloud_0")])],
    [`${S}[1].roles[0].networks[0].network`, (c, v) => (c.sites[1].roles[0].networks = [{ network: v("ctlplane") }])],
    [
        `${S}[1].roles[0].networks[0].subnet`,
        (c, v) => (c.sites[1].roles[0].networks = [{ network: "ctlplane", subnet: v("ctlplane-subnet") }]),
    ],
    [
        `${S}[1].roles[0].networkConfigTemplate`,
        (c, v) => (c.sites[1].roles[0].networkConfigTemplate = v("templates/single_nic_vlans/single_nic_vlans.j2")),
    ],
    [
        `${S}[0].roles[0].defaultRouteNetwork[0]`,
        (c, v) => (c.sites[0].roles[0].defaultRouteNetwork = [v("external_cloud_0")]),
    ],
    [`${S}[0].vips[0].network`, (c, v) => (c.sites[0].vips = [{ network: v("ctlplane"), dnsName: "overcloud" }])],
    [`${S}[0].vips[0].dnsName`, (c, v) => (c.sites[0].vips = [{ network: "ctlplane", dnsName: v("overcloud") }])],
    [`${S}[1].overrides.NovaCrossAZAttach{}`, (c, v) => (c.sites[1].overrides = { [v("NovaCrossAZAttach")]: false })],
    [`${S}[1].overrides.GlanceCacheEnabled`, (c, v) => (c.sites[1].overrides = { GlanceCacheEnabled: v("false") })],
];

/** Every string field × every payload (the payload appended, or for `..` put into the path). */
export const METACHAR_CASES: BadCase[] = STRING_FIELDS.flatMap(([key, set]) =>
    PAYLOADS.map(([label, text]) => ({
        name: `${label} in ${key.replace("{}", "")}`,
        key: key.replace("{}", text),
        mutate: (c: StackCfg) => set(c, (base) => `${base}${text}`),
    })),
);

/** The metacharacter cases also run through the real CLI: one per payload kind, over varied fields. */
const LIVE_METACHAR: Array<[string, string]> = [
    [`${S}[1].name`, "semicolon"],
    [`${ST}.templatesDir`, "command substitution"],
    [`${S}[0].glanceDescription`, "backticks"],
    [`${ST}.deployArgs[1]`, "pipe"],
    [`${S}[1].overrides.NovaCrossAZAttach`, "ampersand"],
    [`${S}[2].roles[0].instances[0]`, "newline"],
    [`${U}.user`, "single quote"],
    [`${S}[1].roles[0].networkConfigTemplate`, "double quote"],
    [`${ST}.workRoot`, "dotdot"],
];
for (const c of METACHAR_CASES) {
    if (LIVE_METACHAR.some(([k, l]) => c.name === `${l} in ${k}`)) {
        c.live = "up";
    }
}

export const ALL_CASES: BadCase[] = [...STRUCTURAL_CASES, ...METACHAR_CASES];

/**
 * Well-formed configs whose undercloud files are wrong: the config module accepts them, the
 * program's read-only preflight (components/preflight.ts) refuses them before any resource exists,
 * every problem at once, each naming its key. Only the live test can run them (they need the lab's
 * home); tests/unit/preflight.test.ts checks each mistake alone on a seeded home without the CLI.
 * The preflight is the same code on preview and up: the example runs as an `up` (nothing
 * mutating runs first), the other mistakes in one preview (two CLI runs for five mistakes).
 */
export const UNDERCLOUD_FILE_CASES: BadCase[] = [
    {
        // Issue 12: failed inside `overcloud network provision` after six remote commands, no key named.
        name: "networkDataFile pointing at the container prepare file, templatesDir not a THT tree",
        key: `${ST}.networkDataFile`,
        alsoKeys: [`${ST}.templatesDir`],
        mutate: (c) => {
            c.settings.networkDataFile = "~/containers-prepare-parameter.yaml";
            c.settings.templatesDir = "~/metalsmith";
        },
        live: "up",
    },
    {
        name: "a missing common env file, the network data as container prepare file, a custom role not in roles/",
        key: `${ST}.commonEnvFiles[3]`,
        alsoKeys: [`${ST}.containerPrepareFile`, `${S}[2].roles[1].name`],
        mutate: (c) => {
            c.settings.commonEnvFiles[3] = "~/foo.yaml";
            c.settings.containerPrepareFile = "~/oc0-network-data.yaml";
            c.sites[2].roles[1] = {
                name: "EdgeCompute",
                instances: ["oc0-compute-0"],
                networks: ["ctlplane", "internal_api_cloud_0"],
            };
        },
        live: "preview",
    },
];
