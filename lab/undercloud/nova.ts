// `openstack server create|show|list|delete`: the lab's minimal Nova. A boot at an availability
// zone is the COW boot Nova's rbd image backend does at that site (lab/glance cowBootFromStore):
// `images/<id>@snap` of the AZ's own Ceph cluster cloned into `vms/<uuid>_disk`; with
// NovaDisableImageDownloadToRbd (dcn-storage.yaml) an image not in the site's store is refused.
import { randomUUID } from "node:crypto";
import { ImageNotOnRbdError, cowBootFromStore } from "../glance";
import { cephCommandEnv } from "../ceph";
import { runCommand } from "../ceph/commands";
import { readState, withState } from "../state";
import { authenticate } from "./deploy";
import { GlanceLabState, ServerRecord, centralGlance, glanceGet, labGlanceTokens } from "./glance";
import { Handler } from "./metal";
import { COMMON_OPTS, CommandError, parseArgs, printList, printShow, str } from "./util";

function serverView(s: ServerRecord): Record<string, string | number | boolean | null> {
    return {
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": s.availabilityZone,
        "OS-EXT-STS:power_state": "Running",
        "OS-EXT-STS:task_state": null,
        "OS-EXT-STS:vm_state": "active",
        addresses: "",
        created: s.created,
        flavor: s.flavor,
        id: s.id,
        image: s.image,
        name: s.name,
        status: "ACTIVE",
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
    const flavor = str(a.opts.flavor);
    if (!name || !flavor || !image)
        throw new CommandError(
            `usage: ${prog} [-h] (--image <image> | --volume <volume>) --flavor <flavor> [--availability-zone <zone-name>] <server-name>\n` +
                `${prog}: error: ${!name ? "the following arguments are required: <server-name>" : !flavor ? "the following arguments are required: --flavor" : "one of the arguments --image --volume is required"}`,
            2,
        );
    const cloud = authenticate().name;
    const st = readState() as GlanceLabState;
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
    const rec: ServerRecord = {
        id,
        name,
        image: img.id,
        flavor,
        availabilityZone: az,
        stack,
        cloud,
        clusterDir: cluster.dir,
        disk: boot.disk,
        parent: boot.parent,
        created: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    };
    withState((s) => {
        ((s as GlanceLabState).servers ??= []).push(rec);
    });
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
    const a = parseArgs(prog, argv, [...COMMON_OPTS, { names: ["--long"] }, { names: ["--all-projects"] }], 0);
    const cloud = authenticate().name;
    const rows = ((readState() as GlanceLabState).servers ?? []).filter((x) => x.cloud === cloud);
    printList(
        a,
        ["ID", "Name", "Status", "Networks", "Image", "Flavor", "Availability Zone"],
        rows.map((r) => [r.id, r.name, "ACTIVE", "", r.image, r.flavor, r.availabilityZone]),
    );
    return 0;
};

export const serverDelete: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [{ names: ["--wait"] }], Infinity, 1);
    const cloud = authenticate().name;
    for (const ref of a.positionals) {
        const srv = findServer(readState() as GlanceLabState, cloud, ref);
        // Nova removes the instance's root disk (the clone) from the site's pool.
        await runCommand("rbd", ["rm", "--no-progress", srv.disk], {
            env: { ...process.env, ...cephCommandEnv(srv.clusterDir) },
            timeoutMs: 60_000,
        }).catch((e: Error) => {
            if (!/No such file|\(2\)/.test(e.message))
                throw new CommandError(`Failed to delete server ${ref}: ${e.message}`);
        });
        withState((s) => {
            const g = s as GlanceLabState;
            g.servers = (g.servers ?? []).filter((x) => x.id !== srv.id);
        });
    }
    return 0;
};
