// Pure rendering of one site's glance-api as TripleO would configure it (puppet-tripleo
// `tripleo::profile::base::glance::api` + `glance::backend::rbd`, tripleo-dcn.md §4.5), plus the
// lab's identity (tokens → user/project/roles, no Keystone). Nothing here touches the disk.
import { randomBytes } from "node:crypto";
import * as path from "node:path";

/** One `GlanceMultistoreConfig` entry (THT `deployment/glance/glance-api-container-puppet.yaml`). */
export interface GlanceMultistoreEntry {
    /** rbd, file, swift or cinder; puppet-tripleo fails the deploy when it is missing. */
    GlanceBackend: string;
    /** Cluster name: `/etc/ceph/<name>.conf`; without it the global conf (the site's own cluster) is used. */
    CephClusterName?: string;
    /** cephx user; defaults to the global CephClientUserName. */
    CephClientUserName?: string;
    /** Shown by stores-info; defaults to the global GlanceStoreDescription. */
    GlanceStoreDescription?: string;
    /** Pool; defaults to the global GlanceRbdPoolName (`images`). */
    GlanceRbdPoolName?: string;
}

/** One `CephExternalMultiConfig` item, as `openstack overcloud export ceph` writes it (§4.3). */
export interface CephExternalCluster {
    cluster: string;
    fsid: string;
    /** Mon address vectors as `ceph mon dump` prints them, e.g. `[v2:IP:3300/0,v1:IP:6789/0]`. */
    external_cluster_mon_ips: string;
    keys: Array<{ name: string; key: string; caps?: Record<string, string> }>;
}

/** What a site's deploy gave Glance, merged from its -e files the way Heat would (later files win). */
export interface GlanceSiteParams {
    stack: string;
    /** GlanceBackendID, default 'default_backend'. */
    backendId: string;
    /** GlanceStoreDescription, default 'Default glance store backend.'. */
    storeDescription?: string;
    /** CephClusterName: the site's own cluster. */
    cephClusterName: string;
    /** GlanceMultistoreConfig. */
    multistore: Record<string, GlanceMultistoreEntry>;
    /** GlanceEnabledImportMethods, split on commas. */
    importMethods: string[];
    /** CephExternalMultiConfig. */
    externalClusters: CephExternalCluster[];
    /** The site's own (internal) cluster; clientKey is its client.<clientUser> key. */
    ownCluster: { name: string; fsid: string; monHost: string; clientKey?: string };
    /** CephClientUserName, default 'openstack'. */
    clientUser: string;
    /** GlanceRbdPoolName, default 'images'. */
    rbdPoolName?: string;
    /**
     * GlanceBackend of the default store. THT's default is swift; cephadm.yaml (in every lab stack's
     * -e list) sets rbd, so undefined means rbd. Anything else is refused: the lab has only Ceph.
     */
    backend?: string;
}

/** THT defaults of the parameters GlanceSiteParams carries. */
export const GLANCE_DEFAULTS = {
    backendId: "default_backend",
    storeDescription: "Default glance store backend.",
    clientUser: "openstack",
    rbdPoolName: "images",
    importMethods: ["web-download"],
} as const;

/** Heat's env merge for `parameter_defaults`: later files win, key by key (no deep merge of maps). */
export function mergeParameterDefaults(
    envs: Array<{ parameter_defaults?: Record<string, unknown> } | undefined>,
): Record<string, unknown> {
    const merged: Record<string, unknown> = {};
    for (const env of envs) Object.assign(merged, env?.parameter_defaults ?? {});
    return merged;
}

/** Builds GlanceSiteParams from merged parameter_defaults (unknown keys ignored, as Heat does) and the site's own cluster. */
export function glanceSiteParamsFromHeat(
    stack: string,
    parameterDefaults: Record<string, unknown>,
    ownCluster: GlanceSiteParams["ownCluster"],
): GlanceSiteParams {
    const p = parameterDefaults;
    const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
    const methods = p.GlanceEnabledImportMethods;
    const importMethods = Array.isArray(methods)
        ? methods.map(String)
        : (str(methods) ?? GLANCE_DEFAULTS.importMethods.join(","))
              .split(",")
              .map((m) => m.trim())
              .filter((m) => m !== "");
    return {
        stack,
        backendId: str(p.GlanceBackendID) ?? GLANCE_DEFAULTS.backendId,
        storeDescription: str(p.GlanceStoreDescription),
        cephClusterName: str(p.CephClusterName) ?? "ceph",
        multistore: (p.GlanceMultistoreConfig as Record<string, GlanceMultistoreEntry> | undefined) ?? {},
        importMethods,
        externalClusters: (p.CephExternalMultiConfig as CephExternalCluster[] | undefined) ?? [],
        ownCluster,
        clientUser: str(p.CephClientUserName) ?? GLANCE_DEFAULTS.clientUser,
        rbdPoolName: str(p.GlanceRbdPoolName),
        backend: str(p.GlanceBackend),
    };
}

/**
 * Errors Heat or puppet would stop the deploy with (parameter constraints, a multistore entry
 * without GlanceBackend, a store id used twice). Empty when Glance can be configured.
 */
export function validateGlanceSiteParams(params: GlanceSiteParams): string[] {
    const errors: string[] = [];
    if (!/^[a-zA-Z0-9_-]+$/.test(params.backendId)) {
        errors.push(`GlanceBackendID ${JSON.stringify(params.backendId)} must match [a-zA-Z0-9_-]+`);
    }
    if (!/^[a-zA-Z0-9]+$/.test(params.cephClusterName)) {
        errors.push(`CephClusterName ${JSON.stringify(params.cephClusterName)} must match [a-zA-Z0-9]+`);
    }
    if (params.backend !== undefined && params.backend !== "rbd") {
        errors.push(`GlanceBackend ${params.backend} is not available in the lab (only rbd; include cephadm.yaml)`);
    }
    for (const [id, entry] of Object.entries(params.multistore)) {
        if (!entry || typeof entry.GlanceBackend !== "string" || entry.GlanceBackend === "") {
            errors.push(`multistore_config '${id}' does not specify a glance_backend.`);
        }
        if (id === params.backendId) {
            errors.push(`GlanceMultistoreConfig store '${id}' collides with GlanceBackendID (the default store)`);
        }
        if (entry?.CephClusterName !== undefined && !/^[a-zA-Z0-9]+$/.test(entry.CephClusterName)) {
            errors.push(
                `GlanceMultistoreConfig '${id}': CephClusterName ${JSON.stringify(entry.CephClusterName)} must match [a-zA-Z0-9]+`,
            );
        }
    }
    return errors;
}

/** Where everything of one site's glance-api lives under its directory (all absolute). */
export function glancePaths(dir: string) {
    return {
        dir,
        conf: path.join(dir, "glance-api.conf"),
        confDir: path.join(dir, "glance-api.conf.d"),
        paste: path.join(dir, "glance-api-paste.ini"),
        policy: path.join(dir, "policy.yaml"),
        /** The site's `/etc/ceph` equivalent: `<cluster>.conf` and `<cluster>.client.<user>.keyring`. */
        ceph: path.join(dir, "ceph"),
        db: path.join(dir, "glance.sqlite"),
        staging: path.join(dir, "staging"),
        tasks: path.join(dir, "tasks"),
        lock: path.join(dir, "lock"),
        log: path.join(dir, "log"),
        logFile: path.join(dir, "log", "glance-api.log"),
        stdout: path.join(dir, "log", "glance-api.out"),
        pylib: path.join(dir, "pylib"),
        tokens: path.join(dir, "tokens.json"),
        healthcheckDisable: path.join(dir, "healthcheck_disable"),
        /** `{pid, startTime, url}` of the running glance-api. */
        pid: path.join(dir, "glance-api.json"),
        /** `{stack, problems}` of the last render: stores configured but unusable. */
        problems: path.join(dir, "problems.json"),
    };
}

/** Where a site's glance-api listens; part of the rendered config. */
export interface GlanceBind {
    bindHost: string;
    bindPort: number;
    /** sqlite file of the database; default `<dir>/glance.sqlite`. An edge Glance uses the central one. */
    database?: string;
}

/** Result of rendering a site's Glance: config text, the /etc/ceph files, and what will not work. */
export interface RenderedGlance {
    conf: string;
    /** File name (in glancePaths(dir).ceph) → contents; keyrings must be written mode 0600. */
    cephFiles: Record<string, string>;
    /** Stores that are configured but unusable, and why (Glance still starts and lists them). */
    problems: string[];
}

interface RbdStore {
    id: string;
    cluster: string;
    user: string;
    pool: string;
    description: string;
}

/** The rbd stores in enabled_backends order: the default store first, then GlanceMultistoreConfig. */
function rbdStores(params: GlanceSiteParams): { stores: RbdStore[]; others: Array<{ id: string; backend: string }> } {
    const globalDescription = params.storeDescription ?? GLANCE_DEFAULTS.storeDescription;
    const pool = params.rbdPoolName ?? GLANCE_DEFAULTS.rbdPoolName;
    const stores: RbdStore[] = [
        {
            id: params.backendId,
            cluster: params.cephClusterName,
            user: params.clientUser,
            pool,
            description: globalDescription,
        },
    ];
    const others: Array<{ id: string; backend: string }> = [];
    for (const [id, entry] of Object.entries(params.multistore)) {
        if (entry.GlanceBackend !== "rbd") {
            others.push({ id, backend: entry.GlanceBackend });
            continue;
        }
        stores.push({
            id,
            cluster: entry.CephClusterName ?? params.cephClusterName,
            user: entry.CephClientUserName ?? params.clientUser,
            pool: entry.GlanceRbdPoolName ?? pool,
            description: entry.GlanceStoreDescription ?? globalDescription,
        });
    }
    return { stores, others };
}

/** Client ceph.conf as tripleo_ceph_client writes `/etc/ceph/<cluster>.conf`, plus lab timeouts. */
function renderCephClientConf(fsid: string, monHost: string, keyring: string): string {
    return `# Written by lab/glance like tripleo_ceph_client's /etc/ceph/<cluster>.conf.
[global]
fsid = ${fsid}
mon host = ${monHost}
ms bind ipv6 = false
# Lab: glance_store connects per store operation (and to every store at start-up); with a
# site's Ceph down, librados' 300 s default would hold each of them 5 minutes. Failures stay real.
client mount timeout = 10
rados mon op timeout = 10
rados osd op timeout = 60

[client]
keyring = ${keyring}
`;
}

function renderKeyringText(entity: string, key: string, caps: Record<string, string> = {}): string {
    const capLines = Object.entries(caps)
        .map(([service, cap]) => `\tcaps ${service} = "${cap}"\n`)
        .join("");
    return `[${entity}]\n\tkey = ${key}\n${capLines}`;
}

/**
 * Renders glance-api.conf and the Ceph client files the way TripleO's templates would for this
 * site. PURE. Stores whose cluster has no conf or no key are still rendered, as TripleO would, and
 * named in `problems`: without a key Glance lists the store but cannot write to it; without a conf
 * glance-api does not start at all (glance_store connects to every rbd store at start-up).
 */
export function renderGlanceApiConf(params: GlanceSiteParams, paths: { dir: string } & GlanceBind): RenderedGlance {
    const p = glancePaths(paths.dir);
    const { stores, others } = rbdStores(params);
    const problems: string[] = [];
    const cephFiles: Record<string, string> = {};

    // /etc/ceph: the site's own cluster, then one conf+keyring per CephExternalMultiConfig item.
    const clusterFiles = (
        cluster: string,
        fsid: string,
        monHost: string,
        keys: Array<{ name: string; key: string; caps?: Record<string, string> }>,
    ) => {
        // `$name` is client.<user>: one line serves every user a store of this cluster may use.
        cephFiles[`${cluster}.conf`] = renderCephClientConf(
            fsid,
            monHost,
            path.join(p.ceph, `${cluster}.$name.keyring`),
        );
        for (const k of keys) {
            const user = k.name.replace(/^client\./, "");
            cephFiles[`${cluster}.client.${user}.keyring`] = renderKeyringText(k.name, k.key, k.caps);
        }
    };
    const own = params.ownCluster;
    clusterFiles(
        own.name,
        own.fsid,
        own.monHost,
        own.clientKey ? [{ name: `client.${params.clientUser}`, key: own.clientKey }] : [],
    );
    for (const ext of params.externalClusters) {
        if (ext.cluster === own.name) {
            problems.push(
                `CephExternalMultiConfig cluster ${ext.cluster} has the name of the site's own cluster; its files are ignored`,
            );
            continue;
        }
        clusterFiles(ext.cluster, ext.fsid, ext.external_cluster_mon_ips, ext.keys ?? []);
    }

    for (const s of stores) {
        const isOwn = s.cluster === own.name;
        if (!(`${s.cluster}.conf` in cephFiles)) {
            // glance_store's rbd driver opens every store's cluster at start-up (to learn its fsid);
            // a missing conf raises outside its error handling, so glance-api exits.
            problems.push(
                `store ${s.id}: no CephExternalMultiConfig entry for cluster ${s.cluster}: no ${s.cluster}.conf, ` +
                    `glance-api will not start (rados conf_read_file fails at store configure)`,
            );
        } else if (!(`${s.cluster}.client.${s.user}.keyring` in cephFiles)) {
            problems.push(
                (isOwn
                    ? `store ${s.id}: no client.${s.user} key for the site's own cluster ${s.cluster}`
                    : `store ${s.id}: CephExternalMultiConfig entry for cluster ${s.cluster} has no client.${s.user} key`) +
                    `: the store is listed but its add method is disabled (cephx auth fails)`,
            );
        }
    }
    for (const o of others) {
        problems.push(
            `store ${o.id}: GlanceBackend ${o.backend} is not available in the lab (only rbd); store not rendered`,
        );
    }
    if (!params.importMethods.includes("copy-image")) {
        problems.push(
            `GlanceEnabledImportMethods lacks copy-image: Glance answers copy-image with 400 "Unknown import method name"`,
        );
    }

    const section = (s: RbdStore) => `[${s.id}]
rbd_store_ceph_conf = ${path.join(p.ceph, `${s.cluster}.conf`)}
rbd_store_user = ${s.user}
rbd_store_pool = ${s.pool}
store_description = ${s.description}
`;
    const conf = `# glance-api for stack ${params.stack}; rendered by lab/glance from the deploy's parameters.
[DEFAULT]
bind_host = ${paths.bindHost}
bind_port = ${paths.bindPort}
# One process: the recorded PID is the one serving (the default forks one worker per CPU).
workers = 0
log_file = ${p.logFile}
use_stderr = false
enabled_backends = ${stores.map((s) => `${s.id}:rbd`).join(", ")}
enabled_import_methods = [${params.importMethods.join(",")}]
show_image_direct_url = true
show_multiple_locations = true
enforce_secure_rbac = false

[database]
connection = sqlite:///${paths.database ?? p.db}

[paste_deploy]
flavor = labauth
config_file = ${p.paste}

[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
policy_file = ${p.policy}

[oslo_concurrency]
lock_path = ${p.lock}

[glance_store]
default_backend = ${params.backendId}

[os_glance_staging_store]
filesystem_store_datadir = ${p.staging}

[os_glance_tasks_store]
filesystem_store_datadir = ${p.tasks}

${stores.map(section).join("\n")}`;
    return { conf, cephFiles, problems };
}

/** The paste pipeline: Debian's keystone pipeline with the lab's token filter instead of authtoken. */
export function renderPasteIni(dir: string): string {
    const p = glancePaths(dir);
    return `# glance-api paste pipeline for the lab: labauth (tokens.json) replaces keystonemiddleware.
[pipeline:glance-api-labauth]
pipeline = healthcheck http_proxy_to_wsgi versionnegotiation labauth context rootapp

[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app

[app:apiversions]
paste.app_factory = glance.api.versions:create_resource

[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory

[filter:healthcheck]
paste.filter_factory = oslo_middleware:Healthcheck.factory
backends = disable_by_file
disable_by_file_path = ${p.healthcheckDisable}

[filter:http_proxy_to_wsgi]
paste.filter_factory = oslo_middleware:HTTPProxyToWSGI.factory

[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory

[filter:labauth]
paste.filter_factory = labauth:filter_factory
tokens_file = ${p.tokens}

[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory
`;
}

/** An identity a token stands for, as keystonemiddleware would pass it on. */
export interface LabIdentity {
    user: string;
    project: string;
    roles: string[];
}

/** A bearer token and the identity it stands for. */
export interface LabToken extends LabIdentity {
    token: string;
}

/**
 * Fresh random tokens for the lab's two standard identities: `admin` (roles admin, member, reader
 * in project admin) and `member` (member, reader in project demo). Central and edge Glance share
 * one Keystone in TripleO, so the lab should pass the same tokens to every site.
 */
export function labTokens(extra: Record<string, LabIdentity> = {}): Record<string, LabToken> {
    const identities: Record<string, LabIdentity> = {
        admin: { user: "admin", project: "admin", roles: ["admin", "member", "reader"] },
        member: { user: "demo", project: "demo", roles: ["member", "reader"] },
        ...extra,
    };
    return Object.fromEntries(
        Object.entries(identities).map(([name, id]) => [
            name,
            { ...id, token: `lab-${randomBytes(18).toString("hex")}` },
        ]),
    );
}

/** tokens.json as labauth.py reads it: token → identity. */
export function renderTokensFile(tokens: Record<string, LabToken>): string {
    const table = Object.fromEntries(
        Object.values(tokens).map((t) => [t.token, { user: t.user, project: t.project, roles: t.roles }]),
    );
    return JSON.stringify({ tokens: table, named: tokens }, null, 2) + "\n";
}
