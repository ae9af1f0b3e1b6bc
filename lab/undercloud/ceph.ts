// `openstack overcloud ceph deploy` and `openstack overcloud export ceph` (reference §3.3, §3.4,
// §4.2, §4.3, §7, §8 checks 1, 4, 5, 12), backed by a real Ceph cluster per site (lab/ceph).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import {
    OPENSTACK_CLIENT_CAPS,
    cephClusterInfo,
    createCephCluster,
    createPools,
    ensureClientKey,
    generateCephxKey,
    isCephxKeyShape,
} from "../ceph";
import { paths, readConfig } from "../paths";
import { readState, withState } from "../state";
import { Handler, readRolesFile } from "./metal";
import { mergeOrchHosts } from "./orch";
import {
    CommandError,
    absPath,
    ansible,
    confirm,
    home,
    out,
    parseArgs,
    readYamlFile,
    str,
    thtPath,
    workingDir,
    writeOut,
} from "./util";

const CLIENT_CAPS = { mgr: OPENSTACK_CLIENT_CAPS.mgr, mon: OPENSTACK_CLIENT_CAPS.mon, osd: OPENSTACK_CLIENT_CAPS.osd };

interface MetalEnv {
    parameter_defaults?: Record<string, unknown> & {
        HostnameMap?: Record<string, string>;
        DeployedServerPortMap?: Record<string, { fixed_ips?: Array<{ ip_address: string }> }>;
    };
}

export const cephDeploy: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["-o", "--output"], value: true },
            { names: ["-y", "--yes"] },
            { names: ["--stack"], value: true, default: "overcloud" },
            { names: ["--working-dir"], value: true },
            { names: ["--roles-data"], value: true },
            { names: ["--network-data"], value: true },
            { names: ["--public-network-name"], value: true },
            { names: ["--cluster-network-name"], value: true },
            { names: ["--cluster"], value: true, default: "ceph" },
            { names: ["--mon-ip"], value: true },
            { names: ["--config"], value: true },
            { names: ["--cephadm-ssh-user"], value: true },
            { names: ["--skip-user-create"] },
            { names: ["--skip-hosts-config"] },
            { names: ["--skip-container-registry-config"] },
            { names: ["--skip-ntp"] },
            { names: ["--cephadm-extra-args"], value: true },
            { names: ["--force"] },
            { names: ["--ansible-extra-vars"], value: true },
            { names: ["--ceph-client-username"], value: true, default: "openstack" },
            { names: ["--ceph-client-key"], value: true },
            { names: ["--skip-cephx-keys"] },
            { names: ["--single-host-defaults"] },
            { names: ["--ceph-spec"], value: true },
            { names: ["--osd-spec"], value: true },
            { names: ["--crush-hierarchy"], value: true },
            { names: ["--tld"], value: true },
            { names: ["--standalone"] },
            { names: ["--container-image-prepare"], value: true },
            { names: ["--container-namespace"], value: true },
            { names: ["--container-image"], value: true },
            { names: ["--container-tag"], value: true },
            { names: ["--registry-url"], value: true },
            { names: ["--ntp-server"], value: true },
            { names: ["--ansible-playbook-verbosity"], value: true },
        ],
        1,
    );
    const stack = String(a.opts.stack);
    const cluster = String(a.opts.cluster);
    const output = str(a.opts.output);
    if (!output)
        throw new CommandError(
            `usage: ${prog} [-h] -o <deployed_ceph.yaml> [-y] [--stack STACK] ... [<deployed_baremetal.yaml>]\n${prog}: error: the following arguments are required: -o/--output`,
            2,
        );
    // The checks of v2/overcloud_ceph.py take_action, in its order and with its messages.
    const outPath = absPath(output);
    if (fs.existsSync(outPath) && !a.opts.yes && !confirm(`Overwrite existing file ${output} [y/N]?`))
        throw new CommandError(
            `Will not overwrite existing file: ${output}. See the --yes parameter to override this behavior. `,
        );
    const wd = workingDir(stack, str(a.opts.working_dir));
    const inventory = path.join(wd, "tripleo-ansible-inventory.yaml");
    if (!fs.existsSync(inventory))
        throw new CommandError(
            `Inventory file not found in working directory: ${inventory}. It should have been created by 'openstack overcloud node provision'.`,
        );
    const metalArg = a.positionals[0];
    const specArg = str(a.opts.ceph_spec);
    if (!metalArg && !specArg) throw new CommandError(`Either <deployed_baremetal.yaml> or --ceph-spec must be used.`);
    // Lab-only: tripleoclient passes both to the playbook.
    if (metalArg && specArg)
        throw new CommandError(
            `ERROR: <deployed_baremetal.yaml> and --ceph-spec are mutually exclusive; use one of them`,
        );
    if (metalArg && !fs.existsSync(absPath(metalArg)))
        throw new CommandError(`Baremetal environment file does not exist: ${metalArg}`);
    const missing = (flag: string, what: string, v: unknown) => {
        if (typeof v === "string" && !fs.existsSync(absPath(v)))
            throw new CommandError(`${what} not found ${flag} ${absPath(v)}.`);
    };
    missing("--roles-data", "Roles Data file", a.opts.roles_data);
    missing("--config", "Config file", a.opts.config);
    missing("--network-data", "Network Data file", a.opts.network_data);
    const monIp = str(a.opts.mon_ip);
    if (monIp !== undefined && !/^(\d{1,3}\.){3}\d{1,3}$/.test(monIp) && !/^[0-9a-fA-F:]+$/.test(monIp))
        throw new CommandError(`Invalid IP address '${monIp}' passed to --mon-ip.`);
    missing("--ceph-spec", "Ceph Spec file", specArg);
    if (a.opts.cephadm_extra_args && !a.opts.force) throw new CommandError(`--cephadm-extra-args requires --force.`);
    if (a.opts.ansible_extra_vars && !a.opts.force) throw new CommandError(`--ansible-extra-vars requires --force.`);
    missing("--ansible-extra-vars", "Ansible vars file", a.opts.ansible_extra_vars);
    if (typeof a.opts.container_image_prepare === "string" && !fs.existsSync(absPath(a.opts.container_image_prepare)))
        throw new CommandError(`[Errno 2] No such file or directory: '${a.opts.container_image_prepare}'`);
    const clientKey = str(a.opts.ceph_client_key);
    // Lab-only (tripleoclient leaves it to cephadm and Heat's CephClusterName constraint).
    if (!/^[a-zA-Z0-9]+$/.test(cluster))
        throw new CommandError(
            `ERROR: Invalid --cluster ${cluster}: a Ceph cluster name must match [a-zA-Z0-9]+ (it becomes /etc/ceph/<cluster>.conf and the Heat parameter CephClusterName)`,
        );
    const rolesPath = absPath(str(a.opts.roles_data) ?? thtPath("roles_data.yaml"));
    if (!fs.existsSync(rolesPath)) throw new CommandError(`ERROR: Roles data file not found: ${rolesPath}`);
    // What tripleoclient hands cli-deployed-ceph.yaml (v2/overcloud_ceph.py).
    const extra =
        typeof a.opts.ansible_extra_vars === "string"
            ? ((readYamlFile(absPath(a.opts.ansible_extra_vars), "Ansible extra vars") ?? {}) as Record<
                  string,
                  unknown
              >)
            : {};
    const vars: CephDeployVars = {
        ...extra,
        deployed_ceph_tht_path: outPath,
        working_dir: wd,
        stack_name: stack,
        tripleo_ceph_client_vars: path.join(wd, "ceph_client.yml"),
        ...(metalArg ? { baremetal_deployed_path: absPath(metalArg) } : {}),
        ...(specArg ? { ceph_spec_path: absPath(specArg), dynamic_ceph_spec: false } : {}),
        tripleo_roles_path: rolesPath,
        tripleo_cephadm_cluster: cluster,
        ...(a.opts.single_host_defaults ? { tripleo_cephadm_single_host_defaults: true } : {}),
    };
    // The cephx key: only with --force --ansible-extra-vars <pools>, the given one or a NEW one.
    if (extra.tripleo_cephadm_pools && !extra.tripleo_cephadm_keys && !a.opts.skip_cephx_keys) {
        const user = String(a.opts.ceph_client_username);
        const key = clientKey ?? generateCephxKey();
        // v2/overcloud_ceph.py checks the key only here, where it is used.
        if (!isCephxKeyShape(key)) throw new CommandError(`'${key}' is not a valid cephx key`);
        vars.tripleo_cephadm_keys = [{ name: `client.${user}`, key, mode: "0600", caps: { ...CLIENT_CAPS } }];
        vars.ceph_client_key = key;
        vars.ceph_client_username = user;
    }
    await deployCeph(vars);
    out(`Deployed Ceph environment written to ${outPath}`);
    return 0;
};

/** Extra vars of cli-deployed-ceph.yaml (tripleoclient v2/overcloud_ceph.py; pools from --ansible-extra-vars). */
export interface CephDeployVars {
    deployed_ceph_tht_path: string;
    working_dir: string;
    stack_name: string;
    tripleo_ceph_client_vars: string;
    baremetal_deployed_path?: string;
    ceph_spec_path?: string;
    dynamic_ceph_spec?: boolean;
    tripleo_roles_path: string;
    tripleo_cephadm_cluster: string;
    tripleo_cephadm_single_host_defaults?: boolean;
    tripleo_cephadm_container_ns?: string;
    tripleo_cephadm_container_image?: string;
    tripleo_cephadm_container_tag?: string;
    tripleo_cephadm_pools?: Array<{
        name: string;
        application?: string;
        pg_autoscale_mode?: boolean;
        target_size_ratio?: number;
    }>;
    tripleo_cephadm_keys?: Array<{ name: string; key: string; mode?: string; caps?: Record<string, string> }>;
    ceph_client_key?: string;
    ceph_client_username?: string;
    [k: string]: unknown;
}

/**
 * cli-deployed-ceph.yaml: cephadm on the stack's nodes (here a real mini-Ceph cluster per stack,
 * lab/ceph): bootstrap or find the cluster, apply the spec, then the pools and the cephx keys it is
 * given (`ceph auth import`: a new key replaces the old one, as on a real cluster), writing
 * generated_ceph_spec.yaml, ceph_client.yml (pools and keys only) and the deployed-ceph env.
 */
export async function deployCeph(v: CephDeployVars): Promise<void> {
    const stack = v.stack_name;
    const cluster = v.tripleo_cephadm_cluster;
    const outPath = v.deployed_ceph_tht_path;
    const metalArg = v.baremetal_deployed_path;
    const specArg = v.ceph_spec_path;
    const wd = v.working_dir;
    const rolesPath = v.tripleo_roles_path;
    if (!fs.existsSync(rolesPath)) throw new CommandError(`Roles data file not found: ${rolesPath}`);
    const roles = readRolesFile(rolesPath);

    // Hosts and their services, from the metal file (ceph_spec_bootstrap).
    let hosts: Array<{ hostname: string; role: string; ip: string; services: string[] }> = [];
    if (metalArg) {
        const metalPath = absPath(metalArg);
        if (!fs.existsSync(metalPath)) throw new CommandError(`ERROR: deployed_baremetal file not found: ${metalPath}`);
        const metal = readYamlFile(metalPath, "deployed_baremetal") as MetalEnv;
        const pd = metal?.parameter_defaults ?? {};
        if (!pd.DeployedServerPortMap)
            throw new CommandError(
                `ERROR: ${metalPath} does not contain DeployedServerPortMap; it should be the output of 'openstack overcloud node provision'.`,
            );
        if (!pd.HostnameMap && !Object.keys(pd).some((k) => k.endsWith("HostnameFormat")))
            throw new CommandError(
                `ERROR: ${metalPath} contains neither HostnameMap nor <Role>HostnameFormat; cannot map roles to hosts.`,
            );
        const metalRoles = Object.keys(pd)
            .filter((k) => k.endsWith("Count") && typeof pd[k] === "number" && (pd[k] as number) > 0)
            .map((k) => k.slice(0, -"Count".length));
        const missing = metalRoles.filter((r) => !roles.some((x) => x.name === r));
        if (missing.length)
            throw new CommandError(
                `ERROR: Roles ${missing.join(", ")} of ${metalPath} are not in the roles data file ${rolesPath}. The roles file must cover every role of the deployed baremetal file.`,
            );
        // ceph_spec_bootstrap: the hosts are those with a ctlplane port (DeployedServerPortMap: the
        // provisioned instances only), each in the role whose <Role>HostnameFormat generated its
        // HostnameMap key (instances marked `provisioned: false` stay in HostnameMap, portless).
        const formats = roles
            .filter((r) => typeof pd[`${r.name}HostnameFormat`] === "string")
            .map((r) => {
                const fmt = String(pd[`${r.name}HostnameFormat`]);
                const re = fmt
                    .split(/(%stackname%|%index%)/)
                    .map((x) =>
                        x === "%stackname%"
                            ? ".+"
                            : x === "%index%"
                              ? "\\d+"
                              : x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
                    )
                    .join("");
                return { role: r.name, re: new RegExp(`^${re}$`) };
            });
        const roleOf = new Map<string, { role: string; hostname: string }>();
        for (const [gen, hostname] of Object.entries(pd.HostnameMap ?? {})) {
            const f = formats.find((x) => x.re.test(gen));
            if (f) roleOf.set(hostname.toLowerCase(), { role: f.role, hostname });
        }
        for (const [key, port] of Object.entries(pd.DeployedServerPortMap)) {
            const found = roleOf.get(key.replace(/-ctlplane$/, "").toLowerCase());
            const ip = port?.fixed_ips?.[0]?.ip_address;
            if (!found || !ip) continue;
            const { role, hostname } = found;
            const svc = roles
                .find((r) => r.name === role)!
                .ServicesDefault.map((x) => x.replace("OS::TripleO::Services::", ""));
            hosts.push({ hostname, role, ip, services: svc });
        }
    } else {
        const docs = fs
            .readFileSync(absPath(specArg!), "utf8")
            .split(/^---$/m)
            .map((d) => parse(d))
            .filter(Boolean) as Array<{ service_type?: string; hostname?: string; addr?: string; labels?: string[] }>;
        hosts = docs
            .filter((d) => d.service_type === "host")
            .map((d) => ({
                hostname: d.hostname!,
                role: "spec",
                ip: d.addr ?? "",
                services: [
                    ...(d.labels?.includes("mon") ? ["CephMon"] : []),
                    ...(d.labels?.includes("osd") ? ["CephOSD"] : []),
                ],
            }));
    }
    const monHosts = hosts.filter((h) => h.services.includes("CephMon"));
    const osdHosts = hosts.filter((h) => h.services.includes("CephOSD"));
    if (!monHosts.length)
        throw new CommandError(
            `ERROR: No host of stack ${stack} has the CephMon service; cephadm needs a mon host to bootstrap the cluster.`,
        );
    if (!osdHosts.length)
        throw new CommandError(
            `ERROR: No host of stack ${stack} has the CephOSD service; the cluster would have no OSDs.`,
        );

    // Pools (--ansible-extra-vars) and the keys tripleoclient made for them.
    const pools = v.tripleo_cephadm_pools ?? [];
    const keys = v.tripleo_cephadm_keys ?? [];
    const clientVarsPath = v.tripleo_ceph_client_vars;

    // Claim the cluster name and an address under the lock (§8.1: unique names, one per stack).
    const cfg = readConfig();
    const hostNodes = new Map<string, string>();
    const adminKey = path.join(home(), ".ssh", "ceph-admin-id_rsa");
    let creatingKey = false;
    const claim = withState((s) => {
        for (const h of hosts) {
            const n = s.nodes.find((x) => x.hostname === h.hostname && x.stack === stack);
            if (!n || n.provisionState !== "active")
                throw new CommandError(
                    `ERROR: Host ${h.hostname} of stack ${stack} is not provisioned (no ACTIVE baremetal instance); run 'openstack overcloud node provision' first.`,
                );
            hostNodes.set(h.hostname, n.name);
        }
        const other = s.cephClusters.find((c) => c.name === cluster && c.stack !== stack);
        if (other)
            throw new CommandError(
                `ERROR: Ceph cluster name ${cluster} is already used by stack ${other.stack}; each site needs its own --cluster name.`,
            );
        const mine = s.cephClusters.find((c) => c.stack === stack);
        if (mine && mine.name !== cluster)
            throw new CommandError(
                `ERROR: Stack ${stack} already has Ceph cluster ${mine.name} (fsid ${mine.fsid}); one cluster per stack. Remove it (unprovision and clean the disks) before deploying ${cluster}.`,
            );
        if (mine?.lost)
            throw new CommandError(
                `ERROR: Ceph cluster ${cluster} of stack ${stack} was lost; clean its disks before redeploying.`,
            );
        // The shared ceph-admin SSH key is created only if missing: two first runs race (§9).
        const creator = s.cephAdminKeyCreator;
        if (!fs.existsSync(adminKey)) {
            if (creator && creator !== process.pid && pidAlive(creator)) {
                throw new CommandError(
                    `TASK [tripleo_run_cephadm : Create ceph-admin SSH key] ***\n` +
                        `fatal: [undercloud]: FAILED! => {"changed": false, "msg": "${adminKey} already exists (being generated by another run); ssh-keygen: Overwrite (y/n)? failed"}\n` +
                        `ERROR: Ceph deployment failed for stack ${stack}: the shared ceph-admin SSH key was being created by another 'openstack overcloud ceph deploy'. Run one ceph deploy alone first (it creates ${adminKey}), then the others may run in parallel.`,
                );
            }
            s.cephAdminKeyCreator = process.pid;
            creatingKey = true;
        }
        const dirty = osdHosts.filter((h) => s.nodes.find((n) => n.name === hostNodes.get(h.hostname))?.disksDirty);
        // A stopped cluster of this stack: its nodes were unprovisioned; the disks still carry its OSDs.
        if (mine)
            return {
                existing: mine.running,
                stale: !mine.running,
                dir: mine.dir,
                addr: mine.addr,
                dirty: mine.running ? [] : dirty.map((h) => h.hostname),
            };
        const used = new Set(s.cephClusters.map((c) => c.addr));
        let k = 0;
        while (used.has(`${cfg.cephNet}.${11 + k}`)) k++;
        const addr = `${cfg.cephNet}.${11 + k}`;
        const dir = path.join(paths().ceph, stack);
        s.cephClusters.push({
            name: cluster,
            stack,
            fsid: "",
            dir,
            addr,
            monHost: "",
            running: false,
            lost: false,
            pools: false,
            hosts: hosts
                .filter((h) => h.services.some((x) => x === "CephMon" || x === "CephOSD"))
                .map((h) => hostNodes.get(h.hostname)!),
        });
        return { existing: false, stale: false, dir, addr, dirty: dirty.map((h) => h.hostname) };
    });
    const release = () =>
        withState((s) => {
            if (!claim.existing && !claim.stale)
                s.cephClusters = s.cephClusters.filter((c) => !(c.stack === stack && c.fsid === ""));
        });

    const allHosts = hosts.map((h) => h.hostname);
    let info: Awaited<ReturnType<typeof cephClusterInfo>>;
    try {
        writeOut(
            path.join(wd, "cephadm", "cephadm_command.log"),
            `cephadm bootstrap --fsid <generated> --mon-ip ${monHosts[0].ip} --cluster ${cluster} (lab)\n`,
        );
        writeOut(
            path.join(wd, "generated_ceph_spec.yaml"),
            hosts
                .filter((h) => specLabels(h.services).length > 0)
                .map((h) =>
                    stringify({
                        addr: h.ip,
                        hostname: h.hostname,
                        labels: specLabels(h.services),
                        service_type: "host",
                    }),
                )
                .join("---\n"),
        );
        // The real bootstrap runs while the simulated Ansible progress streams.
        const creating =
            !claim.dirty.length && !claim.existing && !claim.stale
                ? createCephCluster({ name: cluster, dir: claim.dir, addr: claim.addr, v2Port: 3300, v1Port: 6789 })
                : undefined;
        creating?.catch(() => undefined);
        await ansible(
            `Deploy cephadm Ceph cluster ${cluster}`,
            8,
            [
                "tripleo_run_cephadm : Create ceph-admin user and SSH key",
                "tripleo_cephadm : Distribute ceph-admin SSH key",
                "tripleo_cephadm : Install cephadm",
                "tripleo_cephadm : Bootstrap Ceph cluster on the first mon",
            ],
            allHosts,
        );
        if (creatingKey) {
            fs.mkdirSync(path.dirname(adminKey), { recursive: true, mode: 0o700 });
            if (!fs.existsSync(adminKey)) {
                execFileSync("ssh-keygen", [
                    "-q",
                    "-t",
                    "rsa",
                    "-b",
                    "2048",
                    "-N",
                    "",
                    "-C",
                    "ceph-admin",
                    "-f",
                    adminKey,
                ]);
            }
            withState((s) => {
                s.cephAdminKey = true;
                delete s.cephAdminKeyCreator;
            });
        }
        if (claim.dirty.length) {
            out(`\nTASK [tripleo_cephadm : Apply spec (osd)] ************************************`);
            throw new CommandError(
                `fatal: [${claim.dirty[0]}]: FAILED! => {"changed": false, "msg": "No OSDs were created: the devices of ${claim.dirty.join(", ")} are not available (they carry Ceph LVM metadata from a previous cluster: 'Insufficient space (<10 extents) on vgs, LVM detected, locked'). Clean the disks (openstack baremetal node clean --clean-steps erase_devices_metadata) before deploying Ceph on them."}\n` +
                    `ERROR: Ceph deployment failed for stack ${stack}: OSDs not created`,
            );
        }
        if (claim.existing) {
            info = await cephClusterInfo(claim.dir);
            if (!info?.running)
                throw new CommandError(`ERROR: Ceph cluster ${cluster} of stack ${stack} exists but is not running`);
        } else if (creating) {
            info = await creating;
        } else {
            throw new CommandError(`ERROR: Ceph cluster ${cluster} of stack ${stack} exists but is not running`);
        }
        withState((s) => {
            const c = s.cephClusters.find((x) => x.stack === stack)!;
            c.fsid = info!.fsid;
            c.monHost = info!.monHost;
            c.running = true;
            // The spec applied: its hosts join the cluster (a scale-out adds them), with cephadm's labels.
            const cephHosts = hosts.filter((h) => h.services.some((x) => x === "CephMon" || x === "CephOSD"));
            c.hosts = [...new Set([...c.hosts, ...cephHosts.map((h) => hostNodes.get(h.hostname)!)])];
            mergeOrchHosts(
                c,
                cephHosts.map((h) => ({ hostname: h.hostname, addr: h.ip, labels: specLabels(h.services) })),
                v.tripleo_cephadm_single_host_defaults ? 1 : 3,
            );
            for (const h of osdHosts) {
                const n = s.nodes.find((x) => x.name === hostNodes.get(h.hostname));
                if (n) n.disksDirty = true;
            }
        });
        await ansible(
            `Apply Ceph spec ${cluster}`,
            8,
            [
                "tripleo_cephadm : Apply spec (mon, mgr)",
                "tripleo_cephadm : Apply spec (osd)",
                "tripleo_cephadm : Wait for OSDs",
                "tripleo_cephadm : Distribute /etc/ceph config and admin keyring to _admin hosts",
            ],
            allHosts,
        );
    } catch (e) {
        release();
        throw e;
    }
    let key: string | undefined;
    let user = "openstack";
    if (pools.length) {
        const making = (async () => {
            await createPools(
                claim.dir,
                pools.map((p) => p.name),
            );
            // tripleo_cephadm_keys: `ceph auth import` of each (the key given replaces the old one).
            let first: string | undefined;
            for (const k of keys) {
                const name = k.name.replace(/^client\./, "");
                const got = await ensureClientKey(claim.dir, name, k.key);
                if (first === undefined) {
                    first = got;
                    user = name;
                }
            }
            return first;
        })();
        making.catch(() => undefined);
        await ansible(
            `Create pools and keys ${cluster}`,
            4,
            [
                "tripleo_cephadm : Create pools",
                "tripleo_cephadm : Create cephx keys",
                "tripleo_cephadm : Write ceph_client.yml",
            ],
            [monHosts[0].hostname],
        );
        key = await making;
        withState((s) => {
            s.cephClusters.find((x) => x.stack === stack)!.pools = true;
        });
        if (key) writeCephClientVars(clientVarsPath, info!.fsid, cluster, info!.monIps, user, key);
    }
    const containerImage = `${v.tripleo_cephadm_container_ns ?? "quay.rdoproject.org/tripleomastercentos9"}/${v.tripleo_cephadm_container_image ?? "daemon"}:${v.tripleo_cephadm_container_tag ?? "current-ceph"}`;
    // tripleo_cephadm/templates/deployed_ceph.yaml.j2
    const pd: Record<string, unknown> = {
        CephClusterFSID: info!.fsid,
        CephDynamicSpec: false,
        DeployedCeph: true,
        CephadmDefaultContainer: false,
        ContainerCephDaemonImage: containerImage,
        CephClusterName: cluster,
    };
    if (pools.length)
        pd.CephPools = pools.map((p) => ({
            name: p.name,
            application: p.application ?? "rbd",
            pg_autoscale_mode: p.pg_autoscale_mode ?? true,
            target_size_ratio: p.target_size_ratio,
        }));
    pd.CephClientConfigVars = clientVarsPath;
    if (v.ceph_client_username && v.ceph_client_key) {
        pd.CephClientUserName = v.ceph_client_username;
        pd.CephClientKey = v.ceph_client_key;
    }
    writeOut(outPath, stringify({ parameter_defaults: pd }), 0o600);
    withState((s) => {
        const st = s.stacks.find((x) => x.name === stack);
        if (st && !st.deployed) st.status = "CEPH_DEPLOYED";
    });
    out(`Ceph cluster ${cluster} deployed for stack ${stack}: fsid ${info!.fsid}, mons ${info!.monIps}`);
}

/** ceph_spec_bootstrap's labels of a host from its TripleO services (a mon host is also `_admin`). */
function specLabels(services: string[]): string[] {
    return [
        ...(services.includes("CephMon") ? ["_admin", "mon", "mgr"] : []),
        ...(services.includes("CephOSD") ? ["osd"] : []),
    ];
}

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

export function writeCephClientVars(
    p: string,
    fsid: string,
    cluster: string,
    monIps: string,
    user: string,
    key: string,
): void {
    writeOut(
        p,
        stringify({
            tripleo_ceph_client_fsid: fsid,
            tripleo_ceph_client_cluster: cluster,
            external_cluster_mon_ips: monIps,
            keys: [{ name: `client.${user}`, key, caps: CLIENT_CAPS }],
        }),
        0o600,
    );
}

interface ClientVars {
    tripleo_ceph_client_fsid: string;
    tripleo_ceph_client_cluster: string;
    external_cluster_mon_ips: string;
    keys?: Array<{ name: string; key: string; caps: Record<string, string> }>;
}

export const exportCeph: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["--stack"], value: true },
            { names: ["--cephx-key-client-name", "-k"], value: true, default: "openstack" },
            { names: ["--output-file", "-o"], value: true },
            { names: ["--force-overwrite", "-f"] },
            { names: ["--config-download-dir"], value: true },
        ],
        0,
    );
    const stackArg = str(a.opts.stack);
    if (!stackArg)
        throw new CommandError(
            `usage: ${prog} [-h] --stack <stack> [--cephx-key-client-name CEPHX_KEY_CLIENT_NAME] [--output-file OUTPUT_FILE] [--force-overwrite] [--config-download-dir CONFIG_DOWNLOAD_DIR]\n${prog}: error: the following arguments are required: --stack`,
            2,
        );
    const stacks = stackArg
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
    const outPath = absPath(
        str(a.opts.output_file) ??
            (stacks.length === 1 ? `ceph-export-${stacks[0]}.yaml` : `ceph-export-${stacks.length}-stacks.yaml`),
    );
    if (fs.existsSync(outPath) && !a.opts.force_overwrite)
        throw new CommandError(`File '${outPath}' already exists, not exporting.`);
    const user = String(a.opts.cephx_key_client_name);
    const items: unknown[] = [];
    for (const stack of stacks) {
        const base = str(a.opts.config_download_dir)
            ? absPath(str(a.opts.config_download_dir)!)
            : path.join(home(), "overcloud-deploy", stack, "config-download");
        const stackDir = path.join(base, stack);
        // tripleoclient export.py export_ceph: os.listdir(<config-download>/<stack>) decides
        // cephadm vs ceph-ansible; cephadm data is <working dir>/ceph_client.yml (not --config-download-dir).
        if (!fs.existsSync(stackDir)) throw new CommandError(`[Errno 2] No such file or directory: '${stackDir}'`);
        if (!fs.existsSync(path.join(stackDir, "cephadm")) && !fs.existsSync(path.join(stackDir, "ceph-ansible")))
            throw new CommandError(`local variable 'ceph_data' referenced before assignment`);
        const varsFile = path.join(home(), "overcloud-deploy", stack, "ceph_client.yml");
        if (!fs.existsSync(varsFile))
            throw new CommandError(`[Errno 2] No such file or directory: '/home/stack/ceph_client.yaml'`);
        const vars = parse(fs.readFileSync(varsFile, "utf8")) as ClientVars;
        const k = (vars.keys ?? []).find((x) => x.name === `client.${user}`);
        if (!k)
            throw new CommandError(
                `ERROR: local variable 'key' referenced before assignment\nExport of Ceph data for stack ${stack} failed: no key client.${user} in ${varsFile}`,
            );
        const cluster = vars.tripleo_ceph_client_cluster;
        items.push({
            cluster,
            fsid: vars.tripleo_ceph_client_fsid,
            external_cluster_mon_ips: vars.external_cluster_mon_ips,
            keys: [{ name: k.name, key: k.key, caps: k.caps }],
            ceph_conf_overrides: { client: { keyring: `/etc/ceph/${cluster}.client.${user}.keyring` } },
            dashboard_enabled: false,
        });
    }
    writeOut(
        outPath,
        stringify({ parameter_defaults: { CephExternalMultiConfig: items } }, { sortMapEntries: true }),
        0o600,
    );
    out(`Exported Ceph data of ${stacks.join(", ")} to ${outPath}`);
    return 0;
};

void readState;
