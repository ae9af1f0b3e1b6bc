// The cephadm orchestrator of a site's Ceph cluster, as `ceph orch …` and `ceph osd tree` answer
// it inside `cephadm shell` on a node (lab/undercloud/nodes.ts). The lab's real mini cluster has one
// mon and one OSD and no mgr, so the orchestrator's view (hosts, labels, one OSD per OSD host, the
// OSD removal queue) is the lab's bookkeeping in state.json (`CephClusterState.orch`), kept as
// cephadm would: `ceph orch osd rm` drains an OSD in a simulated minute when its PGs can go to
// OSDs of other hosts (at least the pool size of them remain), else it stays `draining`;
// `ceph orch host rm` refuses a host that still runs daemons; a `_no_schedule` label removes the
// host's mon and mgr when another mon host remains (cephadm never removes the last mon).
import type { CephClusterState, LabState, OrchState } from "../state";
import { simMs } from "./util";

/** A command's answer: exit code, stdout, stderr. */
export interface Answer {
    code: number;
    stdout: string;
    stderr: string;
}

const ok = (stdout: string): Answer => ({ code: 0, stdout, stderr: "" });
const fail = (code: number, stderr: string): Answer => ({ code, stdout: "", stderr });

/**
 * Hosts of a `ceph deploy` (ceph_spec_bootstrap's host specs) merged into the orchestrator: new
 * hosts are added with one OSD each when labelled `osd`; hosts already known keep their OSDs;
 * hosts `ceph orch host rm` removed come back only if the spec names them again.
 */
export function mergeOrchHosts(
    c: CephClusterState,
    hosts: Array<{ hostname: string; addr: string; labels: string[] }>,
    poolSize: number,
): OrchState {
    const o: OrchState = c.orch ?? { hosts: [], osds: [], removals: [], poolSize, nextOsdId: 0 };
    o.poolSize = poolSize;
    for (const h of hosts) {
        const known = o.hosts.find((x) => x.hostname === h.hostname);
        if (known) {
            known.addr = h.addr;
            known.labels = [...new Set([...h.labels, ...known.labels.filter((l) => l === "_no_schedule")])];
        } else {
            o.hosts.push({ hostname: h.hostname, addr: h.addr, labels: [...h.labels] });
        }
        if (h.labels.includes("osd") && !o.osds.some((x) => x.host === h.hostname)) {
            o.osds.push({ id: o.nextOsdId++, host: h.hostname });
        }
    }
    c.orch = o;
    return o;
}

/** OSD hosts whose OSDs are not being removed. */
function stayingOsdHosts(o: OrchState): Set<string> {
    return new Set(o.osds.filter((x) => !o.removals.some((r) => r.id === x.id)).map((x) => x.host));
}

/**
 * Applies the passage of time: removals whose drain is over purge their OSD (zapped disks are
 * clean: the node's `disksDirty` goes). A drain ends only when the PGs have somewhere to go.
 */
export function settleOrch(s: LabState, c: CephClusterState, now = Date.now()): void {
    const o = c.orch;
    if (!o) return;
    if (stayingOsdHosts(o).size < Math.max(1, o.poolSize)) return;
    const done = o.removals.filter((r) => Date.parse(r.doneAt) <= now);
    for (const r of done) {
        o.osds = o.osds.filter((x) => x.id !== r.id);
        if (r.zap && !o.osds.some((x) => x.host === r.host)) {
            const node = s.nodes.find((n) => n.hostname === r.host && n.stack === c.stack);
            if (node) node.disksDirty = false;
        }
    }
    o.removals = o.removals.filter((r) => !done.includes(r));
}

function monHostsKept(o: OrchState): Set<string> {
    const eligible = o.hosts.filter((h) => h.labels.includes("mon") && !h.labels.includes("_no_schedule"));
    // cephadm never removes the last mon: with no eligible host the labelled ones keep theirs.
    const keep = eligible.length > 0 ? eligible : o.hosts.filter((h) => h.labels.includes("mon"));
    return new Set(keep.map((h) => h.hostname));
}

/** The daemons cephadm runs on a host (what `ceph orch ps <host>` lists). */
export function hostDaemons(o: OrchState, host: string): Array<{ type: string; id: string }> {
    const h = o.hosts.find((x) => x.hostname === host);
    if (!h) return [];
    const out: Array<{ type: string; id: string }> = [];
    if (h.labels.includes("mon") && monHostsKept(o).has(host)) {
        out.push({ type: "mon", id: host });
        out.push({ type: "mgr", id: `${host}.lab` });
    }
    for (const x of o.osds.filter((d) => d.host === host)) out.push({ type: "osd", id: String(x.id) });
    return out;
}

/** Splits `--format X` / `-f X` / `--format=X` off an argv. */
function takeFormat(argv: string[]): { args: string[]; format: string } {
    const args: string[] = [];
    let format = "plain";
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if ((a === "--format" || a === "-f") && i + 1 < argv.length) format = argv[++i];
        else if (a.startsWith("--format=")) format = a.slice(9);
        else args.push(a);
    }
    return { args, format };
}

const json = (format: string) => format === "json" || format === "json-pretty";
const dump = (format: string, v: unknown) =>
    format === "json-pretty" ? JSON.stringify(v, null, 4) : JSON.stringify(v);

function table(headers: string[], rows: string[][]): string {
    const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    return [headers, ...rows]
        .map((r) =>
            r
                .map((c, i) => c.padEnd(w[i]))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

/** The subcommands of `ceph` the lab answers from the orchestrator's view; undefined: not one of them. */
export function isOrchCommand(argv: string[]): boolean {
    const { args } = takeFormat(argv);
    return args[0] === "orch" || (args[0] === "osd" && args[1] === "tree");
}

/**
 * `ceph orch …` / `ceph osd tree` (argv after `ceph`) against cluster `c` in state `s` (mutated;
 * the caller saves it). Errors read like the mgr's (`Error EINVAL: …`, exit 22).
 */
export function orchCommand(s: LabState, c: CephClusterState, argv: string[], now = Date.now()): Answer {
    const o = c.orch;
    if (!o) return fail(2, `Error ENOENT: the orchestrator of cluster ${c.name} knows no hosts (ceph deploy first)`);
    settleOrch(s, c, now);
    const { args, format } = takeFormat(argv);
    const words = args.join(" ");
    const einval = (msg: string) => fail(22, `Error EINVAL: ${msg}`);
    const host = (name: string | undefined) => o.hosts.find((h) => h.hostname === name);

    if (words === "osd tree") {
        const hosts = o.hosts.filter((h) => o.osds.some((x) => x.host === h.hostname));
        if (json(format)) {
            const nodes: Record<string, unknown>[] = [
                {
                    id: -1,
                    name: "default",
                    type: "root",
                    type_id: 11,
                    children: hosts.map((_, i) => -2 - i),
                },
            ];
            hosts.forEach((h, i) => {
                const mine = o.osds.filter((x) => x.host === h.hostname);
                nodes.push({
                    id: -2 - i,
                    name: h.hostname,
                    type: "host",
                    type_id: 1,
                    pool_weights: {},
                    children: mine.map((x) => x.id),
                });
                for (const x of mine)
                    nodes.push({
                        id: x.id,
                        device_class: "hdd",
                        name: `osd.${x.id}`,
                        type: "osd",
                        type_id: 0,
                        crush_weight: 0.0078,
                        depth: 2,
                        pool_weights: {},
                        exists: 1,
                        status: "up",
                        reweight: 1,
                        primary_affinity: 1,
                    });
            });
            return ok(dump(format, { nodes, stray: [] }) + "\n");
        }
        const rows: string[][] = [["-1", "", `${(0.0078 * o.osds.length).toFixed(5)}`, "root default", "", "", ""]];
        hosts.forEach((h, i) => {
            const mine = o.osds.filter((x) => x.host === h.hostname);
            rows.push([String(-2 - i), "", (0.0078 * mine.length).toFixed(5), `    host ${h.hostname}`, "", "", ""]);
            for (const x of mine)
                rows.push([String(x.id), "hdd", "0.00780", `        osd.${x.id}`, "up", "1.00000", "1.00000"]);
        });
        return ok(table(["ID", "CLASS", "WEIGHT", "TYPE NAME", "STATUS", "REWEIGHT", "PRI-AFF"], rows) + "\n");
    }

    if (words === "orch host ls") {
        if (json(format))
            return ok(
                dump(
                    format,
                    o.hosts.map((h) => ({ addr: h.addr, hostname: h.hostname, labels: h.labels, status: "" })),
                ) + "\n",
            );
        return ok(
            table(
                ["HOST", "ADDR", "LABELS", "STATUS"],
                o.hosts.map((h) => [h.hostname, h.addr, h.labels.join(" "), ""]),
            ) + `\n${o.hosts.length} hosts in cluster\n`,
        );
    }

    if (args[0] === "orch" && args[1] === "host" && args[2] === "label" && (args[3] === "add" || args[3] === "rm")) {
        if (args.length !== 6) return einval(`usage: ceph orch host label ${args[3]} <hostname> <label>`);
        const h = host(args[4]);
        if (!h) return fail(2, `Error ENOENT: host ${args[4]} does not exist`);
        if (args[3] === "add") {
            if (!h.labels.includes(args[5])) h.labels.push(args[5]);
            return ok(`Added label ${args[5]} to host ${h.hostname}\n`);
        }
        h.labels = h.labels.filter((l) => l !== args[5]);
        return ok(`Removed label ${args[5]} from host ${h.hostname}\n`);
    }

    if (args[0] === "orch" && args[1] === "host" && args[2] === "drain") {
        if (args.length !== 4) return einval("usage: ceph orch host drain <hostname>");
        const h = host(args[3]);
        if (!h) return fail(2, `Error ENOENT: host ${args[3]} does not exist`);
        if (!h.labels.includes("_no_schedule")) h.labels.push("_no_schedule");
        const ids = o.osds.filter((x) => x.host === h.hostname).map((x) => x.id);
        scheduleRemovals(o, ids, false, now);
        return ok(
            `Scheduled to remove the following daemons from host '${h.hostname}'\n` +
                hostDaemons(o, h.hostname)
                    .map((d) => `${d.type} ${d.id}`)
                    .join("\n") +
                "\n",
        );
    }

    if (args[0] === "orch" && args[1] === "host" && args[2] === "rm") {
        const rest = args.slice(3);
        if (rest.length !== 1)
            return einval("usage: ceph orch host rm <hostname> (the lab takes no --force/--offline)");
        const h = host(rest[0]);
        if (!h) return fail(2, `Error ENOENT: host ${rest[0]} does not exist`);
        const daemons = hostDaemons(o, h.hostname);
        if (daemons.length > 0)
            return einval(
                `Not allowed to remove ${h.hostname} from cluster. The following daemons are running in the host:\n` +
                    table(
                        ["type", "id"],
                        daemons.map((d) => [d.type, d.id]),
                    ) +
                    `\n\nPlease run 'ceph orch host drain ${h.hostname}' to remove daemons from host`,
            );
        o.hosts = o.hosts.filter((x) => x !== h);
        const node = s.nodes.find((n) => n.hostname === h.hostname && n.stack === c.stack);
        if (node) c.hosts = c.hosts.filter((x) => x !== node.name);
        return ok(`Removed  host '${h.hostname}'\n`);
    }

    if (args[0] === "orch" && args[1] === "ps") {
        let filter: string | undefined;
        let type: string | undefined;
        const rest = args.slice(2);
        for (let i = 0; i < rest.length; i++) {
            if (rest[i] === "--hostname") filter = rest[++i];
            else if (rest[i] === "--daemon-type" || rest[i] === "--daemon_type") type = rest[++i];
            else if (!rest[i].startsWith("-") && filter === undefined) filter = rest[i];
            else return einval(`ceph orch ps: unsupported argument ${rest[i]}`);
        }
        const rows = o.hosts
            .filter((h) => filter === undefined || h.hostname === filter)
            .flatMap((h) => hostDaemons(o, h.hostname).map((d) => ({ ...d, hostname: h.hostname })))
            .filter((d) => type === undefined || d.type === type);
        if (json(format))
            return ok(
                dump(
                    format,
                    rows.map((d) => ({
                        daemon_type: d.type,
                        daemon_id: d.id,
                        daemon_name: `${d.type}.${d.id}`,
                        hostname: d.hostname,
                        status: 1,
                        status_desc: "running",
                    })),
                ) + "\n",
            );
        if (rows.length === 0) return ok("No daemons reported\n");
        return ok(
            table(
                ["NAME", "HOST", "STATUS"],
                rows.map((d) => [`${d.type}.${d.id}`, d.hostname, "running"]),
            ) + "\n",
        );
    }

    if (words === "orch osd rm status") {
        const rows = o.removals.map((r) => ({
            osd_id: r.id,
            hostname: r.host,
            state: "draining",
            pg_count: 16,
            replace: false,
            force: false,
            zap: r.zap,
            drain_started_at: r.startedAt,
        }));
        if (json(format)) return ok(dump(format, rows) + "\n");
        if (rows.length === 0) return ok("No OSD remove/replace operations reported\n");
        return ok(
            table(
                ["OSD", "HOST", "STATE", "PGS", "REPLACE", "FORCE", "ZAP", "DRAIN STARTED AT"],
                rows.map((r) => [
                    String(r.osd_id),
                    r.hostname,
                    r.state,
                    String(r.pg_count),
                    "False",
                    "False",
                    r.zap ? "True" : "False",
                    r.drain_started_at,
                ]),
            ) + "\n",
        );
    }

    if (args[0] === "orch" && args[1] === "osd" && args[2] === "rm" && args[3] !== "status") {
        const rest = args.slice(3);
        let zap = false;
        const ids: number[] = [];
        for (const a of rest) {
            if (a === "--zap") zap = true;
            else if (a === "--force") continue;
            else if (/^\d+$/.test(a)) ids.push(Number(a));
            else
                return einval(
                    `ceph orch osd rm: unsupported argument ${a} (the lab takes <osd_id>... [--zap] [--force])`,
                );
        }
        if (ids.length === 0) return einval("usage: ceph orch osd rm <osd_id>... [--zap] [--force]");
        const unknown = ids.filter((id) => !o.osds.some((x) => x.id === id));
        if (unknown.length) return einval(`Unable to find OSDs: ${unknown.map((i) => `osd.${i}`).join(", ")}`);
        scheduleRemovals(o, ids, zap, now);
        return ok("Scheduled OSD(s) for removal.\n");
    }

    return fail(
        22,
        `Error EINVAL: the lab's orchestrator answers only: ceph orch host ls | host label add|rm <host> <label> | ` +
            `host drain <host> | host rm <host> | ps [<host>] | osd rm <id>... [--zap] | osd rm status, and ceph osd tree ` +
            `(got: ceph ${argv.join(" ")})`,
    );
}

function scheduleRemovals(o: OrchState, ids: number[], zap: boolean, now: number): void {
    for (const id of ids) {
        if (o.removals.some((r) => r.id === id)) continue;
        const osd = o.osds.find((x) => x.id === id)!;
        o.removals.push({
            id,
            host: osd.host,
            zap,
            startedAt: new Date(now).toISOString(),
            doneAt: new Date(now + Math.max(500, simMs(1))).toISOString(),
        });
    }
}
