// The seed's purpose, checked end to end against a deployed cloud (tripleo-dcn.md §6.1–§6.3), the
// way an operator checks a real one, from the undercloud:
// - the overcloud APIs with the central stack's rc file: `glance stores-info` lists every site; an
//   image created in the central store is copied (copy-image) to every DCN store; its `stores`
//   lists them all; a server booted (`--wait`, a flavor this run creates, the configured `--nic`)
//   in the site's AZ is ACTIVE there;
// - the RBD level through the site's own nodes: `ssh tripleo-admin@<ctlplane ip of a mon host>
//   sudo cephadm shell … -- rbd info` (providers/remote/nodes.ts): `images/<id>@snap` exists and is
//   protected, and the server's root disk `vms/<server>_disk` is a clone of it;
// - cleanup in the order Ceph allows: the servers (`server delete --wait`: their clones hold the
//   snapshot protected), then the image (Glance unprotects and removes the snapshot in every store),
//   then the flavor; a leak is a failure of the run.
// Every check of every site runs even when another fails. Every value that reaches a shell is
// validated first (names by the program's patterns, ids as UUIDs, addresses as IPs, also those read
// back from the cloud's answers) and quoted (shJoin). Used by the MultistoreValidation resource and
// by `npm run validate` (tools/validate/cli.ts): it only needs an `exec` on the undercloud.
import { randomBytes } from "node:crypto";
import { parse } from "yaml";
import type { ExecResult } from "../../providers/remote/ssh";
import { cephAdminHosts, cephadmShell, nodeCommand } from "../../providers/remote/nodes";
import {
    AZ_NAME,
    CEPH_CLUSTER_NAME,
    GLANCE_STORE_ID,
    NETWORK_CHOICE,
    STACK_NAME,
    isRemotePath,
    shJoin,
    shQuote,
} from "../../providers/remote/shell";

/** One DCN site to check: its Glance store, Nova AZ, stack and Ceph cluster. */
export interface ValidationSite {
    name: string;
    /** Default: the name. */
    store?: string;
    /** Default: the name. */
    az?: string;
    /** Default: the name. */
    stack?: string;
    /** Default: `tripleo_ceph_client_cluster` of the stack's `~/overcloud-deploy/<stack>/ceph_client.yml`. */
    cephCluster?: string;
}

export interface SiteResult {
    copied: boolean;
    snapProtected: boolean;
    cowBoot: boolean;
    error?: string;
}

export interface ValidationReport {
    image: string | null;
    stores: string[];
    sites: Record<string, SiteResult>;
    /** A failure before any site could be checked (stores-info, image create, import call, flavor). */
    error?: string;
    /** What the cleanup could not remove (a leak fails the run). */
    cleanup?: string[];
    ok: boolean;
    seconds: number;
}

/** Glance image and Nova server ids. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ValidationOptions {
    /** Runs a command line on the undercloud (login shell). */
    exec: (command: string, timeoutMs?: number) => Promise<ExecResult>;
    /** DCN sites; default: every store of stores-info except the default one. */
    sites?: ValidationSite[];
    /** rc file of the central stack on the undercloud (absolute or `~/`); default `~/control-planerc`. */
    rcFile?: string;
    /** Keep the image, the servers and the flavor (default: deleted at the end). */
    keep?: boolean;
    /** Size of the test image (raw), bytes. */
    imageBytes?: number;
    /** How long to wait for the copies (ms); default 5 min. */
    copyTimeoutMs?: number;
    /** How long a server may take to become ACTIVE, and a delete to finish (ms); default 10 min. */
    bootTimeoutMs?: number;
    /** Deadline of every other command (API calls, `cephadm shell` on a node), ms; default 3 min. */
    commandTimeoutMs?: number;
    /** NIC of the test servers (NETWORK_CHOICE); default `none` (a COW boot needs no network). */
    network?: string;
    /** The flavor the run creates for its servers; default 256 MB, 1 GB disk, 1 vCPU. */
    flavor?: { ramMb: number; diskGb: number; vcpus: number };
    /** Progress lines. */
    log?: (line: string) => void;
}

/** Parses glanceclient's Property/Value table; wrapped rows (empty Property) are joined to the previous value. */
export function parseGlanceTable(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    let last: string | undefined;
    for (const line of text.split("\n")) {
        const m = /^\|\s(.*?)\s*\|\s(.*?)\s*\|$/.exec(line.trimEnd());
        if (!m) continue;
        const [key, value] = [m[1].trim(), m[2]];
        if (key === "Property" && value.trim() === "Value") continue;
        if (key === "" && last !== undefined) out[last] += value;
        else {
            last = key;
            out[key] = value;
        }
    }
    return out;
}

/** Store ids and the default store from `glance stores-info` output. */
export function parseStoresInfo(text: string): { ids: string[]; defaultStore?: string } {
    const stores = parseGlanceTable(text).stores ?? "";
    const ids: string[] = [];
    let defaultStore: string | undefined;
    for (const m of stores.matchAll(/\{([^}]*)\}/g)) {
        const id = /"id":\s*"([^"]+)"/.exec(m[1])?.[1];
        if (!id) continue;
        ids.push(id);
        if (/"default":\s*"?true/.test(m[1])) defaultStore = id;
    }
    return { ids, defaultStore };
}

const csv = (v: string | undefined) =>
    (v ?? "")
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== "");

/** A remote path as one shell word: `~/x` becomes `"$HOME"/'x'` (tilde is not expanded inside quotes). */
export function remotePathWord(p: string): string {
    if (!isRemotePath(p)) throw new Error(`not a safe remote path: ${JSON.stringify(p)}`);
    return p.startsWith("~/") ? `"$HOME"/${shQuote(p.slice(2))}` : shQuote(p);
}

function must<T extends string>(what: string, v: T, re: RegExp): T {
    if (typeof v !== "string" || !re.test(v)) throw new Error(`${what} ${JSON.stringify(v)} does not match ${re}`);
    return v;
}

/** Resolved site: every field validated. */
interface Site {
    name: string;
    store: string;
    az: string;
    stack: string;
    cluster?: string;
}

export async function validateMultistore(opts: ValidationOptions): Promise<ValidationReport> {
    const t0 = Date.now();
    const log = opts.log ?? (() => undefined);
    const commandMs = opts.commandTimeoutMs ?? 180_000;
    const bootMs = opts.bootTimeoutMs ?? 600_000;
    const copyMs = opts.copyTimeoutMs ?? 300_000;
    const report: ValidationReport = { image: null, stores: [], sites: {}, ok: false, seconds: 0 };
    const finish = () => {
        // A flow failure leaves the sites unchecked: each says so.
        if (report.error) for (const r of Object.values(report.sites)) r.error ??= `not checked: ${report.error}`;
        report.ok = !report.error && !report.cleanup?.length && Object.values(report.sites).every((s) => !s.error);
        report.seconds = Math.round((Date.now() - t0) / 100) / 10;
        return report;
    };
    let rc: string;
    let network: string;
    let sites: Site[] = [];
    try {
        rc = remotePathWord(opts.rcFile ?? "~/control-planerc");
        network = must("network", opts.network ?? "none", NETWORK_CHOICE);
        sites = (opts.sites ?? []).map((s) => ({
            name: must("site", s.name, STACK_NAME),
            store: must("store", s.store ?? s.name, GLANCE_STORE_ID),
            az: must("availability zone", s.az ?? s.name, AZ_NAME),
            stack: must("stack", s.stack ?? s.name, STACK_NAME),
            cluster: s.cephCluster === undefined ? undefined : must("Ceph cluster", s.cephCluster, CEPH_CLUSTER_NAME),
        }));
    } catch (e) {
        report.error = (e as Error).message;
        return finish();
    }
    /** An overcloud API call with the central rc: `timeout` bounds it on the undercloud too. */
    const api = (argv: string[], timeoutMs = commandMs) =>
        opts.exec(
            `. ${rc} && ${shJoin(["timeout", String(Math.ceil(timeoutMs / 1000)), ...argv])}`,
            timeoutMs + 15_000,
        );
    const apiOk = async (what: string, argv: string[], timeoutMs = commandMs) => {
        const r = await api(argv, timeoutMs);
        if (r.code !== 0)
            throw new Error(
                r.code === 124
                    ? `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`
                    : `${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-600)}`,
            );
        return r.stdout;
    };
    /** A command on the undercloud itself (no rc). */
    const local = (argv: string[], timeoutMs = commandMs) =>
        opts.exec(shJoin(["timeout", String(Math.ceil(timeoutMs / 1000)), ...argv]), timeoutMs + 15_000);

    const tag = `validate-${randomBytes(4).toString("hex")}`;
    const servers: Array<{ name: string; id?: string }> = [];
    let flavorId: string | undefined;
    try {
        // 1. stores-info lists every site.
        const info = parseStoresInfo(await apiOk("glance stores-info", ["glance", "stores-info"]));
        log(`stores-info: ${info.ids.join(", ")} (default ${info.defaultStore ?? "?"})`);
        if (!info.defaultStore || !GLANCE_STORE_ID.test(info.defaultStore))
            throw new Error(`glance stores-info shows no default store: ${info.ids.join(",")}`);
        if (!opts.sites)
            sites = info.ids
                .filter((id) => id !== info.defaultStore && STACK_NAME.test(id))
                .map((id) => ({ name: id, store: id, az: id, stack: id }));
        for (const s of sites) report.sites[s.name] = { copied: false, snapProtected: false, cowBoot: false };
        const listed = sites.filter((s) => info.ids.includes(s.store));
        for (const s of sites.filter((x) => !listed.includes(x)))
            report.sites[s.name].error = `store ${s.store} is not in glance stores-info (${info.ids.join(",")})`;

        // 2. A small raw image in the central (default) store.
        const bytes = opts.imageBytes ?? 1024 * 1024;
        const created = parseGlanceTable(
            await apiOk(
                "glance image-create",
                [
                    "sh",
                    "-c",
                    'f=$(mktemp "/tmp/$1-XXXXXX.raw") || exit 1; head -c "$2" /dev/urandom > "$f" && ' +
                        'glance image-create --disk-format raw --container-format bare --name "$1" --file "$f" --store "$3"; ' +
                        'rc=$?; rm -f "$f"; exit $rc',
                    "image-create",
                    tag,
                    String(bytes),
                    info.defaultStore,
                ],
                commandMs,
            ),
        );
        report.image = created.id && UUID.test(created.id) ? created.id : null;
        if (!report.image || created.status !== "active")
            throw new Error(
                `image-create gave no active image (id ${created.id ?? "?"}, status ${created.status ?? "?"})`,
            );
        const image = report.image;
        log(`image ${image} active in ${created.stores}`);

        // 3. copy-image to every listed DCN store (failures of one store keep the others).
        if (listed.length) {
            const t1 = Date.now();
            await apiOk("glance image-import copy-image", [
                "glance",
                "image-import",
                image,
                "--import-method",
                "copy-image",
                "--stores",
                listed.map((s) => s.store).join(","),
                "--allow-failure",
                "True",
            ]);
            // 4. Wait until every target is in `stores` or in os_glance_failed_import, and the import is over.
            const deadline = Date.now() + copyMs;
            let shown: Record<string, string> = {};
            for (;;) {
                await new Promise((r) => setTimeout(r, 1000));
                shown = parseGlanceTable(await apiOk("glance image-show", ["glance", "image-show", image]));
                const stores = csv(shown.stores);
                const failed = csv(shown.os_glance_failed_import);
                const pending = csv(shown.os_glance_importing_to_stores);
                const settled = listed.every((s) => stores.includes(s.store) || failed.includes(s.store));
                if ((settled && pending.length === 0) || Date.now() > deadline) break;
            }
            report.stores = csv(shown.stores);
            const failed = csv(shown.os_glance_failed_import);
            log(`copy-image: stores ${report.stores.join(",")} after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
            for (const s of listed) {
                const r = report.sites[s.name];
                r.copied = report.stores.includes(s.store);
                if (!r.copied)
                    r.error = failed.includes(s.store)
                        ? `copy-image to store ${s.store} failed (os_glance_failed_import=${failed.join(",")})`
                        : `image not in store ${s.store} after ${copyMs / 1000} s (stores=${report.stores.join(",")})`;
            }
        } else {
            report.stores = csv(created.stores);
        }

        // 5. The run's own flavor (an overcloud has none until someone makes one).
        const f = opts.flavor ?? { ramMb: 256, diskGb: 1, vcpus: 1 };
        const flavor = JSON.parse(
            await apiOk("openstack flavor create", [
                "openstack",
                "flavor",
                "create",
                "--ram",
                String(f.ramMb),
                "--disk",
                String(f.diskGb),
                "--vcpus",
                String(f.vcpus),
                "--public",
                "-f",
                "json",
                tag,
            ]),
        ) as { id?: string };
        if (typeof flavor.id !== "string" || !/^[A-Za-z0-9_.-]{1,255}$/.test(flavor.id))
            throw new Error(`openstack flavor create gave no usable id (${JSON.stringify(flavor.id)})`);
        flavorId = flavor.id;

        // 6. Each site's Ceph (through its own node) and a COW boot there, all sites in parallel.
        const nic = network === "none" || network === "auto" ? ["--nic", network] : ["--network", network];
        await Promise.all(
            listed
                .filter((s) => report.sites[s.name].copied)
                .map(async (s) => {
                    const r = report.sites[s.name];
                    const fail = (msg: string) => {
                        if (!r.error) r.error = msg;
                    };
                    let rbd: (args: string[]) => Promise<ExecResult>;
                    let via: string;
                    try {
                        ({ rbd, via } = await siteRbd(s, local, commandMs));
                    } catch (e) {
                        fail((e as Error).message);
                        return;
                    }
                    const snap = await rbd(["info", "--format", "json", `images/${image}@snap`]);
                    if (snap.code === 0) {
                        r.snapProtected = jsonTail<{ protected?: string }>(snap.stdout).protected === "true";
                        if (!r.snapProtected) fail(`images/${image}@snap on site ${s.name} is not protected`);
                    } else {
                        fail(`images/${image}@snap not found on the Ceph of site ${s.name} (via ${via}): ${why(snap)}`);
                        return;
                    }
                    const name = `${tag}-${s.name}`;
                    const entry: { name: string; id?: string } = { name };
                    servers.push(entry);
                    const boot = await api(
                        [
                            "openstack",
                            "server",
                            "create",
                            "--image",
                            image,
                            "--flavor",
                            flavorId!,
                            "--availability-zone",
                            s.az,
                            ...nic,
                            "--wait",
                            "-f",
                            "json",
                            name,
                        ],
                        bootMs,
                    );
                    if (boot.code !== 0) {
                        fail(
                            boot.code === 124
                                ? `COW boot in AZ ${s.az}: server ${name} not ACTIVE within ${bootMs / 1000} s`
                                : `COW boot in AZ ${s.az} failed: ${boot.stderr.trim().split("\n").slice(0, 3).join(" ")}`,
                        );
                        return;
                    }
                    const server = jsonTail<Record<string, string>>(boot.stdout);
                    if (typeof server.id !== "string" || !UUID.test(server.id)) {
                        fail(`server create in AZ ${s.az} gave no server id`);
                        return;
                    }
                    entry.id = server.id;
                    if (server.status !== "ACTIVE" || server["OS-EXT-AZ:availability_zone"] !== s.az) {
                        fail(
                            `server ${server.id} is ${server.status} in AZ ${server["OS-EXT-AZ:availability_zone"]}, not ACTIVE in ${s.az}`,
                        );
                        return;
                    }
                    const disk = await rbd(["info", "--format", "json", `vms/${server.id}_disk`]);
                    if (disk.code !== 0) {
                        fail(
                            `server ${server.id}: no root disk vms/${server.id}_disk on site ${s.name}'s Ceph: ${why(disk)}`,
                        );
                        return;
                    }
                    const parent = jsonTail<{ parent?: { pool: string; image: string; snapshot: string } }>(
                        disk.stdout,
                    ).parent;
                    r.cowBoot = parent?.pool === "images" && parent.image === image && parent.snapshot === "snap";
                    if (!r.cowBoot)
                        fail(
                            `server ${server.id}: root disk's parent is ${parent ? `${parent.pool}/${parent.image}@${parent.snapshot}` : "none"}, not images/${image}@snap`,
                        );
                    log(`site ${s.name}: ${r.error ?? "ok"}`);
                }),
        );
    } catch (e) {
        report.error = (e as Error).message;
    } finally {
        if (!opts.keep) report.cleanup = await cleanup(api, servers, report.image, flavorId, bootMs, log);
    }
    return finish();
}

/**
 * Servers first, waited for (their root disks are clones that keep `images/<id>@snap` protected:
 * Glance cannot delete the image from a store while one exists), then the image, then the flavor.
 */
async function cleanup(
    api: (argv: string[], timeoutMs?: number) => Promise<ExecResult>,
    servers: Array<{ name: string; id?: string }>,
    image: string | null,
    flavorId: string | undefined,
    bootMs: number,
    log: (line: string) => void,
): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, argv: string[], timeoutMs?: number) => {
        const r = await api(argv, timeoutMs).catch((e: Error) => ({ code: -1, stdout: "", stderr: e.message }));
        if (r.code !== 0) {
            problems.push(`${what}: ${r.code === 124 ? "timed out" : r.stderr.trim().split("\n").slice(-2).join(" ")}`);
            log(`cleanup: ${problems[problems.length - 1]}`);
            return false;
        }
        return true;
    };
    const refs = servers.map((s) => s.id ?? s.name);
    let serversGone = true;
    if (refs.length) {
        // A server whose create failed may not exist: each one alone, so one missing does not stop the others.
        for (const ref of refs) {
            const gone = await api(["openstack", "server", "show", "-f", "value", "-c", "id", ref]);
            if (gone.code !== 0 && /No server with a name or ID/.test(gone.stderr)) continue;
            serversGone =
                (await attempt(
                    `openstack server delete --wait ${ref}`,
                    ["openstack", "server", "delete", "--wait", ref],
                    bootMs,
                )) && serversGone;
        }
    }
    if (image) {
        if (serversGone) await attempt(`glance image-delete ${image}`, ["glance", "image-delete", image]);
        else problems.push(`image ${image} kept: a server that clones it could not be deleted`);
    }
    if (flavorId) await attempt(`openstack flavor delete ${flavorId}`, ["openstack", "flavor", "delete", flavorId]);
    return problems;
}

/** The last JSON document of a command's stdout (cephadm and clients may print banners before it). */
function jsonTail<T>(stdout: string): T {
    const text = stdout.trim();
    try {
        return JSON.parse(text) as T;
    } catch {
        const start = Math.max(text.lastIndexOf("\n{"), text.lastIndexOf("\n["));
        return JSON.parse(start >= 0 ? text.slice(start + 1) : text) as T;
    }
}

function why(r: ExecResult): string {
    if (r.code === 124) return "no answer in time";
    return (r.stderr.trim().split("\n").pop() ?? "").slice(0, 300) || `exit ${r.code}`;
}

/**
 * `rbd` on the site's Ceph through a node of the site: an `_admin` host of the stack's deployed
 * spec, the cluster from the site (or the stack's ceph_client.yml).
 */
async function siteRbd(
    s: Site,
    local: (argv: string[], timeoutMs?: number) => Promise<ExecResult>,
    commandMs: number,
): Promise<{ rbd: (args: string[]) => Promise<ExecResult>; via: string }> {
    const read = async (rel: string) => {
        const r = await local(["sh", "-c", 'cat -- "$HOME/$1"', "read", rel]);
        if (r.code !== 0) throw new Error(`~/${rel} of stack ${s.stack} is missing on the undercloud`);
        return r.stdout;
    };
    let cluster = s.cluster;
    if (cluster === undefined) {
        const vars = (parse(await read(`overcloud-deploy/${s.stack}/ceph_client.yml`)) ?? {}) as {
            tripleo_ceph_client_cluster?: unknown;
        };
        cluster = must("Ceph cluster", String(vars.tripleo_ceph_client_cluster), CEPH_CLUSTER_NAME);
    }
    const admin = cephAdminHosts(await read(`overcloud-deploy/${s.stack}/generated_ceph_spec.yaml`))[0];
    if (!admin) throw new Error(`no Ceph admin host (a mon host) in the deployed Ceph spec of stack ${s.stack}`);
    const c = cluster;
    return {
        via: `${admin.hostname} (${admin.addr})`,
        rbd: (args) => local(nodeCommand(s.stack, admin.addr, cephadmShell(c, ["rbd", ...args])), commandMs),
    };
}
