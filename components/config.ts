/**
 * The stack configuration (`Pulumi.<stack>.yaml`), validated with zod BEFORE any resource exists.
 * A wrong value fails with a message naming the exact key, e.g.
 * `dcn-storage:sites[2].cephCluster: Ceph cluster names are [a-zA-Z0-9]+ (got "dcn-2")`.
 *
 * Keys (project namespace `dcn-storage`):
 * - `undercloud`: {connectionFile?, host?, port?, user?, hostKey?, knownHostsFile?, privateKeyFile?, sameAs?}
 *   The host key pin (rules: providers/remote/hostKeys.ts) is, first found wins: `hostKey`, one or
 *   more OpenSSH public key lines of the undercloud (one string, several lines in one string, or a
 *   list of strings; `@revoked type base64` lines refuse a key even if pinned); else every key of
 *   host:port in `knownHostsFile` (or the connection file's `knownHostsPath`): plain or hashed
 *   (`|1|salt|hash`) entries, `[host]:port`, comma-separated and wildcard patterns, minus the keys of
 *   matching `@revoked` lines (`@cert-authority` lines are ignored with a warning); else the
 *   connection file's `hostKey`. The server may present any pinned key; only the pinned key types
 *   are negotiated.
 * - `undercloudPrivateKey` (secret, optional): the private key text; wins over privateKeyFile
 * - `settings` (optional): undercloud file locations and deploy options, see SettingsConfig
 * - `sites`: the topology, see SiteConfig
 *
 * Everything a site needs is derived here from its own entry (roles, networks, AZ, store id);
 * nothing is copied from another site.
 */
import { z } from "zod";
import {
    AZ_NAME,
    CEPH_CLUSTER_NAME,
    GLANCE_STORE_ID,
    HOST_NAME,
    NETWORK_CHOICE,
    ROLE_NAME,
    SAFE_ARG,
    STACK_NAME,
    isRemotePath,
} from "../providers/remote/shell";
import { decodeKey } from "../providers/remote/hostKeys";
import type { RoleSpec, VipSpec } from "../providers/baremetalNodes";
import { UNDERCLOUD_ID } from "../providers/common";
import { THT_CEPH_MON_ROLES, THT_CEPH_OSD_ROLES } from "./thtRoles";
import type { OverrideValue, SiteKind } from "../providers/overcloudStack";

export const PROJECT = "dcn-storage";

const remotePath = z
    .string()
    .refine(isRemotePath, { message: "must be an absolute or ~/ path of [A-Za-z0-9_.+@=,/-] without .." });

/**
 * A network config template as baremetal deployment's `network_config.template` names it: Ansible's
 * `template` module of tripleo-ansible's tripleo_network_config role resolves it (relative paths
 * against that role, e.g. `templates/single_nic_vlans/single_nic_vlans.j2`), not the THT tree.
 * Same characters as remote paths, no `..`.
 */
const templatePath = z.string().refine((p) => !p.startsWith("/") && isRemotePath("/" + p), {
    message: "must be a relative path of [A-Za-z0-9_.+@=,/-] without ..",
});

/** Free text that ends up in generated files (descriptions, override values): no shell or YAML metacharacters. */
const SAFE_TEXT = /^[A-Za-z0-9 _.,:+@=%/-]*$/;
const safeText = z
    .string()
    .regex(SAFE_TEXT, "only letters, digits, space and _.,:+@=%/- are allowed")
    .refine((v) => !v.split("/").includes(".."), { message: "must not contain a .. path segment" });

/** One line of a `hostKey` pin: `[@revoked ]type base64 [comment]`. */
const HOST_KEY_LINE = /^(@revoked\s+)?(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/]+=*( .*)?$/;

/**
 * `hostKey`: one or more OpenSSH public key lines of the undercloud (a string, several lines in
 * one string, or a list), `@revoked` lines allowed; at least one key that is not revoked.
 */
const hostKeySchema = z.union([z.string(), z.array(z.string()).min(1)]).superRefine((v, ctx) => {
    let pinned = 0;
    const items = typeof v === "string" ? [v] : v;
    const bad = items.map((item, i) => {
        const path = typeof v === "string" ? [] : [i];
        for (const raw of item.split(/\r?\n/)) {
            const line = raw.trim();
            const m = HOST_KEY_LINE.exec(line);
            if (!line) {
                continue;
            }
            if (!m) {
                ctx.addIssue({ code: "custom", path, message: "must be OpenSSH public key lines" });
                return true;
            }
            const [type, b64] = line.replace(/^@revoked\s+/, "").split(/\s+/);
            if (!decodeKey(type, b64)) {
                ctx.addIssue({
                    code: "custom",
                    path,
                    message: "the key blob is truncated or not of the line's key type",
                });
                return true;
            }
            pinned += m[1] ? 0 : 1;
        }
        return false;
    });
    if (pinned === 0 && !bad.includes(true)) {
        ctx.addIssue({ code: "custom", message: "no host key pinned (only @revoked lines or nothing)" });
    }
});

export function undercloudSchema() {
    return z
        .object({
            connectionFile: z.string().min(1).optional(),
            host: z.string().regex(HOST_NAME, "host must be a hostname or IPv4 address").optional(),
            port: z.number().int().min(1).max(65535).optional(),
            user: z
                .string()
                .regex(/^[a-z_][a-z0-9_-]*$/)
                .optional(),
            hostKey: hostKeySchema.optional(),
            knownHostsFile: z.string().min(1).optional(),
            privateKeyFile: z.string().min(1).optional(),
            /**
             * `user@host:port` of the undercloud the stack's resources were created on, declaring
             * that the one configured now is the same machine (new address, user or host key).
             * Without it such a change is refused by every resource (providers/common.ts).
             */
            sameAs: z.string().regex(UNDERCLOUD_ID, "must be user@host:port of the previous undercloud").optional(),
        })
        .strict();
}

const instanceSchema = z.union([
    z.string().regex(HOST_NAME),
    z.object({ hostname: z.string().regex(HOST_NAME), node: z.string().regex(HOST_NAME).optional() }).strict(),
]);

const networkSchema = z.union([
    z.string().regex(HOST_NAME),
    z
        .object({
            network: z.string().regex(HOST_NAME),
            subnet: z.string().regex(HOST_NAME).optional(),
            vif: z.boolean().optional(),
        })
        .strict(),
]);

const roleSchema = z
    .object({
        name: z.string().regex(ROLE_NAME, "role names look like Controller or DistributedComputeHCI"),
        instances: z.array(instanceSchema).min(1),
        networks: z.array(networkSchema).optional(),
        networkConfigTemplate: templatePath.optional(),
        defaultRouteNetwork: z.array(z.string().regex(HOST_NAME)).optional(),
        /** The role's nodes carry Ceph OSD disks (default: the role runs CephOSD in THT 18, components/thtRoles.ts). */
        cephDisks: z.boolean().optional(),
        /** The role runs CephMon (default: it does in THT 18); for custom roles of the templates tree. */
        cephMon: z.boolean().optional(),
    })
    .strict();

const overrideValue = z.union([safeText, z.number(), z.boolean()]);

export function siteSchema() {
    return z
        .object({
            name: z
                .string()
                .regex(
                    STACK_NAME,
                    "stack names are 1 to 63 characters (a DNS label: hostnames derive from them), lower-case letters, digits and -, starting with a letter",
                ),
            kind: z.enum(["central", "dcn"]),
            cephCluster: z.string().regex(CEPH_CLUSTER_NAME, "Ceph cluster names are [a-zA-Z0-9]+ (no - or _)"),
            az: z.string().regex(AZ_NAME).optional(),
            glanceStore: z.string().regex(GLANCE_STORE_ID).optional(),
            glanceDescription: safeText.max(200).optional(),
            roles: z.array(roleSchema).min(1),
            vips: z
                .array(
                    z
                        .object({ network: z.string().regex(HOST_NAME), dnsName: z.string().regex(AZ_NAME).optional() })
                        .strict(),
                )
                .optional(),
            overrides: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), overrideValue).optional(),
            /** Bump to rotate the site's cephx client key (every stack using it redeploys). Default 0. */
            cephKeyGeneration: z.number().int().min(0).optional(),
        })
        .strict();
}

export function settingsSchema() {
    return z
        .object({
            networkDataFile: remotePath.default("~/oc0-network-data.yaml"),
            containerPrepareFile: remotePath.default("~/containers-prepare-parameter.yaml"),
            templatesDir: remotePath.default("~/templates"),
            workRoot: remotePath.default("~/dcn"),
            commonEnvFiles: z.array(remotePath).default([]),
            deployArgs: z
                .array(
                    z
                        .string()
                        .regex(SAFE_ARG)
                        .refine((a) => !a.split("/").includes(".."), { message: "must not contain a .. path segment" }),
                )
                .default([]),
            singleHostCeph: z.boolean().default(false),
            networkConfigTemplate: templatePath.default("templates/single_nic_vlans/single_nic_vlans.j2"),
            roleNetworks: z.record(z.string().regex(ROLE_NAME), z.array(networkSchema)).default({}),
            metalConcurrency: z.number().int().min(1).max(64).default(2),
            /** Post-deploy sanity checks (@pulumi/command, owned by each site): central token issue, DCN aggregate show. */
            sanityChecks: z.boolean().default(true),
            /**
             * The seed's multistore validation (tools/validate) as a resource that runs after every
             * site's deploy and again whenever a stack is redeployed. `keep` leaves the test image and
             * servers in place (default: deleted at the end of the run).
             */
            validation: z
                .object({
                    enabled: z.boolean(),
                    keep: z.boolean().default(false),
                    /** NIC of the test servers: `none` (a COW boot needs no network), `auto`, or a network name/id. */
                    network: z
                        .string()
                        .regex(NETWORK_CHOICE, "none, auto, or a network name or id ([A-Za-z0-9_.-])")
                        .default("none"),
                    /** copy-image wait, minutes. */
                    copyTimeoutMinutes: z.number().positive().default(5),
                    /** A test server's boot (and delete) wait, minutes. */
                    bootTimeoutMinutes: z.number().positive().default(10),
                })
                .strict()
                .default({
                    enabled: false,
                    keep: false,
                    network: "none",
                    copyTimeoutMinutes: 5,
                    bootTimeoutMinutes: 10,
                }),
            timeoutMinutes: z
                .object({
                    metal: z.number().positive().default(120),
                    ceph: z.number().positive().default(120),
                    deploy: z.number().positive().default(240),
                    /** `overcloud export ceph` (seconds of work; a hang is stopped at this deadline). */
                    export: z.number().positive().default(30),
                })
                .strict()
                .default({ metal: 120, ceph: 120, deploy: 240, export: 30 }),
        })
        .strict();
}

export type UndercloudConfig = z.infer<ReturnType<typeof undercloudSchema>>;
export type SettingsConfig = z.infer<ReturnType<typeof settingsSchema>>;
export type SiteConfig = z.infer<ReturnType<typeof siteSchema>>;

/** A site with every default applied: what the components consume. */
export interface SitePlan {
    name: string;
    kind: SiteKind;
    cephCluster: string;
    az: string;
    glanceStore: string;
    glanceDescription: string;
    roles: RoleSpec[];
    vips: VipSpec[];
    overrides: Record<string, OverrideValue>;
    cephKeyGeneration: number;
    workDir: string;
    /** Roles of the site whose nodes run a Ceph mon (a scale-in must keep the quorum). */
    cephMonRoles: string[];
    /** Position of the site in `sites` (messages name `sites[<index>]`). */
    index: number;
    /** Per role: the config key its networks come from (`sites[i].roles[j].networks`, `settings.roleNetworks.<Role>`), undefined for the program's default. */
    networksFrom: Array<string | undefined>;
    /** The site's VIPs come from its `vips` key (else DEFAULT_VIPS). */
    vipsFrom: boolean;
}

export interface TopologyPlan {
    settings: SettingsConfig;
    central: SitePlan;
    dcns: SitePlan[];
}

/** Networks of the roles used by the DCN topology (lab network names; override with settings.roleNetworks). */
export const DEFAULT_ROLE_NETWORKS: Record<string, string[]> = {
    Controller: [
        "ctlplane",
        "external_cloud_0",
        "internal_api_cloud_0",
        "storage_cloud_0",
        "storage_mgmt_cloud_0",
        "tenant_cloud_0",
    ],
    Compute: ["ctlplane", "internal_api_cloud_0", "storage_cloud_0", "tenant_cloud_0"],
    ComputeHCI: ["ctlplane", "internal_api_cloud_0", "storage_cloud_0", "storage_mgmt_cloud_0", "tenant_cloud_0"],
    DistributedComputeHCI: [
        "ctlplane",
        "internal_api_cloud_0",
        "storage_cloud_0",
        "storage_mgmt_cloud_0",
        "tenant_cloud_0",
    ],
    DistributedComputeHCIScaleOut: [
        "ctlplane",
        "internal_api_cloud_0",
        "storage_cloud_0",
        "storage_mgmt_cloud_0",
        "tenant_cloud_0",
    ],
    DistributedCompute: ["ctlplane", "internal_api_cloud_0", "storage_cloud_0", "tenant_cloud_0"],
    DistributedComputeScaleOut: ["ctlplane", "internal_api_cloud_0", "storage_cloud_0", "tenant_cloud_0"],
    CephAll: ["ctlplane", "storage_cloud_0", "storage_mgmt_cloud_0"],
    CephStorage: ["ctlplane", "storage_cloud_0", "storage_mgmt_cloud_0"],
};

/** Roles whose nodes carry Ceph OSD disks (cleaned when the nodes are freed): THT 18's CephOSD roles. */
export const CEPH_OSD_ROLES: readonly string[] = THT_CEPH_OSD_ROLES;

/** Roles that run a Ceph monitor (`ceph deploy` bootstraps the cluster on one): THT 18's CephMon roles. */
export const CEPH_MON_ROLES: readonly string[] = THT_CEPH_MON_ROLES;

/** Replicas of the site's pools: 1 with `singleHostCeph` (--single-host-defaults), else TripleO's CephPoolDefaultSize. */
export function cephPoolSize(settings: Pick<SettingsConfig, "singleHostCeph">): number {
    return settings.singleHostCeph ? 1 : 3;
}

/** VIPs of a central stack when the config names none (the lab's ~/vip_data.yaml). */
export const DEFAULT_VIPS: VipSpec[] = [
    { network: "ctlplane", dnsName: "overcloud" },
    { network: "external_cloud_0", dnsName: "overcloud" },
    { network: "internal_api_cloud_0", dnsName: "overcloud" },
    { network: "storage_cloud_0", dnsName: "overcloud" },
    { network: "storage_mgmt_cloud_0", dnsName: "overcloud" },
];

/** Error whose message names the config key(s) at fault. */
export class ConfigError extends Error {}

/** The keys the program reads under the project namespace; any other is refused (a typo never deploys). */
export const PROJECT_KEYS = ["undercloud", "undercloudPrivateKey", "settings", "sites"] as const;

/** Edit distance of two short strings (for "did you mean"). */
function editDistance(a: string, b: string): number {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++)
            row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = row;
    }
    return prev[b.length];
}

/**
 * Refuses a stack config key under the project namespace that the program does not read, naming
 * it (and the known key it is closest to). `keys` are full keys (`dcn-storage:sitez`), as
 * `pulumi.runtime.allConfig()` has them; other namespaces are not ours to judge.
 */
export function checkProjectKeys(keys: Iterable<string>): void {
    const known: readonly string[] = PROJECT_KEYS;
    const unknown = [...keys]
        .filter((k) => k.startsWith(`${PROJECT}:`))
        .map((k) => k.slice(PROJECT.length + 1))
        .filter((k) => !known.includes(k))
        .sort();
    if (unknown.length === 0) return;
    const hint = (k: string) => {
        const near = known.find((n) => editDistance(k.toLowerCase(), n.toLowerCase()) <= 2);
        return near ? ` (did you mean ${PROJECT}:${near}?)` : "";
    };
    const reads = known.map((k) => `${PROJECT}:${k}`).join(", ");
    throw new ConfigError(
        "invalid stack config:\n" +
            unknown.map((k) => `  ${PROJECT}:${k}: unknown key${hint(k)}; the program reads ${reads}`).join("\n"),
    );
}

function keyOf(root: string, path: ReadonlyArray<PropertyKey>): string {
    let s = `${PROJECT}:${root}`;
    for (const p of path) {
        s += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
    }
    return s;
}

function zodFail(root: string, err: z.ZodError): never {
    throw new ConfigError(
        "invalid stack config:\n" + err.issues.map((i) => `  ${keyOf(root, i.path)}: ${i.message}`).join("\n"),
    );
}

export function parseUndercloud(raw: unknown): UndercloudConfig {
    if (raw === undefined) {
        throw new ConfigError(
            `invalid stack config:\n  ${PROJECT}:undercloud: missing (host, port, user, hostKey or knownHostsFile, privateKeyFile or ${PROJECT}:undercloudPrivateKey)`,
        );
    }
    const r = undercloudSchema().safeParse(raw);
    return r.success ? r.data : zodFail("undercloud", r.error);
}

function normNetwork(n: z.infer<typeof networkSchema>) {
    return typeof n === "string" ? { network: n } : n;
}

/** Validates settings and sites and applies every default; throws ConfigError naming the key. */
export function planTopology(rawSites: unknown, rawSettings: unknown): TopologyPlan {
    const st = settingsSchema().safeParse(rawSettings ?? {});
    if (!st.success) {
        zodFail("settings", st.error);
    }
    const settings = st.data;
    if (rawSites === undefined) {
        throw new ConfigError(
            `invalid stack config:\n  ${PROJECT}:sites: missing (a list with one central site and any number of DCN sites)`,
        );
    }
    const sr = z.array(siteSchema()).min(1).safeParse(rawSites);
    if (!sr.success) {
        zodFail("sites", sr.error);
    }
    const sites = sr.data;
    const problems: string[] = [];
    const at = (i: number, k: string) => `${PROJECT}:sites[${i}].${k}`;
    const centrals = sites.map((s, i) => [s, i] as const).filter(([s]) => s.kind === "central");
    if (centrals.length !== 1) {
        problems.push(`${PROJECT}:sites: exactly one site must have kind central (found ${centrals.length})`);
    }
    const seen = {
        name: new Map<string, number>(),
        cluster: new Map<string, number>(),
        store: new Map<string, number>(),
        az: new Map<string, number>(),
        host: new Map<string, string>(),
        node: new Map<string, string>(),
    };
    const plans: SitePlan[] = sites.map((s, i) => {
        const az = s.az ?? s.name;
        const store = s.glanceStore ?? s.cephCluster;
        const uniq = (m: Map<string, number>, v: string, key: string, what: string) => {
            if (m.has(v)) {
                problems.push(
                    `${at(i, key)}: ${what} ${JSON.stringify(v)} is already used by ${PROJECT}:sites[${m.get(v)}]`,
                );
            }
            m.set(v, i);
        };
        uniq(seen.name, s.name, "name", "stack name");
        uniq(seen.cluster, s.cephCluster, "cephCluster", "Ceph cluster name");
        uniq(seen.store, store, s.glanceStore ? "glanceStore" : "cephCluster", "Glance store id");
        uniq(seen.az, az, s.az ? "az" : "name", "availability zone");
        const roles: RoleSpec[] = s.roles.map((r, j) => {
            const nets = r.networks ?? settings.roleNetworks[r.name] ?? DEFAULT_ROLE_NETWORKS[r.name];
            if (!nets) {
                problems.push(`${at(i, `roles[${j}].networks`)}: role ${r.name} has no default networks; list them`);
            }
            const instances = r.instances.map((x, k) => {
                const inst = typeof x === "string" ? { hostname: x } : x;
                const node = inst.node ?? inst.hostname;
                const where = `${at(i, `roles[${j}].instances[${k}]`)}`;
                if (seen.host.has(inst.hostname)) {
                    problems.push(
                        `${where}: hostname ${inst.hostname} is already used at ${seen.host.get(inst.hostname)}`,
                    );
                }
                seen.host.set(inst.hostname, where);
                if (seen.node.has(node)) {
                    problems.push(`${where}: node ${node} is already requested at ${seen.node.get(node)}`);
                }
                seen.node.set(node, where);
                return inst.node ? { hostname: inst.hostname, node: inst.node } : { hostname: inst.hostname };
            });
            const networks = (nets ?? []).map(normNetwork);
            return {
                name: r.name,
                instances,
                networks,
                networkConfigTemplate: r.networkConfigTemplate ?? settings.networkConfigTemplate,
                defaultRouteNetwork:
                    r.defaultRouteNetwork ??
                    (r.name === "Controller" && networks.some((n) => n.network === "external_cloud_0")
                        ? ["external_cloud_0"]
                        : []),
                cephDisks: r.cephDisks ?? CEPH_OSD_ROLES.includes(r.name),
            };
        });
        const cephMonRoles = s.roles.filter((r) => r.cephMon ?? CEPH_MON_ROLES.includes(r.name)).map((r) => r.name);
        if (!roles.some((r) => r.cephDisks)) {
            problems.push(
                `${at(i, "roles")}: no role carries Ceph OSD disks (${CEPH_OSD_ROLES.join(", ")} or cephDisks: true): the site's Ceph cluster ${s.cephCluster} would have no storage`,
            );
        }
        // ceph deploy bootstraps the cluster on a CephMon host; without one it fails only on the
        // undercloud, after the nodes are provisioned (reference §8.4).
        if (cephMonRoles.length === 0) {
            problems.push(
                `${at(i, "roles")}: no role runs a Ceph monitor (CephMon: ${CEPH_MON_ROLES.join(", ")}; or cephMon: true on a custom role that has it): ceph deploy of the site's cluster ${s.cephCluster} needs one to bootstrap it`,
            );
        }
        const roleNames = new Set<string>();
        s.roles.forEach((r, j) => {
            if (roleNames.has(r.name)) {
                problems.push(`${at(i, `roles[${j}].name`)}: role ${r.name} is listed twice in the site`);
            }
            roleNames.add(r.name);
        });
        return {
            name: s.name,
            kind: s.kind,
            cephCluster: s.cephCluster,
            az,
            glanceStore: store,
            glanceDescription: s.glanceDescription ?? `${store} rbd glance store`,
            roles,
            // Every stack provisions its VIPs (the seed's provision.sh does, for each stack): THT 18
            // maps ControlPlaneVipPort to deployed_vip_ctlplane.yaml, which needs ControlPlaneVipData.
            vips: s.vips ?? DEFAULT_VIPS,
            overrides: s.overrides ?? {},
            cephKeyGeneration: s.cephKeyGeneration ?? 0,
            workDir: `${settings.workRoot.replace(/\/+$/, "")}/${s.name}`,
            cephMonRoles,
            index: i,
            networksFrom: s.roles.map((r, j) =>
                r.networks
                    ? `sites[${i}].roles[${j}].networks`
                    : settings.roleNetworks[r.name]
                      ? `settings.roleNetworks.${r.name}`
                      : undefined,
            ),
            vipsFrom: s.vips !== undefined,
        };
    });
    if (problems.length > 0) {
        throw new ConfigError("invalid stack config:\n" + problems.map((p) => `  ${p}`).join("\n"));
    }
    return { settings, central: plans.find((p) => p.kind === "central")!, dcns: plans.filter((p) => p.kind === "dcn") };
}

/** The DCN sites the multistore validation checks (the resource and `npm run validate` alike). */
export function validationTargets(plan: TopologyPlan): Array<{
    name: string;
    store: string;
    az: string;
    stack: string;
    cephCluster: string;
}> {
    return plan.dcns.map((p) => ({
        name: p.name,
        store: p.glanceStore,
        az: p.az,
        stack: p.name,
        cephCluster: p.cephCluster,
    }));
}

/** The rc file of the central stack that the validation sources (OvercloudStack's `rcFile`). */
export function centralRcFile(plan: TopologyPlan): string {
    return `~/overcloud-deploy/${plan.central.name}/${plan.central.name}rc`;
}
