/**
 * What a DCN site leaves in the central cloud, and how its removal cleans it up.
 *
 * A DCN deploy registers its site in central's Nova and Cinder (reference §5.3): NovaAZConfig
 * creates the AZ's host aggregate with the site's compute hosts, every nova-compute of the site
 * registers a compute service, every CinderVolumeEdge node a cinder-volume service in zone
 * CinderStorageAvailabilityZone. `overcloud delete` of the site removes none of them (it deletes
 * the Heat stack and its working dir), so removing a site from `sites` would leave them behind.
 * The Glance store and the Ceph config go with central's update (GlanceMultistore, CephExport).
 *
 * The order follows openstack-k8s-operators/ci-framework `roles/ci_dcn_site/tasks/scaledown_site.yml`
 * adapted to TripleO, where the site's services run on its own nodes until `node unprovision`:
 *
 *   1. refuse while servers or volumes live in the site's AZ (the upstream role deletes them; this
 *      program never deletes user data): `CentralSites.check`, so already `pulumi preview`
 *      refuses, naming them, and `up` refuses before any step runs;
 *   2. quiesce: disable the site's compute and volume services (nothing new is scheduled there
 *      while the site goes): `CentralSites.update`, before any other step of the `up` (every
 *      site's metal depends on it, and every other resource on the metal);
 *   3. central's update drops the site's Glance store and Ceph config; the site's overcloud
 *      delete, Ceph and metal deletes (unprovision: the site's nova-compute and cinder-volume stop);
 *   4. once nothing of the site runs (a running service would register itself again, see
 *      python-openstackclient's `compute service delete` help): `SiteServices.delete` deletes the
 *      site's compute services (Nova takes a deleted host out of its aggregates), removes any host
 *      left in the AZ's aggregate and deletes the aggregate, and removes the site's cinder-volume
 *      services with `cinder-manage service remove` in the cinder_api container of a central
 *      controller (Cinder has no API for it; tripleo-docs, the upstream role runs it in the
 *      scheduler pod).
 *
 * Every OpenStack command runs on the undercloud with central's rc file
 * (`~/overcloud-deploy/<central>/<central>rc`), as the sanity checks do.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
    BaseInputs,
    DiffPolicy,
    baseShape,
    checkWith,
    containsUnknown,
    diffByPolicy,
    diffResult,
    guardChanges,
    progress,
    stackRenameRefusal,
    targetOf,
    unk,
} from "./common";
import { BaseArgs, DcnResource } from "./resource";
import { readFile, remoteHome, run, runOk } from "./remote/jobs";
import { cephAdminHosts, cephSpecPath, nodeCommand } from "./remote/nodes";
import { AZ_NAME, STACK_NAME } from "./remote/shell";
import { SshTarget } from "./remote/ssh";
import { traced } from "./remote/trace";

export const PROVIDER_VERSION = "1";

/** A DCN site as central's Nova and Cinder know it. */
export interface CentralSite {
    stack: string;
    az: string;
}

// ---------------------------------------------------------------- pure helpers

/** The sites of `olds` that `news` no longer has (by stack name). */
export function removedSites(olds: readonly CentralSite[] | undefined, news: readonly CentralSite[]): CentralSite[] {
    const keep = new Set(news.map((s) => s.stack));
    return (olds ?? []).filter((s) => !keep.has(s.stack));
}

/** Central's rc file on the undercloud (written by tripleoclient in the stack's working dir). */
export function centralRcFile(centralStack: string, home: string): string {
    return `${home}/overcloud-deploy/${centralStack}/${centralStack}rc`;
}

/** The disabled reason the quiesce step gives the site's services (the cleanup finds them by it). */
export function disabledReason(stack: string): string {
    return `dcn-storage: site ${stack} is being removed`;
}

export interface Leftover {
    kind: "server" | "volume";
    id: string;
    name: string;
    status: string;
}

/**
 * Runs `openstack "$@"` with the rc file `$1` sourced (a constant script: the rc path and the
 * client's arguments are positional, so nothing from a value is ever parsed by the shell).
 */
export const OSC_SCRIPT = '. "$1" >/dev/null || exit 1\nshift\nexec openstack "$@"';

/**
 * Read-only: what still lives in availability zones `$2…` of the cloud of rc file `$1`: per AZ a
 * line `== servers <az>` and `server list` as JSON, then `== volumes` and one `volume show` JSON
 * per volume (python-openstackclient's `volume list` has no zone column nor filter). `norc` when
 * the rc file is missing (central not deployed: nothing can live there).
 */
export const LEFTOVERS_SCRIPT = [
    "# dcn: servers and volumes left in availability zones",
    'rc="$1"; shift',
    '[ -f "$rc" ] || { echo norc; exit 0; }',
    '. "$rc" >/dev/null || exit 1',
    'for az in "$@"; do',
    '  printf "== servers %s\\n" "$az"',
    '  openstack server list --all-projects --availability-zone "$az" -f json -c ID -c Name -c Status -c "Availability Zone" || exit 1',
    "done",
    'echo "== volumes"',
    "ids=$(openstack volume list --all-projects -f value -c ID) || exit 1",
    "for id in $ids; do",
    '  openstack volume show "$id" -f json -c id -c name -c status -c availability_zone || exit 1',
    "done",
].join("\n");

/**
 * Parses LEFTOVERS_SCRIPT's output into what is left per AZ; undefined when central has no rc file.
 * Server lists are filtered again by exact AZ (Nova's filter is a regular expression search; the
 * `Availability Zone` column is one python-openstackclient adds on request).
 */
export function parseLeftovers(stdout: string, azs: readonly string[]): Record<string, Leftover[]> | undefined {
    if (stdout.trim() === "norc") {
        return undefined;
    }
    const left: Record<string, Leftover[]> = Object.fromEntries(azs.map((az) => [az, []]));
    const sections = stdout.split(/^== /m).slice(1);
    for (const section of sections) {
        const nl = section.indexOf("\n");
        const head = nl < 0 ? section : section.slice(0, nl);
        const body = nl < 0 ? "" : section.slice(nl + 1);
        const servers = /^servers (.+)$/.exec(head.trim());
        if (servers) {
            const az = servers[1];
            const rows = jsonValues(body).flatMap((v) => (Array.isArray(v) ? v : []));
            for (const r of rows as Array<Record<string, unknown>>) {
                // Nova's availability_zone filter is a regular expression search (dcn1 finds dcn10's).
                if (r["Availability Zone"] !== undefined && r["Availability Zone"] !== az) {
                    continue;
                }
                left[az]?.push({
                    kind: "server",
                    id: String(r.ID),
                    name: String(r.Name ?? ""),
                    status: String(r.Status ?? ""),
                });
            }
        } else if (head.trim() === "volumes") {
            for (const v of jsonValues(body) as Array<Record<string, unknown>>) {
                const az = String(v.availability_zone ?? "");
                left[az]?.push({
                    kind: "volume",
                    id: String(v.id),
                    name: String(v.name ?? ""),
                    status: String(v.status ?? ""),
                });
            }
        }
    }
    return left;
}

/** The JSON values of a text holding several JSON documents one after the other. */
export function jsonValues(text: string): unknown[] {
    const out: unknown[] = [];
    let depth = 0;
    let start = -1;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
            if (c === "\\") {
                i++;
            } else if (c === '"') {
                inString = false;
            }
            continue;
        }
        if (c === '"') {
            inString = true;
        } else if (c === "{" || c === "[") {
            if (depth === 0) {
                start = i;
            }
            depth++;
        } else if (c === "}" || c === "]") {
            depth--;
            if (depth === 0 && start >= 0) {
                out.push(JSON.parse(text.slice(start, i + 1)));
                start = -1;
            }
        }
    }
    return out;
}

/** The refusal naming what still lives in a removed site's AZ (undefined when nothing does). */
export function leftoverRefusal(site: CentralSite, central: string, left: readonly Leftover[]): string | undefined {
    if (left.length === 0) {
        return undefined;
    }
    const names = (kind: string) =>
        left
            .filter((l) => l.kind === kind)
            .map((l) => `${l.name || "(no name)"} (${l.id}, ${l.status})`)
            .join(", ");
    const servers = names("server");
    const volumes = names("volume");
    const what = [servers && `servers ${servers}`, volumes && `volumes ${volumes}`].filter(Boolean).join("; ");
    return (
        `site ${site.stack} cannot be removed: its availability zone ${site.az} in the central cloud ${central} still ` +
        `holds ${what}. Removing the site would destroy them with its nodes and Ceph cluster. Delete them or move ` +
        `them to another site first (nothing was changed), or keep ${site.stack} in dcn-storage:sites.`
    );
}

/** A row of `openstack compute service list --long -f json`. */
export interface ComputeServiceRow {
    ID: string | number;
    Binary: string;
    Host: string;
    Zone: string;
    Status?: string;
    "Disabled Reason"?: string | null;
}

/**
 * The site's nova-compute services: hosts of its aggregate, services in its AZ, or disabled by the
 * quiesce step for this site (after the aggregate is gone their zone is the default one).
 */
export function siteComputeServices(
    rows: readonly ComputeServiceRow[],
    site: CentralSite,
    aggregateHosts: readonly string[],
): ComputeServiceRow[] {
    return rows.filter(
        (r) =>
            r.Binary === "nova-compute" &&
            (aggregateHosts.includes(r.Host) ||
                r.Zone === site.az ||
                r["Disabled Reason"] === disabledReason(site.stack)),
    );
}

/** A row of `openstack volume service list --long -f json`. */
export interface VolumeServiceRow {
    Binary: string;
    Host: string;
    Zone: string;
    Status?: string;
    "Disabled Reason"?: string | null;
}

/** The site's cinder-volume services (Cinder keeps a service's zone: CinderStorageAvailabilityZone). */
export function siteVolumeServices(rows: readonly VolumeServiceRow[], site: CentralSite): VolumeServiceRow[] {
    return rows.filter(
        (r) =>
            r.Binary === "cinder-volume" && (r.Zone === site.az || r["Disabled Reason"] === disabledReason(site.stack)),
    );
}

/** The node-side argv removing a volume service in a controller's Cinder container. */
export function cinderManageRemove(host: string): string[] {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.@#:-]{0,254}$/.test(host)) {
        throw new Error(`volume service host ${JSON.stringify(host)} is not a host name`);
    }
    return ["sudo", "podman", "exec", "cinder_api", "cinder-manage", "service", "remove", "cinder-volume", host];
}

// ---------------------------------------------------------------- remote steps

async function osc(t: SshTarget, rc: string, args: string[]): Promise<string> {
    return (await runOk(t, ["sh", "-c", OSC_SCRIPT, "osc", rc, ...args])).stdout;
}

/** What lives in the AZs of `sites` (undefined: central has no rc file). Read-only. */
async function leftovers(t: SshTarget, centralStack: string, sites: readonly CentralSite[]) {
    const home = await remoteHome(t);
    const azs = sites.map((s) => s.az);
    const r = await runOk(t, ["sh", "-c", LEFTOVERS_SCRIPT, "leftovers", centralRcFile(centralStack, home), ...azs]);
    return parseLeftovers(r.stdout, azs);
}

/** The refusals for removing `sites` (empty when nothing lives in their AZs). */
async function refusals(t: SshTarget, centralStack: string, sites: readonly CentralSite[]): Promise<string[]> {
    return (await guard(t, centralStack, sites)).refused;
}

/** The refusals, and whether the central cloud is there at all (its rc file: no cloud, nothing to do). */
async function guard(t: SshTarget, centralStack: string, sites: readonly CentralSite[]) {
    if (sites.length === 0) {
        return { refused: [] as string[], central: false };
    }
    const left = await leftovers(t, centralStack, sites);
    const refused = sites
        .map((s) => (left ? leftoverRefusal(s, centralStack, left[s.az] ?? []) : undefined))
        .filter((m): m is string => !!m);
    return { refused, central: left !== undefined };
}

/** The central cloud's services of one binary (`compute|volume service list --long -f json`). */
async function serviceRows<T>(t: SshTarget, rc: string, kind: "compute" | "volume"): Promise<T[]> {
    const binary = kind === "compute" ? "nova-compute" : "cinder-volume";
    const out = await osc(t, rc, [kind, "service", "list", "--service", binary, "--long", "-f", "json"]);
    return JSON.parse(out) as T[];
}

/** Step 2: the site's compute and volume services disabled (nothing new lands there). */
async function quiesce(t: SshTarget, centralStack: string, site: CentralSite): Promise<void> {
    const rc = centralRcFile(centralStack, await remoteHome(t));
    const reason = disabledReason(site.stack);
    const compute = siteComputeServices(await serviceRows<ComputeServiceRow>(t, rc, "compute"), site, []);
    const volume = siteVolumeServices(await serviceRows<VolumeServiceRow>(t, rc, "volume"), site);
    const services = [
        ...compute.map((c) => ({ kind: "compute", host: c.Host, binary: "nova-compute", status: c.Status })),
        ...volume.map((v) => ({ kind: "volume", host: v.Host, binary: "cinder-volume", status: v.Status })),
    ];
    for (const x of services.filter((x) => x.status !== "disabled")) {
        await osc(t, rc, [x.kind, "service", "set", "--disable", "--disable-reason", reason, x.host, x.binary]);
    }
    progress(`central ${centralStack}`)(
        `site ${site.stack}: compute and volume services of availability zone ${site.az} disabled for its removal`,
    );
}

/** Step 4: the site's services and aggregate leave the central cloud. */
async function cleanup(t: SshTarget, centralStack: string, site: CentralSite): Promise<void> {
    const home = await remoteHome(t);
    const rc = centralRcFile(centralStack, home);
    const log = progress(`central ${centralStack}`);
    const probe = await run(t, ["sh", "-c", '[ -f "$1" ] && echo present || echo absent', "sh", rc]);
    if (probe.stdout.trim() !== "present") {
        log(
            `site ${site.stack}: central cloud ${centralStack} is gone (no ${rc}): nothing of the site to remove there`,
        );
        return;
    }
    const refusal = (await refusals(t, centralStack, [site]))[0];
    if (refusal) {
        throw new Error(refusal);
    }
    const aggShow = await run(t, ["sh", "-c", OSC_SCRIPT, "osc", rc, "aggregate", "show", site.az, "-f", "json"]);
    const aggregate = aggShow.code === 0 ? (JSON.parse(aggShow.stdout) as { hosts?: string[] }) : undefined;
    if (!aggregate && !/No aggregate with a name or ID/.test(aggShow.stderr + aggShow.stdout)) {
        throw new Error(
            `aggregate show ${site.az} failed on the undercloud: ${(aggShow.stderr || aggShow.stdout).trim()}`,
        );
    }
    const hosts = aggregate?.hosts ?? [];
    const mine = siteComputeServices(await serviceRows<ComputeServiceRow>(t, rc, "compute"), site, hosts);
    if (mine.length > 0) {
        await osc(t, rc, ["compute", "service", "delete", ...mine.map((c) => String(c.ID))]);
    }
    if (aggregate) {
        const left =
            (JSON.parse(await osc(t, rc, ["aggregate", "show", site.az, "-f", "json"])) as { hosts?: string[] })
                .hosts ?? [];
        for (const h of left) {
            await osc(t, rc, ["aggregate", "remove", "host", site.az, h, "-f", "json"]);
        }
        await osc(t, rc, ["aggregate", "delete", site.az]);
    }
    const volumeHosts = siteVolumeServices(await serviceRows<VolumeServiceRow>(t, rc, "volume"), site).map(
        (v) => v.Host,
    );
    if (volumeHosts.length > 0) {
        await removeVolumeServices(t, centralStack, volumeHosts);
    }
    log(
        `site ${site.stack}: removed from the central cloud: aggregate ${aggregate ? site.az : "(none)"}, ` +
            `${mine.length} compute service(s) [${mine.map((c) => c.Host).join(", ")}], ` +
            `${volumeHosts.length} volume service(s) [${volumeHosts.join(", ")}]`,
    );
}

/** `cinder-manage service remove` on a central controller (the `_admin` hosts of central's Ceph spec). */
async function removeVolumeServices(t: SshTarget, centralStack: string, hosts: readonly string[]): Promise<void> {
    const spec = await readFile(t, cephSpecPath(centralStack));
    const controllers = spec ? cephAdminHosts(spec) : [];
    if (controllers.length === 0) {
        throw new Error(
            `no central controller found in ${cephSpecPath(centralStack)} to remove the volume services ${hosts.join(", ")} ` +
                `(cinder-manage runs in a controller's cinder_api container)`,
        );
    }
    let lastError = "";
    for (const c of controllers) {
        const failures: string[] = [];
        for (const h of hosts) {
            const r = await run(t, nodeCommand(centralStack, c.addr, cinderManageRemove(h)));
            // Exit 2 "Host not found": already removed (a retry).
            if (r.code !== 0 && !/Host not found/.test(r.stdout + r.stderr)) {
                failures.push(`${h}: ${(r.stderr || r.stdout).trim()}`);
            }
        }
        if (failures.length === 0) {
            return;
        }
        lastError = `on ${c.hostname}: ${failures.join("; ")}`;
    }
    throw new Error(`cinder-manage service remove failed ${lastError}`);
}

// ---------------------------------------------------------------- CentralSites

export interface CentralSitesInputs extends BaseInputs {
    /** The central stack (its rc file reaches the central cloud). */
    centralStack: string;
    /** Every DCN site of the config. */
    sites: CentralSite[];
}

/** A removed site is the difference of `sites`: nothing is an identity, nothing re-runs a deploy. */
export const CENTRAL_SITES_POLICY: DiffPolicy = {
    replace: [],
    update: ["centralStack", "sites"],
    quiet: ["undercloud", "privateKey", "providerVersion"],
};

function centralSitesSchema() {
    const site = unk(z.object({ stack: unk(z.string().regex(STACK_NAME)), az: unk(z.string().regex(AZ_NAME)) }));
    return z.object({ ...baseShape(), centralStack: unk(z.string().regex(STACK_NAME)), sites: unk(z.array(site)) });
}

export const centralSitesProvider: pulumi.dynamic.ResourceProvider = traced("CentralSites", {
    async check(olds: Partial<CentralSitesInputs>, news: CentralSitesInputs) {
        const r = checkWith(centralSitesSchema(), news);
        r.failures.push(...guardChanges(CENTRAL_SITES_POLICY, olds, news, () => ""));
        // Step 1, read-only: a site removed from the config may not hold servers or volumes.
        if (r.failures.length === 0 && olds?.sites && !containsUnknown(news)) {
            const gone = removedSites(olds.sites, news.sites);
            for (const reason of await refusals(targetOf(news), news.centralStack, gone)) {
                r.failures.push({ property: "sites", reason });
            }
        }
        return r;
    },

    async diff(_id: string, olds: CentralSitesInputs, news: CentralSitesInputs) {
        return diffResult(diffByPolicy(CENTRAL_SITES_POLICY, olds, news));
    },

    async create(inputs: CentralSitesInputs) {
        return { id: `${inputs.centralStack}/sites`, outs: inputs };
    },

    async update(_id: string, olds: CentralSitesInputs, news: CentralSitesInputs) {
        const t = targetOf(news);
        const gone = removedSites(olds.sites, news.sites);
        const { refused, central } = await guard(t, news.centralStack, gone);
        if (refused.length > 0) {
            throw new Error(refused.join("\n"));
        }
        // No central cloud (never deployed, or gone): nothing is scheduled anywhere.
        for (const site of central ? gone : []) {
            await quiesce(t, news.centralStack, site);
        }
        return { outs: news };
    },

    async delete() {
        // Each site's services leave with its SiteServices; the list itself is only in state.
    },
});

export interface CentralSitesArgs extends BaseArgs {
    /** The central stack. */
    centralStack: pulumi.Input<string>;
    /** Every DCN site (stack and AZ). */
    sites: pulumi.Input<pulumi.Input<CentralSite>[]>;
}

/**
 * The DCN sites registered in the central cloud (`pulumi-nodejs:dynamic/dcn:CentralSites`): refuses
 * a removal while the site's AZ holds servers or volumes (at preview), and disables the removed
 * site's services before anything else of the `up` runs.
 */
export class CentralSites extends DcnResource {
    constructor(name: string, args: CentralSitesArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            centralSitesProvider,
            name,
            args,
            { type: "CentralSites", providerVersion: PROVIDER_VERSION, outputs: [] },
            opts,
        );
    }
}

// ---------------------------------------------------------------- SiteServices

export interface SiteServicesInputs extends BaseInputs {
    centralStack: string;
    stack: string;
    az: string;
}

/**
 * `stack` is the identity (a renamed stack is refused by the site's other resources anyway); a new
 * AZ or central stack is only stored: the cleanup runs once, when the site is removed.
 */
export const SITE_SERVICES_POLICY: DiffPolicy = {
    replace: ["stack"],
    update: [],
    quiet: ["undercloud", "privateKey", "providerVersion", "centralStack", "az"],
};

function siteServicesSchema() {
    return z.object({
        ...baseShape(),
        centralStack: unk(z.string().regex(STACK_NAME)),
        stack: unk(z.string().regex(STACK_NAME)),
        az: unk(z.string().regex(AZ_NAME)),
    });
}

export const siteServicesProvider: pulumi.dynamic.ResourceProvider = traced("SiteServices", {
    async check(olds: Partial<SiteServicesInputs>, news: SiteServicesInputs) {
        const r = checkWith(siteServicesSchema(), news);
        r.failures.push(...guardChanges(SITE_SERVICES_POLICY, olds, news, (_k, o, n) => stackRenameRefusal(o, n)));
        return r;
    },

    async diff(_id: string, olds: SiteServicesInputs, news: SiteServicesInputs) {
        return diffResult(diffByPolicy(SITE_SERVICES_POLICY, olds, news));
    },

    async create(inputs: SiteServicesInputs) {
        // The services register themselves when the site deploys; this only remembers the site.
        return { id: `${inputs.stack}/central-services`, outs: inputs };
    },

    async update(_id: string, _olds: SiteServicesInputs, news: SiteServicesInputs) {
        return { outs: news };
    },

    async delete(_id: string, props: SiteServicesInputs) {
        const t = targetOf(props);
        try {
            await cleanup(t, props.centralStack, { stack: props.stack, az: props.az });
        } catch (err) {
            // `destroy` deletes central too, possibly meanwhile: with the central cloud gone there
            // is nothing of the site left in it.
            const rc = centralRcFile(props.centralStack, await remoteHome(t));
            const probe = await run(t, ["sh", "-c", '[ -f "$1" ] && echo present || echo absent', "sh", rc]);
            if (probe.stdout.trim() === "present") {
                throw err;
            }
            progress(`central ${props.centralStack}`)(
                `site ${props.stack}: central cloud deleted meanwhile: nothing to remove`,
            );
        }
    },
});

export interface SiteServicesArgs extends BaseArgs {
    centralStack: pulumi.Input<string>;
    /** The DCN stack. */
    stack: pulumi.Input<string>;
    /** Its availability zone (aggregate name, Nova and Cinder zone). */
    az: pulumi.Input<string>;
}

/**
 * A DCN site's records in the central cloud (`pulumi-nodejs:dynamic/dcn:SiteServices`): its
 * delete, which runs after the site's nodes are unprovisioned (the site's metal depends on it),
 * removes the site's compute services, aggregate and volume services from central.
 */
export class SiteServices extends DcnResource {
    constructor(name: string, args: SiteServicesArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            siteServicesProvider,
            name,
            args,
            { type: "SiteServices", providerVersion: PROVIDER_VERSION, outputs: [] },
            opts,
        );
    }
}
