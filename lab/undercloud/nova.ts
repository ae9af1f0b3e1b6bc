// `openstack server create|show|list|delete` and `openstack flavor create|show|list|delete`: the
// lab's minimal Nova. A boot at an availability zone is the COW boot Nova's rbd image backend does
// at that site (lab/glance cowBootFromStore): `images/<id>@snap` of the AZ's own Ceph cluster
// cloned into `vms/<uuid>_disk`; with NovaDisableImageDownloadToRbd (dcn-storage.yaml) an image
// not in the site's store is refused. As on a real cloud: a TripleO overcloud has no flavors until
// someone creates them; the overcloud has no tenant network, so only `--nic none` boots (the
// default, `auto`, finds nothing to allocate); a server is BUILD when `server create` returns and
// ACTIVE a simulated minute later (`--wait` waits for it); `server delete` returns at once and the
// instance (and its root disk clone, which keeps the image's snapshot protected) goes a few seconds
// later, unless `--wait`.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { ImageNotOnRbdError, cowBootFromStore } from "../glance";
import { cephCommandEnv } from "../ceph";
import { runCommand } from "../ceph/commands";
import { readState, withState } from "../state";
import { authenticate } from "./deploy";
import { GlanceLabState, ServerRecord, centralGlance, glanceGet, labGlanceTokens } from "./glance";
import { Handler } from "./metal";
import { COMMON_OPTS, CommandError, parseArgs, printList, printShow, simMs, sleep, str } from "./util";

/** A flavor of the overcloud's Nova. */
export interface FlavorRecord {
    id: string;
    name: string;
    ram: number;
    disk: number;
    vcpus: number;
    isPublic: boolean;
    cloud: string;
}

type NovaLabState = GlanceLabState & { flavors?: FlavorRecord[] };

/** Real milliseconds Nova takes to finish a delete the CLI did not wait for. */
const ASYNC_DELETE_MS = 3000;

function serverStatus(s: ServerRecord, now = Date.now()): "BUILD" | "ACTIVE" {
    return s.activeAt && Date.parse(s.activeAt) > now ? "BUILD" : "ACTIVE";
}

function serverView(s: ServerRecord): Record<string, string | number | boolean | null> {
    const status = serverStatus(s);
    return {
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": s.availabilityZone,
        "OS-EXT-STS:power_state": status === "ACTIVE" ? "Running" : "NOSTATE",
        "OS-EXT-STS:task_state": s.deleting ? "deleting" : status === "ACTIVE" ? null : "spawning",
        "OS-EXT-STS:vm_state": status === "ACTIVE" ? "active" : "building",
        addresses: "",
        created: s.created,
        flavor: s.flavor,
        id: s.id,
        image: s.image,
        name: s.name,
        status,
        // Lab extra: the root disk Nova cloned on the site's Ceph and its parent.
        "lab:root_disk": `${s.disk} (parent ${s.parent})`,
    };
}

/** Deployed stack whose Nova AZ is `az` (NovaComputeAvailabilityZone, default the stack name). */
function stackOfAz(s: GlanceLabState, cloud: string, az: string): string | undefined {
    const zones = s.availabilityZones ?? {};
    const byZone = Object.entries(zones).find(([stack, zone]) => zone === az && s.stacks.some((x) => x.name === stack));
    if (byZone) return byZone[0];
    const agg = s.aggregates.find((a) => a.cloud === cloud && a.availabilityZone === az);
    if (agg && s.stacks.some((x) => x.name === agg.name)) return agg.name;
    if (s.stacks.some((x) => x.name === az && x.deployed)) return az;
    return undefined;
}

function findServer(s: GlanceLabState, cloud: string, ref: string): ServerRecord {
    const matches = (s.servers ?? []).filter((x) => x.cloud === cloud && (x.id === ref || x.name === ref));
    if (matches.length === 0) throw new CommandError(`No server with a name or ID of '${ref}' exists.`);
    if (matches.length > 1) throw new CommandError(`More than one server exists with the name '${ref}'.`);
    return matches[0];
}

function findFlavor(s: NovaLabState, cloud: string, ref: string): FlavorRecord | undefined {
    return (s.flavors ?? []).find((f) => f.cloud === cloud && (f.id === ref || f.name === ref));
}

export const serverCreate: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--image"], value: true },
            { names: ["--flavor"], value: true },
            { names: ["--availability-zone"], value: true },
            { names: ["--network"], value: true, multiple: true },
            { names: ["--nic"], value: true, multiple: true },
            { names: ["--key-name"], value: true },
            { names: ["--wait"] },
        ],
        1,
    );
    const name = a.positionals[0];
    const image = str(a.opts.image);
    const flavorRef = str(a.opts.flavor);
    if (!name || !flavorRef || !image)
        throw new CommandError(
            `usage: ${prog} [-h] (--image <image> | --volume <volume>) --flavor <flavor> [--availability-zone <zone-name>] <server-name>\n` +
                `${prog}: error: ${!name ? "the following arguments are required: <server-name>" : !flavorRef ? "the following arguments are required: --flavor" : "one of the arguments --image --volume is required"}`,
            2,
        );
    const cloud = authenticate().name;
    const st = readState() as NovaLabState;
    const flavor = findFlavor(st, cloud, flavorRef);
    if (!flavor) throw new CommandError(`No Flavor found for ${flavorRef}`);
    // python-openstackclient: --network X is --nic net-id=X; no NIC option at all is `auto`.
    const nics = [
        ...((a.opts.nic as string[] | undefined) ?? []),
        ...((a.opts.network as string[] | undefined) ?? []).map((n) => `net-id=${n}`),
    ];
    if (nics.length === 0) nics.push("auto");
    if (nics.length > 1 && nics.some((n) => n === "none" || n === "auto"))
        throw new CommandError(`Specifying a --nic of auto or none cannot be used with any other --nic value`, 2);
    for (const nic of nics) {
        if (nic === "none") continue;
        if (nic === "auto")
            throw new CommandError(
                `Unable to automatically allocate a network for project (the overcloud has no tenant or shared network; ` +
                    `boot with --nic none or --nic net-id=<network>) (HTTP 400) (Request-ID: req-${randomUUID()})`,
            );
        const m = /^(net-id|net-name|port-id)=(.+)$/.exec(nic.split(",")[0]);
        if (!m) throw new CommandError(`Invalid --nic argument '${nic}'.`, 2);
        throw new CommandError(`No ${m[1] === "port-id" ? "Port" : "Network"} found for ${m[2]}`);
    }
    const az = str(a.opts.availability_zone) ?? "nova";
    const stack = stackOfAz(st, cloud, az);
    if (!stack)
        throw new CommandError(
            `The requested availability zone is not available (HTTP 400) (Request-ID: req-${randomUUID()})`,
        );
    const glance = centralGlance(cloud);
    if (!glance) throw new CommandError(`public endpoint for image service in regionOne region not found`);
    const got = await glanceGet(`${glance.url}/v2/images/${encodeURIComponent(image)}`, labGlanceTokens().admin.token);
    if (got.status === 404) throw new CommandError(`No Image found for ${image}`);
    if (got.status !== 200) throw new CommandError(`Image ${image}: Glance answered HTTP ${got.status}`);
    const img = got.body as { id: string; status: string };
    if (img.status !== "active")
        throw new CommandError(`Image ${img.id} is not active. (HTTP 400) (Request-ID: req-${randomUUID()})`);
    const cluster = st.cephClusters.find((c) => c.stack === stack && c.fsid);
    if (!cluster)
        throw new CommandError(`No valid host was found. Availability zone ${az} has no Ceph (stack ${stack})`);
    const id = randomUUID();
    let boot: { disk: string; parent: string };
    try {
        boot = await cowBootFromStore(cluster.dir, img.id, id);
    } catch (e) {
        // Nova puts the instance in ERROR; the fault is the compute's message.
        const why = e instanceof ImageNotOnRbdError ? e.message : (e as Error).message.split("\n")[0];
        throw new CommandError(
            `Error creating server: ${name}\nBuild of instance ${id} aborted: ${why}\nFault: {'code': 500, 'message': 'Build of instance ${id} aborted: ${why}'}`,
        );
    }
    const bootMs = Math.max(1000, simMs(1));
    const rec: ServerRecord = {
        id,
        name,
        image: img.id,
        flavor: flavor.name,
        availabilityZone: az,
        stack,
        cloud,
        clusterDir: cluster.dir,
        disk: boot.disk,
        parent: boot.parent,
        created: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        activeAt: new Date(Date.now() + bootMs).toISOString(),
    };
    withState((s) => {
        ((s as GlanceLabState).servers ??= []).push(rec);
    });
    if (a.opts.wait) await sleep(bootMs + 10);
    printShow(a, serverView(rec));
    return 0;
};

export const serverShow: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 1, 1);
    const cloud = authenticate().name;
    printShow(a, serverView(findServer(readState() as GlanceLabState, cloud, a.positionals[0])));
    return 0;
};

export const serverList: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--long"] },
            { names: ["--all-projects"] },
            { names: ["--availability-zone"], value: true },
            { names: ["--host"], value: true },
            { names: ["--name"], value: true },
            { names: ["--status"], value: true },
            { names: ["--project"], value: true },
            { names: ["--limit"], value: true, int: true },
        ],
        0,
    );
    const cloud = authenticate().name;
    const st = readState() as GlanceLabState;
    // Nova's filters: availability_zone and name are regular expressions (an unanchored search), host exact.
    const re = (v: unknown) => (typeof v === "string" ? new RegExp(v) : undefined);
    const az = re(a.opts.availability_zone);
    const name = re(a.opts.name);
    const rows = (st.servers ?? []).filter(
        (x) =>
            x.cloud === cloud &&
            (!az || az.test(x.availabilityZone)) &&
            (!name || name.test(x.name)) &&
            (a.opts.status === undefined || serverStatus(x) === String(a.opts.status).toUpperCase()) &&
            (a.opts.host === undefined ||
                st.nodes.some((n) => n.stack === x.stack && `${n.hostname}.localdomain` === a.opts.host)),
    );
    printList(
        a,
        ["ID", "Name", "Status", "Networks", "Image", "Flavor", "Availability Zone"],
        rows.map((r) => [r.id, r.name, serverStatus(r), "", r.image, r.flavor, r.availabilityZone]),
    );
    return 0;
};

/** Nova's end of a delete: the root disk clone leaves the site's pool, then the instance. */
export async function finishServerDelete(id: string): Promise<void> {
    const srv = ((readState() as GlanceLabState).servers ?? []).find((x) => x.id === id);
    if (!srv) return;
    await runCommand("rbd", ["rm", "--no-progress", srv.disk], {
        env: { ...process.env, ...cephCommandEnv(srv.clusterDir) },
        timeoutMs: 60_000,
    }).catch((e: Error) => {
        if (!/No such file|\(2\)/.test(e.message))
            throw new CommandError(`Failed to delete server ${id}: ${e.message}`);
    });
    withState((s) => {
        const g = s as GlanceLabState;
        g.servers = (g.servers ?? []).filter((x) => x.id !== id);
    });
}

/** `nova-reap <id>` (detached, started by a delete without --wait): finishes the delete a moment later. */
export async function novaReap(id: string): Promise<number> {
    await sleep(ASYNC_DELETE_MS);
    await finishServerDelete(id);
    return 0;
}

export const serverDelete: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [{ names: ["--wait"] }, { names: ["--force"] }], Infinity, 1);
    const cloud = authenticate().name;
    const ids = a.positionals.map((ref) => findServer(readState() as GlanceLabState, cloud, ref).id);
    withState((s) => {
        for (const x of (s as GlanceLabState).servers ?? []) if (ids.includes(x.id)) x.deleting = true;
    });
    for (const id of ids) {
        if (a.opts.wait) {
            await sleep(Math.min(ASYNC_DELETE_MS, Math.max(200, simMs(0.5))));
            await finishServerDelete(id);
        } else {
            spawn(process.execPath, [process.argv[1], "nova-reap", id], {
                detached: true,
                stdio: "ignore",
                env: process.env,
            }).unref();
        }
    }
    return 0;
};

// ---- flavors ----

function flavorView(f: FlavorRecord): Record<string, string | number | boolean | null> {
    return {
        "OS-FLV-DISABLED:disabled": false,
        "OS-FLV-EXT-DATA:ephemeral": 0,
        description: null,
        disk: f.disk,
        id: f.id,
        name: f.name,
        "os-flavor-access:is_public": f.isPublic,
        properties: "",
        ram: f.ram,
        rxtx_factor: 1.0,
        swap: 0,
        vcpus: f.vcpus,
    };
}

export const flavorCreate: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--id"], value: true },
            { names: ["--ram"], value: true, default: "256" },
            { names: ["--disk"], value: true, default: "0" },
            { names: ["--vcpus"], value: true, default: "1" },
            { names: ["--public"] },
            { names: ["--private"] },
            { names: ["--project"], value: true },
            { names: ["--description"], value: true },
        ],
        1,
        1,
    );
    const name = a.positionals[0];
    const num = (k: string, min: number) => {
        const v = Number(a.opts[k]);
        if (!Number.isInteger(v) || v < min)
            throw new CommandError(`argument --${k}: invalid int value: '${String(a.opts[k])}'`, 2);
        return v;
    };
    const cloud = authenticate().name;
    const f: FlavorRecord = {
        id: str(a.opts.id) && a.opts.id !== "auto" ? String(a.opts.id) : randomUUID(),
        name,
        ram: num("ram", 1),
        disk: num("disk", 0),
        vcpus: num("vcpus", 1),
        isPublic: !a.opts.private,
        cloud,
    };
    withState((s) => {
        const n = s as NovaLabState;
        if ((n.flavors ?? []).some((x) => x.cloud === cloud && (x.name === name || x.id === f.id)))
            throw new CommandError(
                `Flavor with name ${name} already exists. (HTTP 409) (Request-ID: req-${randomUUID()})`,
            );
        (n.flavors ??= []).push(f);
    });
    printShow(a, flavorView(f));
    return 0;
};

export const flavorShow: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 1, 1);
    const cloud = authenticate().name;
    const f = findFlavor(readState() as NovaLabState, cloud, a.positionals[0]);
    if (!f) throw new CommandError(`No Flavor found for ${a.positionals[0]}`);
    printShow(a, flavorView(f));
    return 0;
};

export const flavorList: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS, { names: ["--all"] }, { names: ["--long"] }], 0);
    const cloud = authenticate().name;
    const rows = ((readState() as NovaLabState).flavors ?? []).filter((f) => f.cloud === cloud);
    printList(
        a,
        ["ID", "Name", "RAM", "Disk", "Ephemeral", "VCPUs", "Is Public"],
        rows.map((f) => [f.id, f.name, f.ram, f.disk, 0, f.vcpus, f.isPublic]),
    );
    return 0;
};

export const flavorDelete: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [], Infinity, 1);
    const cloud = authenticate().name;
    const missing: string[] = [];
    withState((s) => {
        const n = s as NovaLabState;
        for (const ref of a.positionals) {
            const f = findFlavor(n, cloud, ref);
            if (!f) missing.push(ref);
            else n.flavors = (n.flavors ?? []).filter((x) => x !== f);
        }
    });
    if (missing.length)
        throw new CommandError(
            missing.map((m) => `Failed to delete flavor with name or ID '${m}': No Flavor found for ${m}`).join("\n") +
                `\n${missing.length} of ${a.positionals.length} flavors failed to delete.`,
        );
    return 0;
};
