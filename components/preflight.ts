/**
 * The undercloud files preflight: every undercloud file the stack config names is read in ONE
 * read-only remote command, then judged here, before the program registers any resource. So
 * `pulumi preview` (pull-request checks) and `pulumi up` refuse a wrong file naming its config
 * key, and nothing mutating runs first (before, a `networkDataFile` pointing at a container
 * prepare file failed inside `overcloud network provision`, after six remote commands).
 *
 * What is read (`preflightReads`) and what each check refuses (`preflightProblems`):
 * - `settings.networkDataFile`: TripleO network data v2 (tripleo-ansible module_utils/
 *   network_data_v2.py NET_DATA_V2_SCHEMA): a YAML list of networks, each a mapping with `name`
 *   and a `subnets` mapping whose entries have `ip_subnet` or `ipv6_subnet`, no key the schema
 *   does not know; the networks the site roles and VIPs name must be in it (or `ctlplane`).
 * - `settings.containerPrepareFile`: a Heat environment whose `parameter_defaults.
 *   ContainerImagePrepare` is a list of mappings.
 * - `settings.templatesDir`: a tripleo-heat-templates tree (a directory with `overcloud.j2.yaml`,
 *   `overcloud-resource-registry-puppet.j2.yaml`, `roles/`, and the Ceph environments the program
 *   adds to every deploy: `environments/cephadm/cephadm.yaml`, for DCN sites
 *   `cephadm-rbd-only.yaml` and `dcn-storage.yaml`).
 * - `sites[i].roles[j].name`: `<templatesDir>/roles/<Name>.yaml` exists and is that role
 *   (`openstack overcloud roles generate --roles-path <templatesDir>/roles` reads it; a custom
 *   role is one more file there, declared in the config with its networks); every site has a role
 *   whose services include CephMon, and its `cephDisks` roles CephOSD.
 * - `settings.commonEnvFiles[i]`: a Heat environment (heat/common/environment_format.py: a YAML
 *   mapping of only `parameters`, `resource_registry`, `parameter_defaults`,
 *   `encrypted_param_names`, `event_sinks`, `parameter_merge_strategies`, none of them empty). A
 *   file under `templatesDir` may be a `.j2.yaml` template that tripleoclient renders.
 *
 * Every problem is reported at once, each naming its key. Roles' network config templates
 * (`networkConfigTemplate`) are not read: tripleo-ansible resolves them in its own
 * tripleo_network_config role, not in the templates tree.
 *
 * When the undercloud cannot be reached: `pulumi up` fails (it could not deploy anyway); a
 * preview warns and goes on, so a pull-request runner without access still gets its plan.
 */
import { parse } from "yaml";
import { PROJECT, SitePlan, TopologyPlan } from "./config";
import { SshTarget, disconnect, exec } from "../providers/remote/ssh";
import { shJoin } from "../providers/remote/shell";
import { redact } from "../providers/remote/redact";

/** What the preflight asks of one path: its content (`read`) or only what it is (`stat`). */
export interface PreflightRead {
    op: "read" | "stat";
    path: string;
}

/** What the undercloud answered for one path. */
export interface ReadResult {
    /** `file`, `dir`, `missing`, `unreadable` (no read permission), `special` (not a regular file), `big` (over MAX_BYTES). */
    state: "file" | "dir" | "missing" | "unreadable" | "special" | "big";
    /** The file's text (`read` of a `file` only). */
    content?: string;
}

/** Files larger than this are not sent (no config file of this program comes close). */
export const MAX_BYTES = 4 * 1024 * 1024;

/**
 * The remote side: `sh -c PREFLIGHT_SCRIPT sh <op> <path> <op> <path> …`, one line per pair,
 * `<index> <state>[ <base64 of the content>]`. `~/` is expanded against $HOME here (never by a
 * shell), paths are arguments (never part of the script). Reads only: test, wc, base64.
 */
export const PREFLIGHT_SCRIPT = [
    'i=0; max="$1"; shift',
    'while [ "$#" -ge 2 ]; do',
    '  op="$1"; p="$2"; shift 2',
    '  case "$p" in "~/"*) p="$HOME/${p#"~/"}" ;; esac',
    '  if [ -d "$p" ]; then s=dir',
    '  elif [ ! -e "$p" ]; then s=missing',
    '  elif [ ! -f "$p" ]; then s=special',
    '  elif [ ! -r "$p" ]; then s=unreadable',
    "  else s=file; fi",
    '  if [ "$op" = read ] && [ "$s" = file ]; then',
    '    n=$(wc -c < "$p" | tr -d " ")',
    '    if [ "$n" -gt "$max" ]; then printf "%s big\\n" "$i"',
    '    else printf "%s file " "$i"; base64 < "$p" | tr -d "\\n"; printf "\\n"; fi',
    '  else printf "%s %s\\n" "$i" "$s"; fi',
    "  i=$((i + 1))",
    "done",
].join("\n");

/** The argv of the one remote command. */
export function preflightArgv(reads: readonly PreflightRead[]): string[] {
    return ["sh", "-c", PREFLIGHT_SCRIPT, "sh", String(MAX_BYTES), ...reads.flatMap((r) => [r.op, r.path])];
}

/** Parses the script's output into one result per read (a path the output lacks counts as `missing`). */
export function parsePreflightOutput(stdout: string, count: number): ReadResult[] {
    const out: ReadResult[] = Array.from({ length: count }, () => ({ state: "missing" as const }));
    for (const line of stdout.split("\n")) {
        const m = /^(\d+) (file|dir|missing|unreadable|special|big)(?: ([A-Za-z0-9+/=]*))?$/.exec(line.trim());
        if (!m || Number(m[1]) >= count) {
            continue;
        }
        const state = m[2] as ReadResult["state"];
        out[Number(m[1])] =
            state === "file" && m[3] !== undefined
                ? { state, content: Buffer.from(m[3], "base64").toString("utf8") }
                : { state };
    }
    return out;
}

// ---------------------------------------------------------------- what to read

const trimDir = (p: string) => p.replace(/\/+$/, "");

/** Files of the templates tree that make it one (tripleoclient reads both at every deploy). */
export const THT_FILES = ["overcloud.j2.yaml", "overcloud-resource-registry-puppet.j2.yaml"] as const;

/** THT environments the program puts into every deploy's `-e` list (providers/overcloudStack.ts orderedEnvFiles). */
function cephEnvFiles(plan: TopologyPlan): string[] {
    return [
        "environments/cephadm/cephadm.yaml",
        ...(plan.dcns.length > 0
            ? ["environments/cephadm/cephadm-rbd-only.yaml", "environments/dcn-storage.yaml"]
            : []),
    ];
}

/** The distinct role names of every site, in config order. */
function roleNames(plan: TopologyPlan): string[] {
    return [...new Set([plan.central, ...plan.dcns].flatMap((s) => s.roles.map((r) => r.name)))];
}

/** An env file under the templates tree that tripleoclient renders from `<name>.j2.yaml`. */
function j2Of(file: string, tht: string): string | undefined {
    return file.startsWith(`${tht}/`) && file.endsWith(".yaml") && !file.endsWith(".j2.yaml")
        ? file.replace(/\.yaml$/, ".j2.yaml")
        : undefined;
}

/** Every path the preflight reads, in a fixed order (`preflightProblems` looks results up by path). */
export function preflightReads(plan: TopologyPlan): PreflightRead[] {
    const s = plan.settings;
    const tht = trimDir(s.templatesDir);
    const reads: PreflightRead[] = [
        { op: "read", path: s.networkDataFile },
        { op: "read", path: s.containerPrepareFile },
        { op: "stat", path: tht },
        { op: "stat", path: `${tht}/roles` },
        ...THT_FILES.map((f) => ({ op: "stat" as const, path: `${tht}/${f}` })),
        ...cephEnvFiles(plan).map((f) => ({ op: "stat" as const, path: `${tht}/${f}` })),
        ...roleNames(plan).map((r) => ({ op: "read" as const, path: `${tht}/roles/${r}.yaml` })),
    ];
    for (const f of s.commonEnvFiles) {
        reads.push({ op: "read", path: f });
        const j2 = j2Of(f, tht);
        if (j2) {
            reads.push({ op: "stat", path: j2 });
        }
    }
    const seen = new Set<string>();
    return reads.filter((r) => {
        const k = `${r.op} ${r.path}`;
        return seen.has(k) ? false : (seen.add(k), true);
    });
}

// ---------------------------------------------------------------- the checks

const key = (k: string) => `${PROJECT}:${k}`;

/** Why a path that should be a readable file is not, or undefined. */
function notAFile(r: ReadResult | undefined): string | undefined {
    switch (r?.state ?? "missing") {
        case "file":
            return undefined;
        case "missing":
            return "not found on the undercloud";
        case "dir":
            return "is a directory, not a file";
        case "unreadable":
            return "is not readable by the undercloud user";
        case "special":
            return "is not a regular file";
        case "big":
            return `is larger than ${MAX_BYTES / 1024 / 1024} MiB: not a config file`;
    }
}

/** The YAML document of a file, or the parse error's first line. */
function yamlOf(text: string): { doc?: unknown; error?: string } {
    try {
        return { doc: parse(text) as unknown };
    } catch (e) {
        return { error: `is not YAML: ${(e as Error).message.split("\n")[0]}` };
    }
}

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** What a YAML document looks like, for messages that say what the file is instead. */
function looksLike(doc: unknown): string {
    if (Array.isArray(doc)) {
        const first = doc[0] as Record<string, unknown> | undefined;
        if (isMap(first) && "subnets" in first) return "a network data file";
        if (isMap(first) && "ServicesDefault" in first) return "a roles file";
        return "a YAML list";
    }
    if (isMap(doc)) {
        if ("parameter_defaults" in doc || "resource_registry" in doc) return "a Heat environment file";
        if ("heat_template_version" in doc) return "a Heat template";
        return `a mapping (keys ${Object.keys(doc).slice(0, 4).join(", ")})`;
    }
    return doc === null || doc === undefined ? "empty" : `a ${typeof doc}`;
}

/** Heat's environment sections (heat/common/environment_format.py SECTIONS). */
export const HEAT_ENV_SECTIONS = [
    "parameters",
    "resource_registry",
    "parameter_defaults",
    "encrypted_param_names",
    "event_sinks",
    "parameter_merge_strategies",
] as const;

/** What Heat's environment_format.parse refuses in a document, or undefined. */
export function heatEnvProblem(doc: unknown): string | undefined {
    if (doc === null || doc === undefined) {
        return undefined; // an empty environment is {}
    }
    if (!isMap(doc)) {
        return `is not a Heat environment (a YAML mapping of ${HEAT_ENV_SECTIONS.join(", ")}): it is ${looksLike(doc)}`;
    }
    const known: readonly string[] = HEAT_ENV_SECTIONS;
    const wrong = Object.keys(doc).filter((k) => !known.includes(k));
    if (wrong.length > 0) {
        return (
            `is not a Heat environment: section${wrong.length > 1 ? "s" : ""} ${wrong.join(", ")} ` +
            `(Heat accepts only ${HEAT_ENV_SECTIONS.join(", ")})`
        );
    }
    const empty = Object.keys(doc).filter((k) => doc[k] === null);
    if (empty.length > 0) {
        return `has an empty section ${empty.join(", ")} (Heat refuses it)`;
    }
    return undefined;
}

const NETWORK_KEYS = [
    "name",
    "name_lower",
    "admin_state_up",
    "dns_domain",
    "mtu",
    "shared",
    "service_net_map_replace",
    "ipv6",
    "vip",
    "subnets",
];
const SUBNET_KEYS = [
    "ip_subnet",
    "gateway_ip",
    "allocation_pools",
    "routes",
    "ipv6_subnet",
    "gateway_ipv6",
    "ipv6_allocation_pools",
    "routes_ipv6",
    "ipv6_address_mode",
    "ipv6_ra_mode",
    "enable_dhcp",
    "vlan",
    "physical_network",
    "network_type",
    "segmentation_id",
];

/** A network of the network data file: `name_lower` (default: name lower-cased) and its subnets. */
export interface DataNetwork {
    nameLower: string;
    subnets: string[];
}

/**
 * Network data v2 (the structure of tripleo-ansible's NET_DATA_V2_SCHEMA; address formats are left
 * to it): the networks, or what is wrong.
 */
export function networkDataProblems(doc: unknown): { networks: DataNetwork[]; problems: string[] } {
    if (!Array.isArray(doc)) {
        return {
            networks: [],
            problems: [
                `is not TripleO network data (a YAML list of networks with name and subnets): it is ${looksLike(doc)}`,
            ],
        };
    }
    const problems: string[] = [];
    const networks: DataNetwork[] = [];
    doc.forEach((n: unknown, i) => {
        const at = `network [${i}]`;
        if (!isMap(n)) {
            problems.push(`${at} is not a mapping (name, subnets, ...)`);
            return;
        }
        const label = typeof n.name === "string" ? `network ${n.name}` : at;
        if (typeof n.name !== "string" || n.name === "") {
            problems.push(`${at} has no name`);
        }
        const unknown = Object.keys(n).filter((k) => !NETWORK_KEYS.includes(k));
        if (unknown.length > 0) {
            problems.push(`${label} has unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`);
        }
        if (!isMap(n.subnets) || Object.keys(n.subnets).length === 0) {
            problems.push(`${label} has no subnets mapping`);
        } else {
            for (const [sn, sv] of Object.entries(n.subnets)) {
                if (!isMap(sv) || (sv.ip_subnet === undefined && sv.ipv6_subnet === undefined)) {
                    problems.push(`${label} subnet ${sn} has neither ip_subnet nor ipv6_subnet`);
                    continue;
                }
                const bad = Object.keys(sv).filter((k) => !SUBNET_KEYS.includes(k));
                if (bad.length > 0) {
                    problems.push(
                        `${label} subnet ${sn} has unknown key${bad.length > 1 ? "s" : ""} ${bad.join(", ")}`,
                    );
                }
            }
        }
        if (typeof n.name === "string") {
            networks.push({
                nameLower: typeof n.name_lower === "string" ? n.name_lower : n.name.toLowerCase(),
                subnets: isMap(n.subnets) ? Object.keys(n.subnets) : [],
            });
        }
    });
    return { networks, problems };
}

/** The services of a role file (`roles/<Name>.yaml`: a YAML list of one role), or what is wrong. */
function roleFile(text: string, name: string): { services?: string[]; problem?: string } {
    const y = yamlOf(text);
    if (y.error) {
        return { problem: y.error };
    }
    const doc = y.doc;
    const role = Array.isArray(doc) ? (doc as unknown[]).find((r) => isMap(r) && r.name === name) : undefined;
    if (!isMap(role)) {
        return {
            problem: `is not the roles file of ${name} (a YAML list with a role named ${name}): it is ${looksLike(doc)}`,
        };
    }
    const services = Array.isArray(role.ServicesDefault) ? role.ServicesDefault.map(String) : [];
    return { services };
}

/** Where a role's networks came from, for messages: the key that set them, or the program's default. */
function networksKey(site: SitePlan, i: number, j: number): string {
    const from = site.networksFrom?.[j];
    return from ? key(from) : key(`sites[${i}].roles[${j}].networks`) + " (default)";
}

/**
 * Every problem of the read results, each `dcn-storage:<key>: <path>: <what>`. `sites` are the
 * plan's sites in config order (central and DCN as the config lists them).
 */
export function preflightProblems(
    plan: TopologyPlan,
    reads: readonly PreflightRead[],
    results: readonly ReadResult[],
    sites: readonly SitePlan[] = configOrder(plan),
): string[] {
    const got = new Map<string, ReadResult>();
    reads.forEach((r, i) => got.set(`${r.op} ${r.path}`, results[i]));
    const read = (p: string) => got.get(`read ${p}`);
    const stat = (p: string) => got.get(`stat ${p}`);
    const s = plan.settings;
    const tht = trimDir(s.templatesDir);
    const problems: string[] = [];
    const fail = (k: string, p: string, what: string) => problems.push(`${key(k)}: ${p}: ${what}`);

    /** The YAML document of a file the config names, or undefined once why there is none is reported. */
    const docOf = (k: string, p: string, r = read(p)): { doc: unknown } | undefined => {
        const y = notAFile(r) === undefined ? yamlOf(r!.content ?? "") : { error: notAFile(r) };
        if (y.error !== undefined) {
            fail(k, p, y.error);
            return undefined;
        }
        return { doc: y.doc };
    };

    // Network data.
    let networks: DataNetwork[] | undefined;
    const nd = docOf("settings.networkDataFile", s.networkDataFile);
    if (nd) {
        const r = networkDataProblems(nd.doc);
        r.problems.forEach((p) => fail("settings.networkDataFile", s.networkDataFile, p));
        networks = r.problems.length === 0 ? r.networks : undefined;
    }

    // Container prepare.
    const cp = docOf("settings.containerPrepareFile", s.containerPrepareFile);
    const cpEnv = cp && heatEnvProblem(cp.doc);
    if (cpEnv) {
        fail("settings.containerPrepareFile", s.containerPrepareFile, cpEnv);
    } else if (cp) {
        const cip = (cp.doc as { parameter_defaults?: { ContainerImagePrepare?: unknown } } | null)?.parameter_defaults
            ?.ContainerImagePrepare;
        if (!Array.isArray(cip) || cip.length === 0 || !cip.every(isMap)) {
            fail(
                "settings.containerPrepareFile",
                s.containerPrepareFile,
                "has no parameter_defaults.ContainerImagePrepare list (of mappings with set, push_destination, ...): not a container prepare file",
            );
        }
    }

    // The templates tree and the roles in it.
    const treeState = stat(tht)?.state ?? "missing";
    const thtOk = treeState === "dir";
    if (!thtOk) {
        fail(
            "settings.templatesDir",
            s.templatesDir,
            treeState === "missing"
                ? "not found on the undercloud"
                : "is not a directory (a tripleo-heat-templates tree)",
        );
    } else {
        const lacking = [...THT_FILES, "roles/"].filter((f) =>
            f === "roles/" ? stat(`${tht}/roles`)?.state !== "dir" : stat(`${tht}/${f}`)?.state !== "file",
        );
        if (lacking.length > 0) {
            fail(
                "settings.templatesDir",
                s.templatesDir,
                `is not a tripleo-heat-templates tree: no ${lacking.join(", ")}`,
            );
        } else {
            const envs = cephEnvFiles(plan).filter((f) => stat(`${tht}/${f}`)?.state !== "file");
            if (envs.length > 0) {
                fail(
                    "settings.templatesDir",
                    s.templatesDir,
                    `has no ${envs.join(", ")} (the Ceph environments every deploy of this topology uses)`,
                );
            }
        }
    }
    const rolesOk = thtOk && stat(`${tht}/roles`)?.state === "dir";
    const services = new Map<string, string[]>();
    sites.forEach((site, i) => {
        site.roles.forEach((role, j) => {
            const p = `${tht}/roles/${role.name}.yaml`;
            if (!rolesOk) return;
            const r = read(p);
            const why = notAFile(r);
            if (why) {
                fail(
                    `sites[${i}].roles[${j}].name`,
                    p,
                    (r?.state ?? "missing") === "missing"
                        ? `role ${role.name} is not in the templates' roles (${tht}/roles/${role.name}.yaml not found; a custom role needs its file there, and its networks in the config)`
                        : why,
                );
                return;
            }
            const f = roleFile(r!.content ?? "", role.name);
            if (f.problem) {
                fail(`sites[${i}].roles[${j}].name`, p, f.problem);
                return;
            }
            services.set(role.name, f.services ?? []);
            if (role.cephDisks && !(f.services ?? []).includes("OS::TripleO::Services::CephOSD")) {
                fail(
                    `sites[${i}].roles[${j}]`,
                    p,
                    `role ${role.name} carries Ceph OSD disks in the config (cephDisks) but its ServicesDefault has no OS::TripleO::Services::CephOSD`,
                );
            }
        });
        const known = site.roles.filter((r) => services.has(r.name));
        if (known.length === site.roles.length && site.cephMonRoles.length > 0) {
            const mons = site.cephMonRoles.filter((r) =>
                (services.get(r) ?? []).includes("OS::TripleO::Services::CephMon"),
            );
            if (mons.length === 0) {
                problems.push(
                    `${key(`sites[${i}].roles`)}: no role of the site runs OS::TripleO::Services::CephMon in ${tht}/roles ` +
                        `(${site.cephMonRoles.join(", ")} counted as mon roles by the config): ceph deploy of ${site.cephCluster} needs one`,
                );
            }
        }
        // The networks the roles and VIPs name must be in the network data.
        if (networks) {
            const byName = new Map(networks.map((n) => [n.nameLower, n]));
            site.roles.forEach((role, j) => {
                for (const n of role.networks) {
                    if (n.network === "ctlplane") continue;
                    const dn = byName.get(n.network);
                    if (!dn) {
                        problems.push(
                            `${networksKey(site, i, j)}: network ${n.network} of role ${role.name} is not in ${key("settings.networkDataFile")} ${s.networkDataFile} (its networks: ${networks!.map((x) => x.nameLower).join(", ") || "none"})`,
                        );
                    } else if (n.subnet && !dn.subnets.includes(n.subnet)) {
                        problems.push(
                            `${networksKey(site, i, j)}: subnet ${n.subnet} of role ${role.name} is not a subnet of ${n.network} in ${s.networkDataFile} (${dn.subnets.join(", ")})`,
                        );
                    }
                }
            });
            site.vips.forEach((v, k) => {
                if (v.network !== "ctlplane" && !byName.has(v.network)) {
                    problems.push(
                        `${key(site.vipsFrom ? `sites[${i}].vips[${k}].network` : `sites[${i}].vips`)}${site.vipsFrom ? "" : " (default)"}: VIP network ${v.network} is not in ${s.networkDataFile}`,
                    );
                }
            });
        }
    });

    // Common environment files.
    s.commonEnvFiles.forEach((f, i) => {
        const k = `settings.commonEnvFiles[${i}]`;
        const r = read(f);
        if ((r?.state ?? "missing") === "missing") {
            const j2 = j2Of(f, tht);
            if (j2 && stat(j2)?.state === "file") {
                return; // rendered by tripleoclient from the .j2.yaml template
            }
        }
        const d = docOf(k, f, r);
        const env = d && heatEnvProblem(d.doc);
        if (env) {
            fail(k, f, env);
        }
    });
    return problems;
}

/** The plan's sites in the config's order (`sites[i]` of messages). */
export function configOrder(plan: TopologyPlan): SitePlan[] {
    return [plan.central, ...plan.dcns].sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------- running it

/** Outcome of the preflight: problems (each naming a key), or why it could not run. */
export interface PreflightOutcome {
    problems: string[];
    /** The undercloud could not be reached or the read failed (no problems judged then). */
    unreachable?: string;
    ms: number;
}

/** Reads every file of `plan` in one remote command and judges them. Never throws. */
export async function runPreflight(t: SshTarget, plan: TopologyPlan): Promise<PreflightOutcome> {
    const start = Date.now();
    const reads = preflightReads(plan);
    try {
        const r = await exec(t, shJoin(preflightArgv(reads)), { timeoutMs: 60000 });
        if (r.code !== 0) {
            return {
                problems: [],
                unreachable: `the read-only preflight failed (exit ${r.code}): ${redact(r.stderr.trim().slice(-500), [t.privateKey])}`,
                ms: Date.now() - start,
            };
        }
        const results = parsePreflightOutput(r.stdout, reads.length);
        return { problems: preflightProblems(plan, reads, results), ms: Date.now() - start };
    } catch (e) {
        return { problems: [], unreachable: redact((e as Error).message, [t.privateKey]), ms: Date.now() - start };
    } finally {
        disconnect(t);
    }
}
