// Networks, VIPs, baremetal nodes: `openstack overcloud network provision`, `network vip provision`,
// `node provision`, `node unprovision`, `openstack baremetal node ...`, `metalsmith ...`,
// `openstack overcloud roles generate|list` (reference §3.2, §3.8, §4.1, §7, §8 checks 2, 3, 12).
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { stopCephCluster, wipeCephCluster } from "../ceph";
import { BaremetalNode, LabState, StackRecord, readState, withState } from "../state";
import { ROLES } from "./roles";
import { removeComputeServicesOf } from "./services";
import {
    COMMON_OPTS,
    CommandError,
    absPath,
    ansible,
    confirm,
    err,
    home,
    out,
    parseArgs,
    printList,
    printShow,
    readYamlFile,
    simMs,
    sleep,
    str,
    workingDir,
    writeOut,
} from "./util";

export type Handler = (prog: string, argv: string[]) => Promise<number>;

interface NetworkDef {
    name: string;
    name_lower?: string;
    vip?: boolean;
    mtu?: number;
    subnets?: Record<string, { ip_subnet?: string; vlan?: number; gateway_ip?: string }>;
}

function readNetworkData(file: string): NetworkDef[] {
    const p = absPath(file);
    if (!fs.existsSync(p)) throw new CommandError(`ERROR: Network data file ${p} not found`);
    const data = parse(fs.readFileSync(p, "utf8")) as NetworkDef[];
    if (!Array.isArray(data)) throw new CommandError(`ERROR: Network data file ${p} is not a list of networks`);
    for (const n of data)
        if (!n || typeof n.name !== "string")
            throw new CommandError(`ERROR: Network data file ${p}: every network needs a name`);
    return data;
}

const lowerOf = (n: NetworkDef) => n.name_lower ?? n.name.toLowerCase();

export const networkProvision: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["-o", "--output"], value: true },
            { names: ["-y", "--yes"] },
            { names: ["--templates"], value: true },
            { names: ["--stack"], value: true },
        ],
        1,
        0,
    );
    const file = a.positionals[0];
    if (!file)
        throw new CommandError(
            `usage: ${prog} [-h] --output <deployed_networks.yaml> [--yes] [--templates TEMPLATES] <network_data.yaml>\n${prog}: error: the following arguments are required: <network_data.yaml>`,
            2,
        );
    const output = str(a.opts.output);
    if (!output) throw new CommandError(`${prog}: error: the following arguments are required: -o/--output`, 2);
    const outPath = absPath(output);
    if (!fs.existsSync(absPath(file))) throw new CommandError(`Network configuration file does not exist: ${file}`);
    if (fs.existsSync(outPath) && !a.opts.yes && !confirm(`Overwrite existing file ${output} [y/N]?`))
        throw new CommandError(`Will not overwrite existing file: ${output}`);
    await provisionNetworks({
        network_data_path: absPath(file),
        network_deployed_path: outPath,
        overwrite: true,
        templates: str(a.opts.templates) ?? DEFAULT_TEMPLATES,
    });
    out(`Network provision output written to ${outPath}`);
    return 0;
};

/** tripleoclient's default `--templates`. */
export const DEFAULT_TEMPLATES = "/usr/share/openstack-tripleo-heat-templates";

/** Extra vars of cli-overcloud-network-provision.yaml (tripleoclient v2/overcloud_network.py). */
export interface NetworkProvisionVars {
    network_data_path: string;
    network_deployed_path: string;
    overwrite: boolean;
    templates: string;
}

/**
 * cli-overcloud-network-provision.yaml: creates the networks and subnets (the lab's Neutron: its
 * state), then writes what tripleo_network_populate_environment returns: the deployed-networks env.
 */
export async function provisionNetworks(v: NetworkProvisionVars): Promise<void> {
    if (fs.existsSync(v.network_deployed_path) && !v.overwrite)
        throw new CommandError(`Output file ${v.network_deployed_path} already exists`);
    const nets = readNetworkData(v.network_data_path);
    const text = fs.readFileSync(v.network_data_path, "utf8");
    await ansible(
        "Overcloud Network Provision",
        1,
        ["Create/Update composable networks", "Populate environment", "Write deployed networks environment file"],
        ["localhost"],
    );
    withState((s) => {
        s.network = {
            dataFile: v.network_data_path,
            dataText: text,
            networks: Object.fromEntries(
                nets.map((n) => [
                    lowerOf(n),
                    { subnets: Object.keys(n.subnets ?? {}), cidr: Object.values(n.subnets ?? {})[0]?.ip_subnet ?? "" },
                ]),
            ),
        };
    });
    writeOut(v.network_deployed_path, stringify(deployedNetworksEnv(nets, v.templates)));
}

/** tripleo_network_populate_environment's environment (keys by name_lower, Neutron's attributes). */
export function deployedNetworksEnv(nets: NetworkDef[], templates: string): Record<string, unknown> {
    const attrs: Record<string, unknown> = {};
    for (const n of nets) {
        const sub = Object.entries(n.subnets ?? {});
        attrs[lowerOf(n)] = {
            network: {
                dns_domain: `${lowerOf(n).replace(/_/g, "")}.mydomain.tld.`,
                mtu: n.mtu ?? 1500,
                name: lowerOf(n),
                tags: [
                    `tripleo_net_idx=${nets.indexOf(n)}`,
                    `tripleo_network_name=${n.name}`,
                    `tripleo_vip=${!!n.vip}`,
                ],
            },
            subnets: Object.fromEntries(
                sub.map(([k, s]) => [
                    k,
                    {
                        cidr: s.ip_subnet,
                        dns_nameservers: [],
                        gateway_ip: s.gateway_ip ?? null,
                        host_routes: [],
                        ip_version: 4,
                        name: k,
                        tags: [`tripleo_vlan_id=${s.vlan ?? 1}`],
                    },
                ]),
            ),
        };
    }
    return {
        resource_registry: { "OS::TripleO::Network": path.join(templates, "network/deployed_networks.yaml") },
        parameter_defaults: {
            DeployedNetworkEnvironment: {
                net_attributes_map: attrs,
                net_cidr_map: Object.fromEntries(
                    nets.map((n) => [lowerOf(n), Object.values(n.subnets ?? {}).map((x) => x.ip_subnet)]),
                ),
                net_ip_version_map: Object.fromEntries(nets.map((n) => [lowerOf(n), 4])),
            },
        },
    };
}

export const vipProvision: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["-o", "--output"], value: true },
            { names: ["-y", "--yes"] },
            // required=True in tripleoclient (its env default never applies)
            { names: ["--stack"], value: true, required: true },
            { names: ["--templates"], value: true },
            { names: ["--working-dir"], value: true },
        ],
        1,
        0,
    );
    const file = a.positionals[0];
    const output = str(a.opts.output);
    if (!file || !output)
        throw new CommandError(`${prog}: error: the following arguments are required: <vip_data.yaml>, -o/--output`, 2);
    const stack = String(a.opts.stack);
    if (!fs.existsSync(absPath(file))) throw new CommandError(`Virtual IPs configuration file does not exist: ${file}`);
    if (fs.existsSync(absPath(output)) && !a.opts.yes && !confirm(`Overwrite existing file ${output} [y/N]?`))
        throw new CommandError(`Will not overwrite existing file: ${output}`);
    await provisionVips({
        stack_name: stack,
        vip_data_path: absPath(file),
        vip_deployed_path: absPath(output),
        overwrite: true,
        templates: str(a.opts.templates) ?? DEFAULT_TEMPLATES,
    });
    const wd = workingDir(stack, str(a.opts.working_dir));
    fs.mkdirSync(wd, { recursive: true });
    fs.copyFileSync(absPath(file), path.join(wd, `tripleo-${stack}-virtual-ips.yaml`));
    return 0;
};

/** Extra vars of cli-overcloud-network-vip-provision.yaml. */
export interface VipProvisionVars {
    stack_name: string;
    vip_data_path: string;
    vip_deployed_path: string;
    overwrite: boolean;
    templates: string;
}

/** The lab's ctlplane (the undercloud's provisioning network). */
export const CTLPLANE = { cidr: "192.168.24.0/24", gateway: "192.168.24.1" };

/**
 * cli-overcloud-network-vip-provision.yaml: one VIP port per entry (the lab's Neutron: a stable
 * address per stack and network), then tripleo_overcloud_network_vip_populate_environment's env:
 * `OS::TripleO::Network::Ports::<Net>VipPort` for every entry (ctlplane → ControlPlane),
 * `ControlPlaneVipData` for ctlplane and `VipPortMap` for the others.
 */
export async function provisionVips(v: VipProvisionVars): Promise<void> {
    if (fs.existsSync(v.vip_deployed_path) && !v.overwrite)
        throw new CommandError(`Output file ${v.vip_deployed_path} already exists`);
    const vips = (readYamlFile(v.vip_data_path, "Virtual IPs") ?? []) as Array<{
        network: string;
        dns_name?: string;
        ip_address?: string;
        name?: string;
    }>;
    const st = readState();
    if (!st.network) throw new CommandError(`Unable to create vip environment. No networks found`);
    const stack = v.stack_name;
    for (const x of vips)
        if (x.network !== "ctlplane" && !st.network.networks[x.network])
            throw new CommandError(`Network ${x.network} for Virtual IP spec ${JSON.stringify(x)} not found`);
    await ansible(
        "Overcloud Virtual IPs Provision",
        1,
        [
            "Create/Update Overcloud Virtual IPs",
            "Populate Overcloud Virtual IPs environment",
            "Write deployed Virtual IPs environment file",
        ],
        ["localhost"],
    );
    const host = 100 + (stackIndex(st, stack) % 100);
    const registry: Record<string, string> = {};
    const portMap: Record<string, unknown> = {};
    let ctlplane: Record<string, unknown> = {};
    const upper = (lower: string) =>
        readNetworkDataText(st.network!.dataText).find((n) => lowerOf(n) === lower)?.name ?? lower;
    for (const x of vips) {
        const netUpper = x.network === "ctlplane" ? "ControlPlane" : upper(x.network);
        registry[`OS::TripleO::Network::Ports::${netUpper}VipPort`] = path.join(
            v.templates,
            `network/ports/deployed_vip_${x.network}.yaml`,
        );
        if (x.network === "ctlplane") {
            ctlplane = {
                fixed_ips: [{ ip_address: x.ip_address ?? CTLPLANE.cidr.replace(/\.0\/\d+$/, `.${host}`) }],
                name: x.name ?? "control_virtual_ip",
                network: { tags: [CTLPLANE.cidr] },
                subnets: [{ ip_version: 4 }],
            };
        } else {
            const cidr = st.network.networks[x.network].cidr;
            const ip = x.ip_address ?? cidr.replace(/\.0\/\d+$/, `.${host}`);
            portMap[x.network] = {
                ip_address: ip,
                ip_address_uri: ip,
                ip_subnet: `${ip}/${cidr.split("/")[1] ?? "24"}`,
            };
        }
    }
    writeOut(
        v.vip_deployed_path,
        stringify({
            resource_registry: registry,
            parameter_defaults: { VipPortMap: portMap, ControlPlaneVipData: ctlplane },
        }),
    );
}

function readNetworkDataText(text: string): NetworkDef[] {
    return (parse(text) as NetworkDef[]) ?? [];
}

function stackIndex(s: LabState, stack: string): number {
    const i = s.stacks.findIndex((x) => x.name === stack);
    return i >= 0 ? i : s.stacks.length;
}

interface Instance {
    hostname?: string;
    name?: string;
    provisioned?: boolean;
    networks?: NetSpec[];
}
interface NetSpec {
    network: string;
    subnet?: string;
    vif?: boolean;
    fixed_ip?: string;
}
interface RoleEntry {
    name: string;
    count?: number;
    hostname_format?: string;
    instances?: Instance[];
    defaults?: Record<string, unknown> & { networks?: NetSpec[] };
}

interface Planned {
    role: string;
    index: number;
    hostname: string;
    node?: string;
    generated: string;
    networks: NetSpec[];
    provisioned: boolean;
}

function readBaremetal(file: string): RoleEntry[] {
    const p = absPath(file);
    const data = readYamlFile(p, "Baremetal deployment") as RoleEntry[];
    if (!Array.isArray(data)) throw new CommandError(`ERROR: ${p}: baremetal deployment must be a list of roles`);
    return data;
}

/**
 * tripleo_baremetal_expand_roles: validates and expands roles into instances (§7 rules), with the
 * index semantics of tripleo-ansible's module_utils/baremetal_deploy.py `expand()`: a role's
 * instances keep their list positions (a `provisioned: false` entry keeps its index, so the others'
 * HostnameMap entries do not shift), generated instances are added until `count` instances are
 * provisioned, each instance takes the first free generated name `<format>` at or after the running
 * index, and an unprovisioned instance's index goes to `<Role>RemovalPolicies`.
 */
export function expandRoles(stack: string, roles: RoleEntry[]): Planned[] {
    const planned: Planned[] = [];
    const ips = new Set<string>();
    const nodes = new Set<string>();
    const hostnameMap = new Map<string, string>();
    for (const r of roles) {
        if (!r || typeof r.name !== "string")
            throw new CommandError(`ERROR: Baremetal deployment: every role needs a name`);
        const count = r.count ?? 1;
        const instances = r.instances ?? [];
        const defaults = r.defaults ?? {};
        for (const k of ["hostname", "name", "provisioned"]) {
            if (k in defaults) throw new CommandError(`ERROR: Role ${r.name}: Cannot specify ${k} in defaults`);
        }
        // validate_roles: only provisioned entries count against `count`.
        const wanted = instances.filter((i) => i.provisioned !== false);
        if (wanted.length > count)
            throw new CommandError(
                `ERROR: Role ${r.name}: Number of instance entries ${wanted.length} cannot be greater than count ${count}`,
            );
        // validate_instances: per role, hostnames and node names unique.
        const roleHosts = new Set<string>();
        for (const inst of instances) {
            const name = inst.hostname ?? inst.name;
            if (name !== undefined) {
                if (roleHosts.has(name)) throw new CommandError(`ERROR: Hostname ${name} used more than once`);
                roleHosts.add(name);
            }
            if (inst.name) {
                if (nodes.has(inst.name))
                    throw new CommandError(`ERROR: Node ${inst.name} is requested more than once`);
                nodes.add(inst.name);
            }
            for (const n of inst.networks ?? defaults.networks ?? []) {
                if (n.fixed_ip) {
                    if (ips.has(n.fixed_ip))
                        throw new CommandError(`ERROR: Fixed IP ${n.fixed_ip} is used more than once`);
                    ips.add(n.fixed_ip);
                }
            }
        }
        const format =
            r.hostname_format ?? `%stackname%-${r.name === "Compute" ? "novacompute" : r.name.toLowerCase()}-%index%`;
        const gen = (i: number) => format.replace("%index%", String(i)).replace("%stackname%", stack);
        const potential = new Map<string, number>();
        for (let i = 0; i < count + instances.length; i++) potential.set(gen(i), i);
        const roleInstances: Instance[] = instances.map((i) => ({ ...i }));
        for (const inst of roleInstances) {
            const h = inst.hostname ?? inst.name;
            if (h !== undefined && potential.has(h)) hostnameMap.set(h, h);
        }
        while (roleInstances.filter((i) => i.provisioned !== false).length < count) roleInstances.push({});
        let index = 0;
        for (const inst of roleInstances) {
            const provisioned = inst.provisioned !== false;
            let hostname = inst.hostname ?? inst.name;
            let genName: string | undefined;
            if (hostname === undefined || !hostnameMap.has(hostname)) {
                while (genName === undefined || hostnameMap.has(genName)) genName = gen(index++);
                hostname ??= genName;
                hostnameMap.set(genName, hostname);
            }
            const generated = genName ?? hostname;
            if (planned.some((p) => p.hostname === hostname))
                throw new CommandError(`ERROR: Hostname ${hostname} used more than once`);
            planned.push({
                role: r.name,
                index: potential.get(generated) ?? -1,
                hostname,
                node: inst.name,
                generated,
                networks: inst.networks ?? defaults.networks ?? [],
                provisioned,
            });
        }
    }
    return planned;
}

function findNode(s: LabState, ref: string): BaremetalNode | undefined {
    const exact = s.nodes.filter((n) => n.name === ref || n.uuid === ref);
    if (exact.length > 1) throw new CommandError(`ERROR: Node name ${ref} is ambiguous`);
    return exact[0];
}

function ensureStack(s: LabState, name: string): StackRecord {
    let st = s.stacks.find((x) => x.name === name);
    if (!st) {
        st = { name, status: "NODES_PROVISIONED", roles: [], deployed: false };
        s.stacks.push(st);
    }
    return st;
}

export const nodeProvision: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["--stack"], value: true, default: "overcloud" },
            { names: ["-o", "--output"], value: true },
            { names: ["-y", "--yes"] },
            { names: ["--network-config"] },
            { names: ["--network-ports"] },
            { names: ["--concurrency"], value: true, default: "20", int: true },
            { names: ["--timeout"], value: true, default: "3600", int: true },
            { names: ["--overcloud-ssh-user"], value: true },
            { names: ["--overcloud-ssh-key"], value: true },
            { names: ["--templates"], value: true },
            { names: ["--working-dir"], value: true },
            { names: ["--ansible-playbook-verbosity"], value: true },
        ],
        1,
    );
    const file = a.positionals[0];
    if (!file)
        throw new CommandError(
            `usage: ${prog} [-h] [--stack STACK] [-o OUTPUT] [-y] <baremetal_deployment.yaml>\n${prog}: error: the following arguments are required: <baremetal_deployment.yaml>`,
            2,
        );
    const stack = String(a.opts.stack);
    const wd = workingDir(stack, str(a.opts.working_dir));
    const output = str(a.opts.output) ?? path.join(wd, `tripleo-${stack}-baremetal-deployment-environment.yaml`);
    const outPath = absPath(output);
    if (fs.existsSync(outPath) && !a.opts.yes && !confirm(`Overwrite existing file ${output} [y/N]?`))
        throw new CommandError(`Will not overwrite existing file: ${output}`);
    const roles = readBaremetal(file);
    const vars: NodeProvisionVars = {
        stack_name: stack,
        baremetal_deployment: roles,
        baremetal_deployed_path: outPath,
        working_dir: wd,
        templates: str(a.opts.templates) ?? DEFAULT_TEMPLATES,
        configure_networking: !!a.opts.network_config,
        overwrite: true,
    };
    await provisionNodes(vars, expandForProvision(stack, roles));
    fs.mkdirSync(wd, { recursive: true });
    fs.copyFileSync(absPath(file), path.join(wd, `tripleo-${stack}-baremetal-deployment.yaml`));
    out(`Nodes deployed successfully, add ${output} to your deployment environment`);
    return 0;
};

/** Extra vars of cli-overcloud-node-provision.yaml (tripleoclient v2/overcloud_node.py ProvisionNode). */
export interface NodeProvisionVars {
    stack_name: string;
    baremetal_deployment: RoleEntry[];
    baremetal_deployed_path: string;
    working_dir: string;
    templates: string;
    configure_networking: boolean;
    overwrite: boolean;
}

/** What tripleo_baremetal_expand_roles returns for `state: present` (the instances to provision). */
export interface Expanded {
    instances: Array<{ hostname: string; name?: string; networks?: NetSpec[] }>;
    /** `parameter_defaults`: HostnameMap, <Role>HostnameFormat, <Role>Count, <Role>RemovalPolicies. */
    environment: { parameter_defaults?: Record<string, unknown> };
    hostname_role_map: Record<string, string>;
}

/** The lab's own expansion (imitation mode) in the shape of tripleo_baremetal_expand_roles. */
export function expandForProvision(stack: string, roles: RoleEntry[]): Expanded {
    const planned = expandRoles(stack, roles);
    const pd: Record<string, unknown> = { HostnameMap: {} };
    for (const r of roles) {
        const mine = planned.filter((p) => p.role === r.name);
        pd[`${r.name}HostnameFormat`] =
            r.hostname_format ?? `%stackname%-${r.name === "Compute" ? "novacompute" : r.name.toLowerCase()}-%index%`;
        const removed = mine.filter((p) => !p.provisioned && p.index >= 0);
        if (removed.length) pd[`${r.name}RemovalPolicies`] = [{ resource_list: removed.map((p) => p.index) }];
        pd[`${r.name}Count`] = mine.filter((p) => p.provisioned).length;
    }
    const wanted = planned.filter((p) => p.provisioned);
    for (const p of planned) (pd.HostnameMap as Record<string, string>)[p.generated] = p.hostname;
    return {
        instances: wanted.map((p) => ({
            hostname: p.hostname,
            ...(p.node ? { name: p.node } : {}),
            networks: [{ network: "ctlplane", vif: true }, ...p.networks.filter((n) => n.network !== "ctlplane")],
        })),
        environment: { parameter_defaults: pd },
        hostname_role_map: Object.fromEntries(wanted.map((p) => [p.hostname, p.role])),
    };
}

/**
 * cli-overcloud-node-provision.yaml from "Find existing instances" on: allocates and deploys the
 * lab's baremetal nodes (metalsmith/Ironic), creates their ports (Neutron), and writes the
 * environment (tripleo_baremetal_populate_environment + tripleo_network_ports_populate_environment:
 * DeployedServerPortMap, NodePortMap, the port registry) and the stack inventory
 * (tripleo_generate_ansible_inventory).
 */
export async function provisionNodes(v: NodeProvisionVars, x: Expanded): Promise<void> {
    const stack = v.stack_name;
    if (fs.existsSync(v.baremetal_deployed_path) && !v.overwrite)
        throw new CommandError(`Output file ${v.baremetal_deployed_path} already exists`);
    const wanted = x.instances.map((i) => ({ ...i, role: x.hostname_role_map[i.hostname] }));

    // Allocate under the lock: networks exist, nodes and hostnames not taken by another stack.
    const chosen = withState((s) => {
        for (const p of wanted) {
            for (const n of p.networks ?? []) {
                if (n.network === "ctlplane") continue;
                if (!s.network || !s.network.networks[n.network])
                    throw new CommandError(
                        `Network ${n.network} not found${s.network ? "" : ". No networks exist: run 'openstack overcloud network provision' first."}`,
                    );
                if (n.subnet && !s.network.networks[n.network].subnets.includes(n.subnet))
                    throw new CommandError(
                        `Subnet ${n.subnet} of network ${n.network} for instance ${p.hostname} not found.`,
                    );
            }
        }
        const res: Array<{ p: (typeof wanted)[number]; node: BaremetalNode }> = [];
        const taken = new Set<string>();
        for (const p of wanted) {
            const other = s.nodes.find((n) => n.hostname === p.hostname && n.stack !== null && n.stack !== stack);
            if (other)
                throw new CommandError(
                    `Allocation with name ${p.hostname} already exists (used by stack ${other.stack} on node ${other.name}). (HTTP 409)`,
                );
            let node: BaremetalNode | undefined;
            if (p.name) {
                node = findNode(s, p.name);
                if (!node) throw new CommandError(`No node found with name or UUID ${p.name} (instance ${p.hostname})`);
                if (node.stack && (node.stack !== stack || node.hostname !== p.hostname))
                    throw new CommandError(
                        `Node ${node.name} is already allocated to instance ${node.hostname} of stack ${node.stack}; a node can belong to one stack only`,
                    );
            } else {
                node =
                    s.nodes.find((n) => n.stack === stack && n.hostname === p.hostname) ??
                    s.nodes.find(
                        (n) =>
                            n.provisionState === "available" &&
                            !n.stack &&
                            !n.maintenance &&
                            !taken.has(n.name) &&
                            !wanted.some((w) => w.name === n.name),
                    );
                if (!node)
                    throw new CommandError(
                        `Allocation failed for instance ${p.hostname}: No available nodes match the resource class baremetal.`,
                    );
            }
            if (!(node.stack === stack && node.provisionState === "active")) {
                if (node.provisionState !== "available" || node.maintenance)
                    throw new CommandError(
                        `Node ${node.name} (${node.uuid}) is in provision state "${node.provisionState}"${node.maintenance ? " and maintenance" : ""}; it must be "available" to be provisioned.`,
                    );
            }
            taken.add(node.name);
            res.push({ p, node });
        }
        for (const { p, node } of res) {
            // An instance already active on this node is found again, not deployed again (metalsmith).
            if (!(node.stack === stack && node.provisionState === "active"))
                node.deployments = (node.deployments ?? 0) + 1;
            node.stack = stack;
            node.hostname = p.hostname;
            node.role = p.role;
            node.provisionState = "deploying";
        }
        const st = ensureStack(s, stack);
        st.roles = [...new Set(wanted.map((p) => p.role))];
        return res.map(({ p, node }) => ({ p, name: node.name, uuid: node.uuid, ip: node.ctlplaneIp }));
    });

    const hosts = chosen.map((c) => c.p.hostname);
    try {
        await ansible(
            "Overcloud Node Provision",
            15,
            [
                "Find existing instances",
                "Reserve instances",
                "Provision instances",
                "Provision instance network ports",
                "Populate environment",
                "Write environment",
                ...(v.configure_networking ? ["Generate network config for ansible inventory"] : []),
                "Generate ansible inventory",
            ],
            hosts,
        );
    } catch (e) {
        withState((s) => {
            for (const c of chosen) s.nodes.find((n) => n.name === c.name)!.provisionState = "error";
        });
        throw e;
    }
    const netState = readState().network;
    const upper = (lower: string) =>
        netState ? (readNetworkDataText(netState.dataText).find((n) => lowerOf(n) === lower)?.name ?? lower) : lower;
    const registry: Record<string, string> = {
        "OS::TripleO::DeployedServer::ControlPlanePort": path.join(
            v.templates,
            "deployed-server/deployed-neutron-port.yaml",
        ),
    };
    const portMap: Record<string, unknown> = {};
    const nodePortMap: Record<string, Record<string, unknown>> = {};
    for (const c of chosen) {
        portMap[`${c.p.hostname.toLowerCase()}-ctlplane`] = { fixed_ips: [{ ip_address: c.ip }] };
        const hostOctet = Number(c.ip.split(".")[3]);
        nodePortMap[c.p.hostname] = { ctlplane: { ip_address: c.ip, ip_address_uri: c.ip, ip_subnet: `${c.ip}/24` } };
        for (const n of c.p.networks ?? []) {
            if (n.network === "ctlplane") continue;
            const cidr = netState?.networks[n.network]?.cidr ?? "172.16.0.0/24";
            const ip = n.fixed_ip ?? cidr.replace(/\.0\/\d+$/, `.${hostOctet + 40}`);
            nodePortMap[c.p.hostname][n.network] = {
                ip_address: ip,
                ip_address_uri: ip,
                ip_subnet: `${ip}/${cidr.split("/")[1] ?? "24"}`,
            };
            registry[`OS::TripleO::${c.p.role}::Ports::${upper(n.network)}Port`] = path.join(
                v.templates,
                `network/ports/deployed_${n.network}.yaml`,
            );
        }
    }
    writeOut(
        v.baremetal_deployed_path,
        stringify({
            resource_registry: registry,
            parameter_defaults: {
                ...(x.environment.parameter_defaults ?? {}),
                DeployedServerPortMap: portMap,
                NodePortMap: nodePortMap,
            },
        }),
    );
    writeOut(path.join(v.working_dir, "tripleo-ansible-inventory.yaml"), stringify(stackInventory(stack, chosen)));
    if (v.configure_networking)
        writeOut(
            path.join(v.working_dir, "inventory-network-config.yaml"),
            stringify(
                Object.fromEntries(
                    [...new Set(chosen.map((c) => c.p.role))].map((r) => [
                        r,
                        {
                            hosts: Object.fromEntries(
                                chosen.filter((c) => c.p.role === r).map((c) => [c.p.hostname, {}]),
                            ),
                        },
                    ]),
                ),
            ),
        );
    withState((s) => {
        for (const c of chosen) {
            const n = s.nodes.find((y) => y.name === c.name)!;
            n.provisionState = "active";
            n.powerState = "power on";
        }
        const st = ensureStack(s, stack);
        if (st.status === "NODES_UNPROVISIONED" || !st.deployed)
            st.status = st.status === "CEPH_DEPLOYED" ? st.status : "NODES_PROVISIONED";
    });
}

/** tripleo_generate_ansible_inventory (tripleo_common/inventory.py) for provisioned nodes. */
function stackInventory(
    stack: string,
    chosen: Array<{ p: { hostname: string; role: string }; uuid: string; ip: string }>,
): Record<string, unknown> {
    const roles = [...new Set(chosen.map((c) => c.p.role))];
    const inv: Record<string, unknown> = {
        Undercloud: {
            hosts: { undercloud: {} },
            vars: { ansible_connection: "local", ansible_host: "localhost", plan: stack, plans: [stack] },
        },
    };
    for (const r of roles) {
        inv[r] = { children: { [`${stack}_${r}`]: {} } };
        inv[`${stack}_${r}`] = {
            hosts: Object.fromEntries(
                chosen
                    .filter((c) => c.p.role === r)
                    .map((c) => [
                        c.p.hostname,
                        {
                            ansible_host: c.ip,
                            canonical_hostname: `${c.p.hostname}.localdomain`,
                            ctlplane_hostname: `${c.p.hostname}.ctlplane.localdomain`,
                            ctlplane_ip: c.ip,
                            deploy_server_id: c.uuid,
                        },
                    ]),
            ),
            vars: { ansible_ssh_user: "tripleo-admin", tripleo_role_name: r },
        };
    }
    inv[`${stack}_allovercloud`] = { children: Object.fromEntries(roles.map((r) => [`${stack}_${r}`, {}])) };
    inv.allovercloud = { children: { [`${stack}_allovercloud`]: {} } };
    inv[stack] = { children: { allovercloud: {} } };
    inv.overcloud = { children: { allovercloud: {} } };
    return inv;
}

export const nodeUnprovision: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["--stack"], value: true, default: "overcloud" },
            { names: ["--all"] },
            { names: ["-y", "--yes"] },
            { names: ["--network-ports"] },
            { names: ["--templates"], value: true },
            { names: ["--working-dir"], value: true },
        ],
        1,
    );
    const file = a.positionals[0];
    if (!file)
        throw new CommandError(`${prog}: error: the following arguments are required: <baremetal_deployment.yaml>`, 2);
    const stack = String(a.opts.stack);
    const roles = readBaremetal(file);
    const vars = { stack_name: stack, baremetal_deployment: roles, all: !!a.opts.all, manage_network_ports: true };
    const nodes = unprovisionTargets(vars, expandForUnprovision(stack, roles, vars.all));
    if (!nodes.length) {
        out("Nothing to unprovision, exiting");
        return 0;
    }
    printList(
        { opts: {}, positionals: [] },
        ["hostname", "name", "id"],
        nodes.map((n) => [n.hostname, n.name, n.uuid]),
    );
    if (!a.opts.yes && !confirm(`Are you sure you want to unprovision these ${stack} nodes and ports [y/N]? `))
        throw new CommandError("Action not confirmed, exiting.");
    await unprovisionNodes(vars, expandForUnprovision(stack, roles, vars.all));
    return 0;
};

/** Extra vars of cli-overcloud-node-unprovision.yaml. */
export interface NodeUnprovisionVars {
    stack_name: string;
    baremetal_deployment: RoleEntry[];
    all: boolean;
    prompt?: boolean;
    unprovision_confirm?: string;
    manage_network_ports?: boolean;
}

/** Hostnames tripleo_baremetal_expand_roles lists for unprovision (`state: all` with --all, else `absent`). */
export function expandForUnprovision(stack: string, roles: RoleEntry[], all: boolean): string[] {
    return expandRoles(stack, roles)
        .filter((p) => all || !p.provisioned)
        .map((p) => p.hostname);
}

function unprovisionTargets(v: NodeUnprovisionVars, hostnames: string[]): BaremetalNode[] {
    const s0 = readState();
    return hostnames
        .map((h) => s0.nodes.find((n) => n.stack === v.stack_name && n.hostname === h))
        .filter((n): n is BaremetalNode => !!n);
}

/**
 * cli-overcloud-node-unprovision.yaml: with `prompt`, writes the instances it would unprovision to
 * `unprovision_confirm` ({"instances": [...], "pre_provisioned": []}) and stops; otherwise
 * undeploys them (metalsmith) and deletes their ports. Their Ceph daemons go down with them.
 */
export async function unprovisionNodes(v: NodeUnprovisionVars, hostnames: string[]): Promise<void> {
    const stack = v.stack_name;
    const nodes = unprovisionTargets(v, hostnames);
    if (v.prompt) {
        if (!v.unprovision_confirm) throw new CommandError("unprovision_confirm is a required input with prompt");
        writeOut(
            v.unprovision_confirm,
            JSON.stringify({
                instances: nodes.map((n) => ({ hostname: n.hostname, name: n.name, id: n.uuid })),
                pre_provisioned: [],
            }),
        );
        return;
    }
    if (!nodes.length) return;
    await ansible(
        "Overcloud Node Unprovision",
        10,
        ["Expand roles", "Unprovision instances", "Unprovision instance network ports"],
        nodes.map((n) => n.hostname!),
    );
    // The Ceph daemons on those nodes go down with them.
    const clusters = readState().cephClusters.filter(
        (c) => c.running && c.hosts.some((h) => nodes.some((n) => n.name === h)),
    );
    for (const c of clusters) await stopCephCluster(c.dir);
    withState((s) => {
        for (const c of s.cephClusters) if (clusters.some((x) => x.dir === c.dir)) c.running = false;
        for (const n of s.nodes) {
            if (nodes.some((x) => x.name === n.name)) {
                n.stack = null;
                n.hostname = null;
                n.role = null;
                n.provisionState = "available";
                n.powerState = "power off";
            }
        }
        const st = s.stacks.find((x) => x.name === stack);
        if (st && !s.nodes.some((n) => n.stack === stack)) st.status = "NODES_UNPROVISIONED";
    });
}

/**
 * `openstack overcloud node delete` (tripleoclient v1/overcloud_node.py DeleteNode): with
 * `-b/--baremetal-deployment`, the unprovision playbook's prompt run lists the instances marked
 * `provisioned: false` that still exist ("No nodes to unprovision" when none); without `-y` a
 * prompt; then the stack's `scale_playbook.yaml` (config-download) on those hosts; then the
 * unprovision playbook for real. With node names instead of a file: only the scale playbook.
 */
export const nodeDelete: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["-b", "--baremetal-deployment"], value: true },
            { names: ["--stack"], value: true, default: "overcloud" },
            { names: ["--timeout"], value: true, default: "240" },
            { names: ["--overcloud-ssh-port-timeout"], value: true },
            { names: ["-y", "--yes"] },
        ],
        Infinity,
    );
    const file = str(a.opts.baremetal_deployment);
    if (file && a.positionals.length)
        throw new CommandError(
            `usage: ${prog} [-h] [-b <BAREMETAL DEPLOYMENT FILE>] [--stack STACK] [--timeout <TIMEOUT>] [-y] [<node> ...]\n` +
                `${prog}: error: argument -b/--baremetal-deployment: not allowed with argument <node>`,
            2,
        );
    if (!file && !a.positionals.length)
        throw new CommandError(
            `usage: ${prog} [-h] [-b <BAREMETAL DEPLOYMENT FILE>] [--stack STACK] [--timeout <TIMEOUT>] [-y] [<node> ...]\n` +
                `${prog}: error: one of the arguments <node> -b/--baremetal-deployment is required`,
            2,
        );
    const stack = String(a.opts.stack);
    let hosts: string[];
    let roles: RoleEntry[] = [];
    if (file) {
        roles = readBaremetal(file);
        const vars: NodeUnprovisionVars = { stack_name: stack, baremetal_deployment: roles, all: false };
        const nodes = unprovisionTargets(vars, expandForUnprovision(stack, roles, false));
        if (!nodes.length) {
            out("No nodes to unprovision");
            return 0;
        }
        printList(
            { opts: {}, positionals: [] },
            ["hostname", "name", "id"],
            nodes.map((n) => [n.hostname, n.name, n.uuid]),
        );
        hosts = nodes.map((n) => n.hostname!);
    } else hosts = a.positionals;
    if (!a.opts.yes && !confirm("Are you sure you want to delete these overcloud nodes [y/N]? "))
        throw new CommandError("Action not confirmed, exiting.");
    const playbook = path.join(workingDir(stack), "config-download", stack, "scale_playbook.yaml");
    if (!fs.existsSync(playbook)) throw new CommandError(`No such playbook: ${playbook}`);
    await scaleDownNodes(hosts);
    if (file) {
        await unprovisionNodes(
            { stack_name: stack, baremetal_deployment: roles, all: false, prompt: false, manage_network_ports: true },
            expandForUnprovision(stack, roles, false),
        );
    }
    return 0;
};

/**
 * The stack's `scale_playbook.yaml` on the hosts being removed (THT common/deploy-steps.j2: the
 * services' scale-down tasks, unreachable hosts ignored): their Nova compute services leave the
 * cloud, so the stack's AZ aggregate no longer lists them.
 */
export async function scaleDownNodes(hosts: string[]): Promise<void> {
    await ansible(
        "Scaling",
        2,
        [
            "Gathering Facts",
            "Stop and disable the services of the node (scale_steps_tasks)",
            "Delete the node's nova-compute service and its resource provider",
        ],
        hosts,
    );
    withState((s) => {
        const fqdns = new Set(hosts.flatMap((h) => [h, `${h}.localdomain`]));
        for (const g of s.aggregates) g.hosts = g.hosts.filter((h) => !fqdns.has(h));
        removeComputeServicesOf(s, fqdns);
    });
}

// ---- openstack baremetal node ... ----

function nodeRow(n: BaremetalNode): (string | boolean | null)[] {
    return [
        n.uuid,
        n.name,
        n.stack ? `${n.uuid.slice(0, 24)}${n.hostname}`.slice(0, 36) : null,
        n.powerState,
        n.provisionState,
        n.maintenance,
    ];
}

export const baremetalNodeList: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            ...COMMON_OPTS,
            { names: ["--provision-state"], value: true },
            { names: ["--long"] },
            { names: ["--maintenance"] },
        ],
        0,
    );
    const s = readState();
    const rows = s.nodes
        .filter((n) => !a.opts.provision_state || n.provisionState === a.opts.provision_state)
        .map(nodeRow);
    printList(a, ["UUID", "Name", "Instance UUID", "Power State", "Provisioning State", "Maintenance"], rows);
    return 0;
};

function mustNode(s: LabState, ref: string | undefined): BaremetalNode {
    if (!ref) throw new CommandError(`error: the following arguments are required: <node>`, 2);
    const n = findNode(s, ref);
    if (!n) throw new CommandError(`Node ${ref} could not be found. (HTTP 404)`);
    return n;
}

export const baremetalNodeShow: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS, { names: ["--fields"], value: true }], 1);
    const n = mustNode(readState(), a.positionals[0]);
    printShow(a, {
        uuid: n.uuid,
        name: n.name,
        provision_state: n.provisionState,
        power_state: n.powerState,
        maintenance: n.maintenance,
        instance_info: n.hostname ? { display_name: n.hostname } : {},
        instance_uuid: n.stack ? n.uuid : null,
        driver: "ipmi",
        resource_class: "baremetal",
        extra: {},
    });
    return 0;
};

function transition(verb: string, from: string[], to: BaremetalNode["provisionState"]): Handler {
    return async (prog, argv) => {
        const a = parseArgs(prog, argv, [{ names: ["--wait"], value: true, optionalValue: true }], Infinity, 1);
        withState((s) => {
            for (const ref of a.positionals) {
                const n = mustNode(s, ref);
                if (!from.includes(n.provisionState))
                    throw new CommandError(
                        `The requested action "${verb}" can not be performed on node "${n.uuid}" while it is in state "${n.provisionState}". (HTTP 400)`,
                    );
                n.provisionState = to;
                if (to === "available") n.powerState = "power off";
            }
        });
        return 0;
    };
}
export const baremetalNodeManage = transition("manage", ["available", "manageable", "error"], "manageable");
export const baremetalNodeProvide = transition("provide", ["manageable"], "available");

export const baremetalNodeClean: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["--clean-steps"], value: true },
            { names: ["--wait"], value: true, optionalValue: true },
            { names: ["--disable-ramdisk"] },
        ],
        Infinity,
        1,
    );
    const stepsText = str(a.opts.clean_steps);
    if (!stepsText) throw new CommandError(`${prog}: error: the following arguments are required: --clean-steps`, 2);
    let steps: Array<{ interface?: string; step?: string }>;
    try {
        steps = JSON.parse(stepsText);
    } catch {
        throw new CommandError(`Invalid JSON in --clean-steps: ${stepsText}`);
    }
    const erase = steps.some((x) => x.step === "erase_devices_metadata" || x.step === "erase_devices");
    const until = new Date(Date.now() + simMs(5)).toISOString();
    const cleaned = withState((s) => {
        const names: string[] = [];
        for (const ref of a.positionals) {
            const n = mustNode(s, ref);
            if (n.provisionState !== "manageable")
                throw new CommandError(
                    `The requested action "clean" can not be performed on node "${n.uuid}" while it is in state "${n.provisionState}". (HTTP 400)`,
                );
            n.provisionState = "cleaning";
            n.cleanUntil = until;
            if (erase) n.disksDirty = false;
            names.push(n.name);
        }
        return names;
    });
    // Erasing the disk metadata of a node that carried a cluster's mon/OSD destroys that cluster.
    if (erase) {
        const s = readState();
        const gone = s.cephClusters.filter((c) => c.hosts.some((h) => cleaned.includes(hostNode(s, h))));
        for (const c of gone) {
            await stopCephCluster(c.dir);
            await wipeCephCluster(c.dir);
        }
        withState((st) => {
            st.cephClusters = st.cephClusters.filter((c) => !gone.some((g) => g.dir === c.dir));
        });
    }
    if (a.opts.wait !== undefined) await sleep(Math.max(0, Date.parse(until) - Date.now()) + 20);
    return 0;
};

/** Cluster hosts are recorded by node name. */
function hostNode(_s: LabState, host: string): string {
    return host;
}

// ---- metalsmith ----

export const metalsmithList: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 0);
    const s = readState();
    const rows = s.nodes
        .filter((n) => n.stack)
        .map((n) => [
            n.name,
            n.uuid,
            n.hostname,
            n.provisionState === "active" ? "ACTIVE" : n.provisionState === "error" ? "ERROR" : "DEPLOYING",
            `ctlplane=${n.ctlplaneIp}`,
        ]);
    printList(a, ["Node Name", "Node UUID", "Instance Name", "State", "IP Addresses"], rows);
    return 0;
};

export const metalsmithShow: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], Infinity, 1);
    const s = readState();
    for (const ref of a.positionals) {
        const n = s.nodes.find((x) => x.hostname === ref || ((x.name === ref || x.uuid === ref) && x.stack));
        if (!n)
            throw new CommandError(
                `Failed to show instance ${ref}: No node found with name or UUID ${ref}, or it is not deployed (no instance)`,
            );
        printShow(a, {
            hostname: n.hostname,
            node: n.name,
            uuid: n.uuid,
            state: n.provisionState === "active" ? "ACTIVE" : "DEPLOYING",
            ip_addresses: `ctlplane=${n.ctlplaneIp}`,
            allocation: n.hostname,
        });
    }
    return 0;
};

export const metalsmithUndeploy: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [{ names: ["--wait"], value: true, optionalValue: true }], Infinity, 1);
    await sleep(simMs(2));
    withState((s) => {
        for (const ref of a.positionals) {
            const n = s.nodes.find((x) => x.hostname === ref || x.name === ref || x.uuid === ref);
            if (!n) throw new CommandError(`No node found with name or UUID ${ref}`);
            n.stack = null;
            n.hostname = null;
            n.role = null;
            n.provisionState = "available";
            n.powerState = "power off";
        }
    });
    return 0;
};

// ---- roles ----

export const rolesGenerate: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["-o", "--output-file"], value: true },
            { names: ["--roles-path"], value: true },
            { names: ["--skip-validate"] },
        ],
        Infinity,
        1,
    );
    // rolesutils.get_roles_list_from_directory
    const rolesPath = absPath(str(a.opts.roles_path) ?? path.join(home(), "templates/roles"));
    if (!fs.existsSync(rolesPath) || !fs.statSync(rolesPath).isDirectory())
        throw new CommandError(`Invalid roles path specified: ${rolesPath}`);
    const unknown = a.positionals.map((r) => r.split(":")[0]).filter((r) => !ROLES[r]);
    if (unknown.length)
        throw new CommandError(
            `ERROR: Could not find a role definition for role(s): ${unknown.join(", ")} in ${str(a.opts.roles_path) ?? path.join(home(), "templates/roles")}`,
        );
    const text = a.positionals
        .map((spec) => {
            const [name, alias] = spec.split(":");
            const r = { ...ROLES[name], ...(alias ? { name: alias } : {}) };
            return `###############################################################################\n# Role: ${r.name}\n###############################################################################\n${stringify([r])}`;
        })
        .join("");
    const o = str(a.opts.output_file);
    if (o) writeOut(absPath(o), text);
    else out(text);
    return 0;
};

export const rolesList: Handler = async (prog, argv) => {
    parseArgs(prog, argv, [...COMMON_OPTS, { names: ["--roles-path"], value: true }], 0);
    for (const r of Object.keys(ROLES).sort()) out(r);
    return 0;
};

/** Roles file: list of {name, ServicesDefault}. */
export function readRolesFile(p: string): Array<{ name: string; ServicesDefault: string[] }> {
    const data = readYamlFile(p, "Roles data") as Array<{ name: string; ServicesDefault?: string[] }>;
    if (!Array.isArray(data)) throw new CommandError(`ERROR: Roles data file ${p} is not a list of roles`);
    return data.map((r) => ({ name: r.name, ServicesDefault: r.ServicesDefault ?? [] }));
}

export function unused(): void {
    void err;
}
