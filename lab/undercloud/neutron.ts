// The lab undercloud's Neutron, read-only: what real tripleoclient asks the undercloud's Neutron
// without hardware — `utils.get_ctlplane_attrs()` (overcloud deploy: CtlplaneNetworkAttributes;
// ceph deploy: the ctlplane for /etc/hosts) looks up the `ctlplane` network and its subnets through
// the `undercloud` cloud of clouds.yaml. It serves the ctlplane (CTLPLANE) and the networks `network
// provision` created (lab state), on 127.0.0.1 and the port in `<LAB_DIR>/neutron.json`; `lab start`
// runs it (`neutronServe`), `lab stop` stops it.
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { parse } from "yaml";
import { paths, writeFileAtomic } from "../paths";
import { readState } from "../state";
import { CTLPLANE } from "./metal";

interface NeutronFile {
    port: number;
    pid?: number;
}

function neutronFile(): string {
    return path.join(paths().dir, "neutron.json");
}

export function readNeutron(): NeutronFile | undefined {
    try {
        return JSON.parse(fs.readFileSync(neutronFile(), "utf8")) as NeutronFile;
    } catch {
        return undefined;
    }
}

interface Net {
    id: string;
    name: string;
    mtu: number;
    dns_domain: string;
    tags: string[];
    subnets: Array<{ id: string; name: string; cidr: string; gateway_ip: string | null; vlan?: number }>;
}

/** The undercloud's networks: ctlplane, then those `network provision` made. */
export function networks(): Net[] {
    const out: Net[] = [
        {
            id: "ctlplane",
            name: "ctlplane",
            mtu: 1500,
            dns_domain: "ctlplane.localdomain.",
            tags: [CTLPLANE.cidr],
            subnets: [
                { id: "ctlplane-subnet", name: "ctlplane-subnet", cidr: CTLPLANE.cidr, gateway_ip: CTLPLANE.gateway },
            ],
        },
    ];
    const st = readState().network;
    if (!st) return out;
    const data = (parse(st.dataText) ?? []) as Array<{
        name: string;
        name_lower?: string;
        mtu?: number;
        subnets?: Record<string, { ip_subnet?: string; gateway_ip?: string; vlan?: number }>;
    }>;
    data.forEach((n, idx) => {
        const lower = n.name_lower ?? n.name.toLowerCase();
        out.push({
            id: lower,
            name: lower,
            mtu: n.mtu ?? 1500,
            dns_domain: `${lower.replace(/_/g, "")}.localdomain.`,
            tags: [`tripleo_network_name=${n.name}`, `tripleo_net_idx=${idx}`],
            subnets: Object.entries(n.subnets ?? {}).map(([name, s]) => ({
                id: name,
                name,
                cidr: s.ip_subnet ?? "",
                gateway_ip: s.gateway_ip ?? null,
                vlan: s.vlan,
            })),
        });
    });
    return out;
}

function networkView(n: Net) {
    return {
        id: n.id,
        name: n.name,
        mtu: n.mtu,
        dns_domain: n.dns_domain,
        tags: n.tags,
        subnets: n.subnets.map((s) => s.id),
        status: "ACTIVE",
        admin_state_up: true,
        shared: false,
        project_id: "admin",
    };
}

function subnetView(n: Net, s: Net["subnets"][number]) {
    return {
        id: s.id,
        name: s.name,
        network_id: n.id,
        cidr: s.cidr,
        gateway_ip: s.gateway_ip,
        host_routes: [],
        dns_nameservers: [],
        ip_version: 4,
        enable_dhcp: n.name === "ctlplane",
        tags: s.vlan !== undefined ? [`tripleo_vlan_id=${s.vlan}`] : [],
        segment_id: null,
    };
}

/** Answers one request (exported for the unit test). */
export function answer(method: string, url: string, base: string): { status: number; body: unknown } {
    const u = new URL(url, base);
    const parts = u.pathname.split("/").filter(Boolean);
    if (method !== "GET") return { status: 405, body: { NeutronError: { message: "the lab's Neutron is read-only" } } };
    if (parts.length === 0)
        return {
            status: 200,
            body: { versions: [{ id: "v2.0", status: "CURRENT", links: [{ href: `${base}/v2.0/`, rel: "self" }] }] },
        };
    if (parts[0] !== "v2.0") return { status: 404, body: { NeutronError: { message: "not found" } } };
    const nets = networks();
    const filter = <T extends { name: string; id: string }>(xs: T[]) =>
        xs.filter(
            (x) =>
                (!u.searchParams.has("name") || u.searchParams.get("name") === x.name) &&
                (!u.searchParams.has("id") || u.searchParams.get("id") === x.id),
        );
    if (parts.length === 1) return { status: 200, body: { resources: [] } };
    const [, kind, id] = parts;
    if (kind === "networks") {
        if (!id) return { status: 200, body: { networks: filter(nets).map(networkView) } };
        const n = nets.find((x) => x.id === id);
        return n
            ? { status: 200, body: { network: networkView(n) } }
            : {
                  status: 404,
                  body: { NeutronError: { type: "NetworkNotFound", message: `Network ${id} could not be found.` } },
              };
    }
    if (kind === "subnets") {
        const all = nets.flatMap((n) => n.subnets.map((s) => subnetView(n, s)));
        if (!id) return { status: 200, body: { subnets: filter(all) } };
        const s = all.find((x) => x.id === id);
        return s
            ? { status: 200, body: { subnet: s } }
            : {
                  status: 404,
                  body: { NeutronError: { type: "SubnetNotFound", message: `Subnet ${id} could not be found.` } },
              };
    }
    // No overcloud ports, segments or routers exist on the lab undercloud's Neutron.
    if (["ports", "segments", "routers", "floatingips"].includes(kind)) return { status: 200, body: { [kind]: [] } };
    return { status: 404, body: { NeutronError: { message: `The resource could not be found: ${kind}` } } };
}

/** Runs the server (foreground; `lab start` starts it detached) and records its port and pid. */
export async function neutronServe(): Promise<void> {
    const server = http.createServer((req, res) => {
        const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
        let r: { status: number; body: unknown };
        try {
            r = answer(req.method ?? "GET", req.url ?? "/", base);
        } catch (e) {
            r = { status: 500, body: { NeutronError: { message: String(e) } } };
        }
        res.writeHead(r.status, { "content-type": "application/json" });
        res.end(JSON.stringify(r.body));
    });
    const want = readNeutron()?.port ?? 0;
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(want, "127.0.0.1", resolve);
    });
    const port = (server.address() as { port: number }).port;
    writeFileAtomic(neutronFile(), JSON.stringify({ port, pid: process.pid }) + "\n");
    process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
