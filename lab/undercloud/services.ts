// The central cloud's Nova and Cinder service records and volumes, as the lab simulates them:
// `openstack compute service list|set|delete`, `openstack volume service list|set`, `openstack
// aggregate remove host|delete`, `openstack volume create|list|show|delete`, and (on a central
// controller, lab/undercloud/nodes.ts) `sudo podman exec cinder_api cinder-manage service remove
// <binary> <host>`. Argument parsing and output shapes follow python-openstackclient 6.0.0
// (compute/v2/service.py, volume/v2/service.py, compute/v2/aggregate.py, volume/v2/volume.py)
// and cinder-manage; refusals follow the Nova and Cinder APIs.
//
// A deployed stack registers, in its cloud (central: its own; DCN: central's, `AuthCloudName`):
// a nova-compute service per node whose role runs NovaCompute (host = the node's fqdn, as THT's
// nova::host), and cinder-volume services: `hostgroup@tripleo_ceph` for the central pacemaker
// CinderVolume, `<node fqdn>@tripleo_ceph` per node of a role running CinderVolumeEdge (THT's
// cinder-volume-container-puppet.yaml: Active/Active in cluster CinderVolumeCluster, backend
// CinderRbdBackendName), in zone CinderStorageAvailabilityZone. Nothing but these commands (and a
// node's scale-down, which runs THT's nova-compute scale tasks) removes a record: `overcloud
// delete` of a DCN stack leaves them in central, as on a real cloud.
import { randomUUID } from "node:crypto";
import { Aggregate, LabState, readState, withState } from "../state";
import { authenticate } from "./deploy";
import { GlanceLabState } from "./glance";
import { Handler } from "./metal";
import { COMMON_OPTS, CommandError, err, out, parseArgs, printList, printShow, str } from "./util";

export interface ComputeServiceRecord {
    id: string;
    binary: "nova-compute";
    host: string;
    /** The deployed stack whose node runs it. */
    stack: string;
    cloud: string;
    status: "enabled" | "disabled";
    disabledReason: string | null;
    updatedAt: string;
}

export interface VolumeServiceRecord {
    binary: "cinder-volume";
    host: string;
    /** Active/Active cluster (`<CinderVolumeCluster>@<backend>`), null for the pacemaker one. */
    cluster: string | null;
    zone: string;
    stack: string;
    cloud: string;
    status: "enabled" | "disabled";
    disabledReason: string | null;
    updatedAt: string;
}

export interface VolumeRecord {
    id: string;
    name: string;
    size: number;
    availabilityZone: string;
    cloud: string;
    status: "available" | "in-use" | "deleting";
    created: string;
}

export type ServicesLabState = GlanceLabState & {
    computeServices?: ComputeServiceRecord[];
    volumeServices?: VolumeServiceRecord[];
    volumes?: VolumeRecord[];
};

const now = () =>
    new Date()
        .toISOString()
        .replace("Z", "")
        .replace(/(\.\d{3})$/, "$1000");

/** The backend name of THT's RBD Cinder backend (CinderRbdBackendName default). */
export const CINDER_BACKEND = "tripleo_ceph";

/** What a stack's deploy registers in its cloud (called from recordDeployed, both lab modes). */
export interface Registration {
    stack: string;
    cloud: string;
    central: boolean;
    /** CinderStorageAvailabilityZone (THT default `nova`). */
    cinderZone: string;
    /** CinderVolumeCluster ('' = none). */
    cinderCluster: string;
    /** Per node of the stack: fqdn and the services of its role. */
    nodes: Array<{ fqdn: string; services: Set<string> }>;
    /** The stack's roles run the pacemaker CinderVolume (central controllers). */
    pacemakerCinderVolume: boolean;
}

/** Registers the stack's nova-compute and cinder-volume services (kept when already there). */
export function registerServices(s: LabState, r: Registration): void {
    const st = s as ServicesLabState;
    const compute = (st.computeServices ??= []);
    const volume = (st.volumeServices ??= []);
    const stamp = now();
    for (const n of r.nodes) {
        if (n.services.has("NovaCompute") && !compute.some((c) => c.cloud === r.cloud && c.host === n.fqdn)) {
            compute.push({
                id: randomUUID(),
                binary: "nova-compute",
                host: n.fqdn,
                stack: r.stack,
                cloud: r.cloud,
                status: "enabled",
                disabledReason: null,
                updatedAt: stamp,
            });
        }
    }
    const volumeHosts: Array<{ host: string; cluster: string | null }> = [];
    if (r.pacemakerCinderVolume) volumeHosts.push({ host: `hostgroup@${CINDER_BACKEND}`, cluster: null });
    for (const n of r.nodes) {
        if (n.services.has("CinderVolumeEdge"))
            volumeHosts.push({
                host: `${n.fqdn}@${CINDER_BACKEND}`,
                cluster: r.cinderCluster ? `${r.cinderCluster}@${CINDER_BACKEND}` : null,
            });
    }
    for (const v of volumeHosts) {
        const have = volume.find((x) => x.cloud === r.cloud && x.host === v.host);
        if (have) {
            have.zone = r.cinderZone;
            have.stack = r.stack;
            continue;
        }
        volume.push({
            binary: "cinder-volume",
            host: v.host,
            cluster: v.cluster,
            zone: r.cinderZone,
            stack: r.stack,
            cloud: r.cloud,
            status: "enabled",
            disabledReason: null,
            updatedAt: stamp,
        });
    }
}

/** The records of a central cloud that is deleted. */
export function dropCloudRecords(s: LabState, cloud: string): void {
    const st = s as ServicesLabState;
    st.computeServices = (st.computeServices ?? []).filter((c) => c.cloud !== cloud);
    st.volumeServices = (st.volumeServices ?? []).filter((v) => v.cloud !== cloud);
    st.volumes = (st.volumes ?? []).filter((v) => v.cloud !== cloud);
}

/** THT's nova-compute scale tasks on hosts leaving a stack: their compute services go (and leave every aggregate). */
export function removeComputeServicesOf(s: LabState, fqdns: Set<string>): void {
    const st = s as ServicesLabState;
    st.computeServices = (st.computeServices ?? []).filter((c) => !fqdns.has(c.host));
}

/** Up while the node that runs the service is provisioned in its stack (the lab's heartbeat). */
function serviceState(s: LabState, stack: string, host: string): "up" | "down" {
    const short = host.split("@")[0].replace(/\.localdomain$/, "");
    if (host.startsWith("hostgroup@")) return s.stacks.some((x) => x.name === stack && x.deployed) ? "up" : "down";
    const node = s.nodes.find((n) => n.hostname === short && n.stack === stack && n.provisionState === "active");
    return node && s.stacks.some((x) => x.name === stack) ? "up" : "down";
}

/** Nova's zone of a compute host: the availability_zone of an aggregate holding it, else `nova`. */
function computeZone(s: LabState, cloud: string, host: string): string {
    return (
        s.aggregates.find((a) => a.cloud === cloud && a.hosts.includes(host) && a.availabilityZone)?.availabilityZone ??
        "nova"
    );
}

/** Instances Nova counts on a compute host (the lab's servers run on the AZ's stack). */
function instancesOn(s: ServicesLabState, c: ComputeServiceRecord): number {
    return (s.servers ?? []).filter((x) => x.cloud === c.cloud && x.stack === c.stack).length;
}

/**
 * The clients' multi-delete: each ref deleted in its own state transaction, each failure printed
 * as `Failed to delete <what> with <label> '<ref>': …`, then `N of M <what>s failed to delete.`
 */
function deleteEach(
    refs: string[],
    what: string,
    label: string,
    del: (s: ServicesLabState, ref: string) => void,
): number {
    let failed = 0;
    for (const ref of refs) {
        try {
            withState((s) => del(s as ServicesLabState, ref));
        } catch (e) {
            failed++;
            err(`Failed to delete ${what} with ${label} '${ref}': ${(e as Error).message}`);
        }
    }
    if (failed) throw new CommandError(`${failed} of ${refs.length} ${what}s failed to delete.`);
    return 0;
}

// ---- openstack compute service | volume service: list and set share their shape ----

type ServiceRecord = ComputeServiceRecord | VolumeServiceRecord;

/** `… service list [--host H] [--service B] [--long]`: the cloud's records that match. */
function listServices<T extends ServiceRecord>(
    prog: string,
    argv: string[],
    records: (s: ServicesLabState) => T[] | undefined,
) {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--host"], value: true },
            { names: ["--service"], value: true },
            { names: ["--long"] },
        ],
        0,
    );
    const cloud = authenticate().name;
    const s = readState() as ServicesLabState;
    const rows = (records(s) ?? []).filter(
        (r) =>
            r.cloud === cloud &&
            (a.opts.host === undefined || r.host === a.opts.host) &&
            (a.opts.service === undefined || r.binary === a.opts.service),
    );
    return { a, s, cloud, rows };
}

/**
 * `… service set [--enable|--disable] [--disable-reason R] <host> <binary>` on the one record
 * `find` returns (it throws the client's error when there is none).
 */
function setService(
    prog: string,
    argv: string[],
    extra: Array<{ names: string[] }>,
    find: (s: ServicesLabState, cloud: string, host: string, binary: string) => ServiceRecord,
): number {
    const a = parseArgs(
        prog,
        argv,
        [{ names: ["--enable"] }, { names: ["--disable"] }, { names: ["--disable-reason"], value: true }, ...extra],
        2,
        2,
    );
    if (a.opts.enable && a.opts.disable)
        throw new CommandError(
            `usage: ${prog} [-h] ...\n${prog}: error: argument --disable: not allowed with argument --enable`,
            2,
        );
    if (a.opts.disable_reason !== undefined && !a.opts.disable)
        throw new CommandError("Cannot specify option --disable-reason without --disable specified.");
    const [host, binary] = a.positionals;
    const cloud = authenticate().name;
    withState((s) => {
        const r = find(s as ServicesLabState, cloud, host, binary);
        if (a.opts.disable) {
            r.status = "disabled";
            r.disabledReason = str(a.opts.disable_reason) ?? null;
        } else if (a.opts.enable) {
            r.status = "enabled";
            r.disabledReason = null;
        }
        r.updatedAt = now();
    });
    return 0;
}

export const computeServiceList: Handler = async (prog, argv) => {
    const { a, s, cloud, rows } = listServices(prog, argv, (st) => st.computeServices);
    const headers = ["ID", "Binary", "Host", "Zone", "Status", "State", "Updated At"];
    if (a.opts.long) headers.push("Disabled Reason", "Forced Down");
    printList(
        a,
        headers,
        rows.map((c) => [
            c.id,
            c.binary,
            c.host,
            computeZone(s, cloud, c.host),
            c.status,
            serviceState(s, c.stack, c.host),
            c.updatedAt,
            c.disabledReason,
            false,
        ]),
    );
    return 0;
};

export const computeServiceSet: Handler = async (prog, argv) =>
    setService(prog, argv, [{ names: ["--up"] }, { names: ["--down"] }], (s, cloud, host, binary) => {
        const found = (s.computeServices ?? []).filter(
            (c) => c.cloud === cloud && c.host === host && c.binary === binary,
        );
        if (found.length === 0)
            throw new CommandError(`Compute service for host "${host}" and binary "${binary}" not found.`);
        return found[0];
    });

export const computeServiceDelete: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [], Infinity, 1);
    const cloud = authenticate().name;
    return deleteEach(a.positionals, "compute service", "ID", (st, id) => {
        const c = (st.computeServices ?? []).find((x) => x.cloud === cloud && x.id === id);
        if (!c) throw new CommandError(`Service ${id} not found. (HTTP 404)`);
        if (instancesOn(st, c) > 0)
            throw new CommandError(
                `Unable to delete compute service that is hosting instances. Migrate or delete the instances first. (HTTP 409)`,
            );
        // Nova's services API removes a deleted compute host from its aggregates.
        for (const g of st.aggregates) if (g.cloud === cloud) g.hosts = g.hosts.filter((h) => h !== c.host);
        st.computeServices = (st.computeServices ?? []).filter((x) => x !== c);
    });
};

export const volumeServiceList: Handler = async (prog, argv) => {
    const { a, s, rows } = listServices(prog, argv, (st) => st.volumeServices);
    const headers = ["Binary", "Host", "Zone", "Status", "State", "Updated At"];
    if (a.opts.long) headers.push("Disabled Reason");
    printList(
        a,
        headers,
        rows.map((v) => [
            v.binary,
            v.host,
            v.zone,
            v.status,
            serviceState(s, v.stack, v.host),
            v.updatedAt,
            v.disabledReason,
        ]),
    );
    return 0;
};

export const volumeServiceSet: Handler = async (prog, argv) =>
    setService(prog, argv, [], (s, cloud, host, binary) => {
        const v = (s.volumeServices ?? []).find((x) => x.cloud === cloud && x.host === host && x.binary === binary);
        // cinderclient's PUT os-services/disable on an unknown host: Cinder's HostBinaryNotFound.
        if (!v) throw new CommandError(`Service ${binary} on host ${host} could not be found. (HTTP 404)`);
        return v;
    });

/** `cinder-manage service remove <binary> <host>` (inside a central controller's cinder container). */
export function cinderManageServiceRemove(cloud: string, binary: string, host: string): number {
    let removed = false;
    withState((s) => {
        const st = s as ServicesLabState;
        const v = (st.volumeServices ?? []).find((x) => x.cloud === cloud && x.host === host && x.binary === binary);
        if (v) {
            st.volumeServices = (st.volumeServices ?? []).filter((x) => x !== v);
            removed = true;
        }
    });
    if (!removed) {
        out(`Host not found. Failed to remove ${binary} on ${host}.`);
        return 2;
    }
    out(`Service ${binary} on host ${host} removed.`);
    return 0;
}

// ---- openstack aggregate remove host | delete ----

function findAggregate(s: LabState, cloud: string, ref: string): Aggregate {
    const i = s.aggregates.findIndex(
        (x) => x.cloud === cloud && (x.name === ref || String(s.aggregates.indexOf(x) + 1) === ref),
    );
    if (i < 0) throw new CommandError(`No aggregate with a name or ID of '${ref}' exists.`);
    return s.aggregates[i];
}

export const aggregateRemoveHost: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 2, 2);
    const [ref, host] = a.positionals;
    const cloud = authenticate().name;
    let view: Record<string, string | number | boolean | null | string[]> = {};
    withState((s) => {
        const g = findAggregate(s, cloud, ref);
        const id = s.aggregates.indexOf(g) + 1;
        if (!g.hosts.includes(host))
            throw new CommandError(`Cannot remove host ${host} in aggregate ${id}: not found (HTTP 404)`);
        g.hosts = g.hosts.filter((h) => h !== host);
        view = {
            availability_zone: g.availabilityZone,
            created_at: g.createdAt,
            deleted_at: null,
            hosts: g.hosts,
            id,
            is_deleted: false,
            name: g.name,
            properties: {} as unknown as string,
            updated_at: now(),
        };
    });
    printShow(a, view);
    return 0;
};

export const aggregateDelete: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [], Infinity, 1);
    const cloud = authenticate().name;
    return deleteEach(a.positionals, "aggregate", "name or ID", (st, ref) => {
        const g = findAggregate(st, cloud, ref);
        const id = st.aggregates.indexOf(g) + 1;
        if (g.hosts.length > 0)
            throw new CommandError(
                `Cannot perform action 'delete' on aggregate ${id}. Reason: Host aggregate is not empty. (HTTP 400)`,
            );
        st.aggregates = st.aggregates.filter((x) => x !== g);
    });
};

// ---- openstack volume create | list | show | delete (records only: the lab's Cinder keeps no data) ----

function findVolume(s: ServicesLabState, cloud: string, ref: string): VolumeRecord {
    const m = (s.volumes ?? []).filter((v) => v.cloud === cloud && (v.id === ref || v.name === ref));
    if (m.length === 0) throw new CommandError(`No volume with a name or ID of '${ref}' exists.`);
    if (m.length > 1) throw new CommandError(`More than one volume exists with the name '${ref}'.`);
    return m[0];
}

function volumeView(v: VolumeRecord): Record<string, string | number | boolean | null | string[]> {
    return {
        attachments: [],
        availability_zone: v.availabilityZone,
        bootable: "false",
        consistencygroup_id: null,
        created_at: v.created,
        description: null,
        encrypted: false,
        id: v.id,
        multiattach: false,
        name: v.name,
        properties: "",
        replication_status: null,
        size: v.size,
        snapshot_id: null,
        source_volid: null,
        status: v.status,
        type: "tripleo",
        updated_at: null,
    };
}

export const volumeCreate: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--size"], value: true, int: true },
            { names: ["--availability-zone"], value: true },
            { names: ["--description"], value: true },
            { names: ["--type"], value: true },
        ],
        1,
        1,
    );
    const cloud = authenticate().name;
    if (a.opts.size === undefined)
        throw new CommandError(`--size is a required option if snapshot or source volume are not specified.`);
    const az = str(a.opts.availability_zone) ?? "nova";
    const s = readState() as ServicesLabState;
    if (!(s.volumeServices ?? []).some((v) => v.cloud === cloud && v.zone === az && v.status === "enabled"))
        throw new CommandError(`Availability zone '${az}' is invalid. (HTTP 400) (Request-ID: req-${randomUUID()})`);
    const v: VolumeRecord = {
        id: randomUUID(),
        name: a.positionals[0],
        size: Number(a.opts.size),
        availabilityZone: az,
        cloud,
        status: "available",
        created: now(),
    };
    withState((st) => {
        ((st as ServicesLabState).volumes ??= []).push(v);
    });
    printShow(a, volumeView(v));
    return 0;
};

export const volumeList: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--project"], value: true },
            { names: ["--user"], value: true },
            { names: ["--name"], value: true },
            { names: ["--status"], value: true },
            { names: ["--all-projects"] },
            { names: ["--long"] },
            { names: ["--marker"], value: true },
            { names: ["--limit"], value: true, int: true },
        ],
        0,
    );
    const cloud = authenticate().name;
    const rows = ((readState() as ServicesLabState).volumes ?? []).filter(
        (v) =>
            v.cloud === cloud &&
            (a.opts.name === undefined || v.name === a.opts.name) &&
            (a.opts.status === undefined || v.status === a.opts.status),
    );
    const headers = a.opts.long
        ? ["ID", "Name", "Status", "Size", "Type", "Bootable", "Attached to", "Properties"]
        : ["ID", "Name", "Status", "Size", "Attached to"];
    printList(
        a,
        headers,
        rows.map((v) =>
            a.opts.long
                ? [v.id, v.name, v.status, v.size, "tripleo", "false", "", ""]
                : [v.id, v.name, v.status, v.size, ""],
        ),
    );
    return 0;
};

export const volumeShow: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 1, 1);
    const cloud = authenticate().name;
    printShow(a, volumeView(findVolume(readState() as ServicesLabState, cloud, a.positionals[0])));
    return 0;
};

export const volumeDelete: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [{ names: ["--force"] }, { names: ["--purge"] }], Infinity, 1);
    const cloud = authenticate().name;
    return deleteEach(a.positionals, "volume", "name or ID", (st, ref) => {
        const v = findVolume(st, cloud, ref);
        st.volumes = (st.volumes ?? []).filter((x) => x !== v);
    });
};
