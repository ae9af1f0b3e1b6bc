// The seed's purpose, checked end to end against a deployed cloud (tripleo-dcn.md §6.1–§6.3):
// through the undercloud, with the central rc, `glance stores-info` lists every site; an image
// created in the central store is copied (copy-image) to every DCN store; its `stores` lists them
// all; on each site's own Ceph `images/<id>@snap` exists and is protected; a server booted in the
// site's AZ is a COW clone whose parent is that local snapshot. Every site is checked even when
// another fails. Used by `npm run validate` (tools/validate/cli.ts) and meant for a Pulumi
// resource (it only needs an `exec` on the undercloud).
import { randomBytes } from "node:crypto";
import type { ExecResult } from "./ssh";

/** One DCN site to check: its Glance store, Nova AZ, stack (for ~/overcloud-deploy/<stack>/ceph) and Ceph cluster. */
export interface ValidationSite {
    name: string;
    store?: string;
    az?: string;
    stack?: string;
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
    /** A failure before any site could be checked (stores-info, image create, import call). */
    error?: string;
    ok: boolean;
    seconds: number;
}

export interface ValidationOptions {
    /** Runs a command on the undercloud (login shell). */
    exec: (command: string, timeoutMs?: number) => Promise<ExecResult>;
    /** DCN sites; default: every store of stores-info except the default one (site = store = AZ = stack). */
    sites?: ValidationSite[];
    /** rc file of the central stack on the undercloud. */
    rcFile?: string;
    /** Keep the image and servers (default: deleted at the end). */
    keep?: boolean;
    /** Size of the test image (raw), bytes. */
    imageBytes?: number;
    /** How long to wait for the copies (ms). */
    copyTimeoutMs?: number;
    flavor?: string;
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

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function validateMultistore(opts: ValidationOptions): Promise<ValidationReport> {
    const t0 = Date.now();
    const log = opts.log ?? (() => undefined);
    const rc = opts.rcFile ?? "~/control-planerc";
    const run = (cmd: string, timeoutMs?: number) => opts.exec(`source ${rc} && ${cmd}`, timeoutMs);
    const must = async (what: string, cmd: string, timeoutMs?: number) => {
        const r = await run(cmd, timeoutMs);
        if (r.code !== 0)
            throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-600)}`);
        return r.stdout;
    };
    const report: ValidationReport = { image: null, stores: [], sites: {}, ok: false, seconds: 0 };
    const finish = () => {
        // A flow failure leaves the sites unchecked: each says so.
        if (report.error) for (const r of Object.values(report.sites)) r.error ??= `not checked: ${report.error}`;
        report.ok = !report.error && Object.values(report.sites).every((s) => !s.error);
        report.seconds = Math.round((Date.now() - t0) / 100) / 10;
        return report;
    };
    const tag = `validate-${randomBytes(4).toString("hex")}`;
    const servers: string[] = [];
    let sites: ValidationSite[] = opts.sites ?? [];
    try {
        // 1. stores-info lists every site.
        const info = parseStoresInfo(await must("glance stores-info", "glance stores-info", 120_000));
        log(`stores-info: ${info.ids.join(", ")} (default ${info.defaultStore ?? "?"})`);
        if (!info.defaultStore) throw new Error(`glance stores-info shows no default store: ${info.ids.join(",")}`);
        if (!opts.sites) sites = info.ids.filter((id) => id !== info.defaultStore).map((name) => ({ name }));
        for (const s of sites) report.sites[s.name] = { copied: false, snapProtected: false, cowBoot: false };
        const storeOf = (s: ValidationSite) => s.store ?? s.name;
        const listed = sites.filter((s) => info.ids.includes(storeOf(s)));
        for (const s of sites.filter((x) => !listed.includes(x)))
            report.sites[s.name].error = `store ${storeOf(s)} is not in glance stores-info (${info.ids.join(",")})`;

        // 2. A small raw image in the central (default) store.
        const bytes = opts.imageBytes ?? 1024 * 1024;
        const created = parseGlanceTable(
            await must(
                "glance image-create",
                `f=$(mktemp /tmp/${tag}-XXXXXX.raw) && head -c ${bytes} /dev/urandom > "$f" && ` +
                    `glance image-create --disk-format raw --container-format bare --name ${tag} --file "$f" --store ${quote(info.defaultStore)}; ` +
                    `rc=$?; rm -f "$f"; exit $rc`,
                120_000,
            ),
        );
        report.image = created.id ?? null;
        if (!report.image || created.status !== "active")
            throw new Error(`image-create gave no active image (status ${created.status ?? "?"})`);
        log(`image ${report.image} active in ${created.stores}`);

        // 3. copy-image to every listed DCN store (failures of one store keep the others).
        if (listed.length) {
            const t1 = Date.now();
            await must(
                "glance image-import copy-image",
                `glance image-import ${report.image} --import-method copy-image --stores ${listed.map(storeOf).join(",")} --allow-failure True`,
                120_000,
            );
            // 4. Wait until every target is in `stores` or in os_glance_failed_import, and the import is over.
            const deadline = Date.now() + (opts.copyTimeoutMs ?? 180_000);
            let shown: Record<string, string> = {};
            for (;;) {
                await new Promise((r) => setTimeout(r, 1000));
                shown = parseGlanceTable(await must("glance image-show", `glance image-show ${report.image}`, 120_000));
                const stores = csv(shown.stores);
                const failed = csv(shown.os_glance_failed_import);
                const pending = csv(shown.os_glance_importing_to_stores);
                const settled = listed.every((s) => stores.includes(storeOf(s)) || failed.includes(storeOf(s)));
                if ((settled && pending.length === 0) || Date.now() > deadline) break;
            }
            report.stores = csv(shown.stores);
            const failed = csv(shown.os_glance_failed_import);
            log(`copy-image: stores ${report.stores.join(",")} after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
            for (const s of listed) {
                const r = report.sites[s.name];
                r.copied = report.stores.includes(storeOf(s));
                if (!r.copied)
                    r.error = failed.includes(storeOf(s))
                        ? `copy-image to store ${storeOf(s)} failed (os_glance_failed_import=${failed.join(",")})`
                        : `image not in store ${storeOf(s)} after ${(opts.copyTimeoutMs ?? 180_000) / 1000} s (stores=${report.stores.join(",")})`;
            }
        } else {
            report.stores = csv(created.stores);
        }

        // 5. Each site's Ceph and a COW boot there, all sites in parallel.
        await Promise.all(
            listed.map(async (s) => {
                const r = report.sites[s.name];
                const stack = s.stack ?? s.name;
                const dir = `~/overcloud-deploy/${stack}/ceph`;
                const conf = s.cephCluster ? `${dir}/${s.cephCluster}.conf` : `$(ls ${dir}/*.conf | head -1)`;
                // The site's own /etc/ceph view; `timeout` because librados waits minutes for a dead cluster.
                const rbd = (args: string) =>
                    opts.exec(
                        `c=${conf}; [ -f "$c" ] || { echo "no Ceph client conf in ${dir}" >&2; exit 2; }; ` +
                            `timeout 40 rbd -c "$c" --id openstack --client_mount_timeout 15 --rados_mon_op_timeout 15 ${args}`,
                        60_000,
                    );
                const fail = (msg: string) => {
                    if (!r.error) r.error = msg;
                };
                const snap = await rbd(`info --format json images/${report.image}@snap`);
                if (snap.code === 0) {
                    const j = JSON.parse(snap.stdout) as { protected?: string };
                    r.snapProtected = j.protected === "true";
                    if (!r.snapProtected) fail(`images/${report.image}@snap on site ${s.name} is not protected`);
                } else {
                    const why =
                        snap.code === 124 ? "Ceph did not answer within 40 s" : snap.stderr.trim().split("\n").pop();
                    fail(`images/${report.image}@snap not found on the Ceph of site ${s.name}: ${why}`);
                    return;
                }
                const az = s.az ?? s.name;
                const boot = await run(
                    `openstack server create --image ${report.image} --flavor ${opts.flavor ?? "m1.tiny"} --availability-zone ${quote(az)} ${tag}-${s.name} -f json`,
                    120_000,
                );
                if (boot.code !== 0) {
                    fail(`COW boot in AZ ${az} failed: ${boot.stderr.trim().split("\n").slice(0, 3).join(" ")}`);
                    return;
                }
                const server = JSON.parse(boot.stdout) as Record<string, string>;
                servers.push(server.id);
                if (server.status !== "ACTIVE" || server["OS-EXT-AZ:availability_zone"] !== az) {
                    fail(
                        `server ${server.id} is ${server.status} in AZ ${server["OS-EXT-AZ:availability_zone"]}, not ACTIVE in ${az}`,
                    );
                    return;
                }
                const disk = await rbd(`info --format json vms/${server.id}_disk`);
                if (disk.code !== 0) {
                    fail(`server ${server.id}: no root disk vms/${server.id}_disk on site ${s.name}'s Ceph`);
                    return;
                }
                const parent = (
                    JSON.parse(disk.stdout) as { parent?: { pool: string; image: string; snapshot: string } }
                ).parent;
                r.cowBoot = parent?.pool === "images" && parent.image === report.image && parent.snapshot === "snap";
                if (!r.cowBoot)
                    fail(
                        `server ${server.id}: root disk's parent is ${parent ? `${parent.pool}/${parent.image}@${parent.snapshot}` : "none"}, not images/${report.image}@snap`,
                    );
                log(`site ${s.name}: ${r.error ?? "ok"}`);
            }),
        );
    } catch (e) {
        report.error = (e as Error).message;
    } finally {
        if (!opts.keep) {
            if (servers.length)
                await run(`openstack server delete ${servers.join(" ")}`, 120_000).catch(() => undefined);
            if (report.image) {
                const d = await run(`glance image-delete ${report.image}`, 120_000).catch((e: Error) => ({
                    code: -1,
                    stderr: e.message,
                    stdout: "",
                }));
                if (d.code !== 0) log(`cleanup: glance image-delete ${report.image} failed: ${d.stderr.trim()}`);
            }
        }
    }
    return finish();
}
