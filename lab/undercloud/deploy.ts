// `openstack overcloud deploy|export|delete|status`, `openstack token issue`, `openstack aggregate
// show` (reference §3.5–§3.8, §4.4, §4.5, §5, §7, §8 checks 6–9, 12, §9 Heat concurrency).
import { randomBytes, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { cephClusterInfo, createPools, ensureClientKey, generateCephxKey, getClientKey } from "../ceph";
import { LabState, StackRecord, readState, withState } from "../state";
import { writeCephClientVars } from "./ceph";
import { GlanceLabState, deleteStackGlance, deployGlance, glanceRcLines } from "./glance";
import { HeatSession, checkHeat, finalHeatKill, killHeat, launchHeat } from "./heat";
import { Handler, readRolesFile } from "./metal";
import { EDGE_SERVICES } from "./roles";
import { dropCloudRecords, registerServices } from "./services";
import {
    COMMON_OPTS,
    CommandError,
    absPath,
    ansible,
    confirm,
    home,
    out,
    parseArgs,
    prettyTable,
    printList,
    printShow,
    randomPassword,
    simMs,
    sleep,
    str,
    thtPath,
    workingDir,
    writeOut,
} from "./util";

type Params = Record<string, unknown>;

/**
 * tripleo-common 18's PASSWORD_PARAMETER_NAMES: what tripleoclient writes to
 * `<stack>-passwords.yaml` (and, minus `ceph.*`, to the stack export). Two are maps, not strings.
 */
const PASSWORD_NAMES = [
    "AdminPassword",
    "AodhPassword",
    "BarbicanPassword",
    "BarbicanSimpleCryptoKek",
    "CeilometerMeteringSecret",
    "CeilometerPassword",
    "CephClientKey",
    "CephClusterFSID",
    "CephManilaClientKey",
    "CephRgwKey",
    "CephGrafanaAdminPassword",
    "CephDashboardAdminPassword",
    "CinderPassword",
    "DesignatePassword",
    "DesignateRndcKey",
    "EtcdInitialClusterToken",
    "GlancePassword",
    "GnocchiPassword",
    "HAProxyStatsPassword",
    "HeatAuthEncryptionKey",
    "HeatPassword",
    "HeatStackDomainAdminPassword",
    "HorizonSecret",
    "IronicPassword",
    "LibvirtTLSPassword",
    "KeystoneCredential0",
    "KeystoneCredential1",
    "KeystoneFernetKeys",
    "KeystonePassword",
    "ManilaPassword",
    "MysqlClustercheckPassword",
    "MysqlMariabackupPassword",
    "MysqlRootPassword",
    "NeutronMetadataProxySharedSecret",
    "NeutronPassword",
    "NovaPassword",
    "MigrationSshKey",
    "OctaviaServerCertsKeyPassphrase",
    "OctaviaCaKeyPassphrase",
    "OctaviaHeartbeatKey",
    "OctaviaPassword",
    "PacemakerRemoteAuthkey",
    "PcsdPassword",
    "PlacementPassword",
    "RpcPassword",
    "NotifyPassword",
    "RabbitCookie",
    "RabbitPassword",
    "RedisPassword",
    "SnmpdReadonlyUserPassword",
    "SwiftHashSuffix",
    "SwiftPassword",
];

/** A generated value of a password parameter, shaped as tripleo-common's generate_passwords makes it. */
function generatePassword(name: string): unknown {
    if (name === "KeystoneFernetKeys")
        return Object.fromEntries(
            [0, 1].map((i) => [`/etc/keystone/fernet-keys/${i}`, { content: randomBytes(32).toString("base64url") }]),
        );
    if (name === "MigrationSshKey")
        return { private_key: `lab-private-key-${randomPassword(32)}`, public_key: `ssh-rsa ${randomPassword(68)}` };
    if (name === "CephClusterFSID") return randomUUID();
    if (name === "CephClientKey" || name === "CephManilaClientKey" || name === "CephRgwKey") return generateCephxKey();
    return randomPassword();
}

function deployOpts() {
    return [
        { names: ["--templates"], value: true, optionalValue: true },
        { names: ["--stack"], value: true, default: "overcloud" },
        { names: ["-t", "--timeout"], value: true, default: "240", int: true },
        { names: ["-e", "--environment-file"], value: true, multiple: true },
        { names: ["--environment-directory"], value: true, multiple: true },
        { names: ["-r", "--roles-file"], value: true },
        { names: ["-n", "--networks-file"], value: true },
        { names: ["-p", "--plan-environment-file"], value: true },
        { names: ["--heat-type"], value: true, default: "pod", choices: ["pod", "container", "native"] },
        { names: ["--skip-heat-pull"] },
        { names: ["--heat-container-engine-image"], value: true },
        { names: ["--heat-container-api-image"], value: true },
        { names: ["--rm-heat"] },
        { names: ["--libvirt-type"], value: true, choices: ["kvm", "qemu"] },
        { names: ["--ntp-server"], value: true },
        { names: ["--stack-only"] },
        { names: ["--setup-only"] },
        { names: ["--config-download-only"] },
        { names: ["--no-config-download", "--stack-only-legacy"] },
        { names: ["--config-download-timeout"], value: true, int: true },
        { names: ["--disable-validations"] },
        { names: ["--deployed-server"] },
        { names: ["--working-dir"], value: true },
        { names: ["--output-dir"], value: true },
        { names: ["--overcloud-ssh-user"], value: true },
        { names: ["--overcloud-ssh-key"], value: true },
        { names: ["--overcloud-ssh-network"], value: true },
        { names: ["--answers-file"], value: true },
        { names: ["--skip-postconfig"] },
        { names: ["--limit"], value: true },
        { names: ["--tags"], value: true },
        { names: ["--skip-tags"], value: true },
        { names: ["--ansible-forks"], value: true, int: true },
        { names: ["-y", "--yes"] },
        { names: ["--disable-password-generation"] },
        { names: ["--deployment-python-interpreter"], value: true },
        { names: ["--baremetal-deployment"], value: true },
        { names: ["--network-config"] },
        { names: ["--vip-file"], value: true },
        { names: ["--skip-deploy-identifier"] },
        { names: ["--disable-container-prepare"] },
    ];
}

interface Env {
    params: Params;
    registry: Record<string, string>;
    files: string[];
}

/** Merges -e files in order: later files win per parameter (§8.9); unknown parameters are kept silently. */
function loadEnvironments(files: string[]): Env {
    const env: Env = { params: {}, registry: {}, files: [] };
    for (const f of files) {
        const p = absPath(f);
        if (!fs.existsSync(p))
            throw new CommandError(
                `ERROR: Could not fetch contents for file://${p}\n[Errno 2] No such file or directory: '${p}'`,
            );
        let doc: { parameter_defaults?: Params; resource_registry?: Record<string, string>; parameters?: Params };
        try {
            doc = (parse(fs.readFileSync(p, "utf8")) ?? {}) as typeof doc;
        } catch (e) {
            throw new CommandError(
                `ERROR: Error parsing environment file ${p}: ${(e as Error).message.split("\n")[0]}`,
            );
        }
        Object.assign(env.params, doc.parameters ?? {}, doc.parameter_defaults ?? {});
        Object.assign(env.registry, doc.resource_registry ?? {});
        env.files.push(p);
    }
    return env;
}

function heatConstraint(param: string, value: unknown, pattern: string): CommandError {
    return new CommandError(
        `ERROR: Heat Stack create failed.\nERROR: Failed to validate: Parameter '${param}' is invalid: "${String(value)}" does not match pattern "${pattern}"\n` +
            `tripleoclient.exceptions.DeploymentError: Heat Stack create failed.`,
    );
}

interface Plan {
    stack: string;
    wd: string;
    env: Env;
    roles: Array<{ name: string; ServicesDefault: string[] }>;
    central: boolean;
    hosts: string[];
    cluster?: { name: string; dir: string; fsid: string };
    warnings: string[];
    centralStack?: StackRecord;
}

function services(plan: { roles: Plan["roles"] }): Set<string> {
    return new Set(plan.roles.flatMap((r) => r.ServicesDefault.map((s) => s.replace("OS::TripleO::Services::", ""))));
}

/** Everything tripleoclient, Heat and the first config-download tasks would reject (§7, §8). */
/**
 * The checks of reference §8 a real undercloud makes only when config-download meets the nodes
 * (Heat accepts them): deployed servers, deployed Ceph, the central export, Glance multistore.
 */
function validate(
    stack: string,
    wd: string,
    env: Env,
    roles: Array<{ name: string; ServicesDefault: string[] }>,
    netFile: string | undefined,
    s: LabState,
): Plan {
    const p = env.params;
    if (netFile) {
        const np = absPath(netFile);
        if (!fs.existsSync(np)) throw new CommandError(`ERROR: Could not fetch contents for file://${np}`);
        if (!s.network)
            throw new CommandError(
                `ERROR: The networks of ${np} are not provisioned; run 'openstack overcloud network provision' first.`,
            );
        const mine = (parse(fs.readFileSync(np, "utf8")) as Array<{ name: string; name_lower?: string }>)
            .map((n) => n.name_lower ?? n.name.toLowerCase())
            .sort();
        const theirs = Object.keys(s.network.networks).sort();
        if (JSON.stringify(mine) !== JSON.stringify(theirs))
            throw new CommandError(
                `ERROR: Network data ${np} (networks ${mine.join(", ")}) differs from the provisioned networks (${theirs.join(", ")}, from ${s.network.dataFile}). All stacks of one undercloud must use the same network data file.`,
            );
    }
    const plan: Plan = { stack, wd, env, roles, central: false, hosts: [], warnings: [] };
    const svc = services(plan);
    plan.central = svc.has("Keystone");

    // Heat parameter constraints.
    if (p.CephClusterName !== undefined && !/^[a-zA-Z0-9]+$/.test(String(p.CephClusterName)))
        throw heatConstraint("CephClusterName", p.CephClusterName, "[a-zA-Z0-9]+");
    if (p.GlanceBackendID !== undefined && !/^[a-zA-Z0-9_-]+$/.test(String(p.GlanceBackendID)))
        throw heatConstraint("GlanceBackendID", p.GlanceBackendID, "[a-zA-Z0-9_-]+");

    // Deployed servers: the metal output of this stack's node provision.
    const hm = p.HostnameMap as Record<string, string> | undefined;
    if (!p.DeployedServerPortMap || !hm)
        throw new CommandError(
            `ERROR: Stack ${stack}: no DeployedServerPortMap/HostnameMap in the environment. Pre-provisioned nodes are required: add -e deployed-metal-${stack}.yaml (output of 'openstack overcloud node provision').`,
        );
    // The provisioned hosts: HostnameMap also names the instances marked `provisioned: false`
    // (their indexes are in <Role>RemovalPolicies), which have no ctlplane port.
    const ports = new Set(Object.keys(p.DeployedServerPortMap as object).map((k) => k.toLowerCase()));
    plan.hosts = [...new Set(Object.values(hm))].filter((h) => ports.has(`${h.toLowerCase()}-ctlplane`));
    for (const h of plan.hosts) {
        const n = s.nodes.find((x) => x.hostname === h);
        if (!n || n.stack !== stack || n.provisionState !== "active")
            throw new CommandError(
                `ERROR: Host ${h} in HostnameMap is not a provisioned node of stack ${stack}${n?.stack ? ` (it belongs to stack ${n.stack})` : ""}.`,
            );
    }

    // Deployed Ceph (§8.4, §8.8).
    const cephServer = svc.has("CephMon") || svc.has("CephOSD");
    const cluster = s.cephClusters.find((c) => c.stack === stack);
    if (cephServer) {
        if (p.DeployedCeph !== true || !p.CephClusterFSID)
            throw new CommandError(
                `ERROR: Stack ${stack} has Ceph services but no deployed Ceph: add -e deployed-ceph-${stack}.yaml (output of 'openstack overcloud ceph deploy').`,
            );
        if (!cluster)
            throw new CommandError(
                `ERROR: Stack ${stack}: CephClusterFSID ${p.CephClusterFSID} is not a Ceph cluster deployed on this stack's nodes ('openstack overcloud ceph deploy --stack ${stack}' first).`,
            );
        const owner = s.cephClusters.find((c) => c.fsid === p.CephClusterFSID);
        if (owner && owner.stack !== stack)
            throw new CommandError(
                `ERROR: Stack ${stack} would reuse the FSID ${p.CephClusterFSID} of stack ${owner.stack}'s Ceph cluster ${owner.name}. Each site needs its own deployed-ceph-${stack}.yaml (the stack export drops ceph.* for this reason).`,
            );
        if (cluster.fsid !== p.CephClusterFSID)
            throw new CommandError(
                `ERROR: CephClusterFSID ${p.CephClusterFSID} does not match the Ceph cluster of stack ${stack} (fsid ${cluster.fsid}); re-run 'openstack overcloud ceph deploy' or use its output.`,
            );
        if (String(p.CephClusterName ?? "ceph") !== cluster.name)
            throw new CommandError(
                `ERROR: CephClusterName ${String(p.CephClusterName ?? "ceph")} does not match the deployed Ceph cluster ${cluster.name} of stack ${stack}.`,
            );
        if (!cluster.running)
            throw new CommandError(
                `fatal: [${plan.hosts[0]}]: FAILED! => {"msg": "Ceph cluster ${cluster.name} (fsid ${cluster.fsid}) is not reachable: its daemons are down"}\nERROR: Ceph cluster ${cluster.name} of stack ${stack} is not running.`,
            );
        plan.cluster = { name: cluster.name, dir: cluster.dir, fsid: cluster.fsid };
    }

    // DCN (§8.8): the central stack export, edge services, no reuse of central Ceph identity.
    if (!plan.central) {
        const cloud = p.AuthCloudName as string | undefined;
        if (!p.EndpointMapOverride || !cloud)
            throw new CommandError(
                `ERROR: Stack ${stack} has no control plane and no central stack export: add -e control-plane-export.yaml (EndpointMapOverride, AuthCloudName and the central passwords) so it can join the central cloud.`,
            );
        const central = s.stacks.find((x) => x.name === cloud);
        if (!central || !central.deployed || !central.central)
            throw new CommandError(
                `ERROR: Stack ${stack}: central stack ${cloud} (AuthCloudName of the export) is not deployed successfully on this undercloud; deploy it first.`,
            );
        plan.centralStack = central;
        if (central.deployedFsid && p.CephClusterFSID === central.deployedFsid)
            throw new CommandError(
                `ERROR: Stack ${stack} would reuse the central CephClusterFSID ${central.deployedFsid}.`,
            );
        if (central.deployedClientKey && p.CephClientKey === central.deployedClientKey)
            throw new CommandError(
                `ERROR: Stack ${stack} would reuse the central CephClientKey; each site needs its own key (remove it from the environment).`,
            );
        for (const r of roles) {
            const edge = r.ServicesDefault.map((x) => x.replace("OS::TripleO::Services::", "")).filter((x) =>
                EDGE_SERVICES.includes(x),
            );
            const unmapped = edge.filter(
                (x) =>
                    !env.registry[`OS::TripleO::Services::${x}`] ||
                    env.registry[`OS::TripleO::Services::${x}`] === "OS::Heat::None",
            );
            if (unmapped.length)
                throw new CommandError(
                    `ERROR: Role ${r.name} of stack ${stack} uses edge services ${unmapped.join(", ")} which are mapped to OS::Heat::None; include environments/dcn-storage.yaml (or dcn.yaml).`,
                );
        }
    }

    // Glance multistore (§8.6).
    const multi = (p.GlanceMultistoreConfig ?? {}) as Record<
        string,
        { GlanceBackend?: string; CephClusterName?: string; CephClientUserName?: string }
    >;
    const ext = (p.CephExternalMultiConfig ?? []) as Array<{
        cluster: string;
        fsid?: string;
        keys?: Array<{ name: string; key?: string }>;
        dashboard_enabled?: boolean;
    }>;
    const defaultId = String(p.GlanceBackendID ?? "default_backend");
    if (multi[defaultId])
        throw new CommandError(
            `ERROR: GlanceBackendID ${defaultId} collides with a GlanceMultistoreConfig store of the same id; store ids must be unique.`,
        );
    const names = ext.map((e) => e.cluster);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup)
        throw new CommandError(
            `ERROR: CephExternalMultiConfig lists cluster ${dup} twice; cluster names must be unique.`,
        );
    if (ext.some((e) => e.dashboard_enabled !== false))
        throw new CommandError(
            `ERROR: CephExternalMultiConfig: dashboard_enabled must be false for every external cluster.`,
        );
    const defaultUser = String(p.CephClientUserName ?? "openstack");
    for (const [id, st] of Object.entries(multi)) {
        if ((st.GlanceBackend ?? "rbd") !== "rbd") continue;
        const cname = st.CephClusterName ?? "ceph";
        const user = st.CephClientUserName ?? defaultUser;
        const item = ext.find((e) => e.cluster === cname);
        if (!item)
            throw new CommandError(
                `fatal: [${plan.hosts[0]}]: FAILED! => {"msg": "Could not find /etc/ceph/${cname}.conf"}\nERROR: GlanceMultistoreConfig store ${id} uses Ceph cluster ${cname}, but CephExternalMultiConfig has no item for cluster ${cname} (add -e of the 'openstack overcloud export ceph' file).`,
            );
        if (!(item.keys ?? []).some((k) => k.name === `client.${user}`))
            throw new CommandError(
                `fatal: [${plan.hosts[0]}]: FAILED! => {"msg": "Could not find /etc/ceph/${cname}.client.${user}.keyring"}\nERROR: GlanceMultistoreConfig store ${id}: CephExternalMultiConfig item ${cname} has no key client.${user}.`,
            );
        const real = s.cephClusters.find((c) => c.fsid === item.fsid);
        if (!real || !real.running || !real.pools)
            plan.warnings.push(
                `WARNING: Glance store ${id} is configured but unusable: Ceph cluster ${cname} (fsid ${item.fsid}) ${!real ? "is unknown" : !real.running ? "is down" : "has no pools/keys yet"}.`,
            );
    }
    if (
        Object.keys(multi).length &&
        !String(p.GlanceEnabledImportMethods ?? "web-download")
            .split(",")
            .includes("copy-image")
    )
        plan.warnings.push(
            `WARNING: GlanceEnabledImportMethods does not include copy-image; images cannot be copied between stores.`,
        );
    return plan;
}

function vipOf(p: Params, net: string, fallback: string): string {
    const m = p.VipPortMap as Record<string, { ip_address?: string }> | undefined;
    return m?.[net]?.ip_address ?? fallback;
}

function endpointMap(p: Params): Record<string, unknown> {
    const pub = vipOf(p, "external_cloud_0", "10.0.0.5");
    const internal = vipOf(p, "internal_api_cloud_0", "172.16.2.110");
    // THT 18's endpoint map (network/endpoints/endpoint_data.yaml): every service, whether the stack
    // runs it or not, each with the fields of its EndpointMap output. URIs are the lab's: no suffix.
    const ep = (host: string, port: string, proto = "http") => ({
        host,
        host_nobrackets: host,
        port,
        protocol: proto,
        uri: `${proto}://${host}:${port}`,
        uri_no_suffix: `${proto}://${host}:${port}`,
    });
    const map: Record<string, unknown> = {};
    const all = (svc: string, port: string, admin = port) => {
        map[`${svc}Public`] = ep(pub, port);
        map[`${svc}Internal`] = ep(internal, port);
        map[`${svc}Admin`] = ep(internal, admin);
    };
    for (const [svc, port] of [
        ["Aodh", "8042"],
        ["Barbican", "9311"],
        ["CephRgw", "8080"],
        ["Cinder", "8776"],
        ["CinderV3", "8776"],
        ["Designate", "9001"],
        ["Gnocchi", "8041"],
        ["Heat", "8004"],
        ["HeatCfn", "8000"],
        ["Ironic", "6385"],
        ["IronicInspector", "5050"],
        ["Manila", "8786"],
        ["ManilaV1", "8786"],
        ["Neutron", "9696"],
        ["Nova", "8774"],
        ["NovaVNCProxy", "6080"],
        ["Octavia", "9876"],
        ["Placement", "8778"],
        ["Swift", "8080"],
        ["SwiftS3", "8080"],
    ] as const)
        all(svc, port);
    all("Keystone", "5000", "35357");
    all("KeystoneV3", "5000", "35357");
    all("Glance", "9292");
    map.CephDashboardInternal = ep(internal, "8444");
    map.CephGrafanaInternal = ep(internal, "3100");
    map.DockerRegistryInternal = ep(internal, "8787");
    map.GaneshaInternal = ep(internal, "2049", "nfs");
    map.HorizonPublic = ep(pub, "80");
    map.MetricsQdrPublic = ep(pub, "5666", "amqp");
    map.MysqlCellInternal = ep(internal, "3306", "mysql+pymysql");
    map.MysqlInternal = ep(internal, "3306", "mysql+pymysql");
    map.NovaMetadataCellInternal = ep(internal, "8775");
    map.NovaMetadataInternal = ep(internal, "8775");
    map.NovaVNCProxyCellPublic = ep(pub, "6080");
    return map;
}

function rcText(stack: string, cloud: string, url: string, password: string): string {
    return [
        `# Clear any old environment that may conflict.`,
        `for key in $( set | awk -F= '/^OS_/ {print $1}' ); do unset "\${key}" ; done`,
        `export OS_CLOUD=${cloud}`,
        `export OS_USERNAME=admin`,
        `export OS_PROJECT_NAME=admin`,
        `export OS_USER_DOMAIN_NAME=Default`,
        `export OS_PROJECT_DOMAIN_NAME=Default`,
        `export OS_PASSWORD=${password}`,
        `export OS_AUTH_URL=${url}`,
        `export OS_AUTH_TYPE=password`,
        `export OS_IDENTITY_API_VERSION=3`,
        `export OS_REGION_NAME=regionOne`,
        `export OS_CLOUDNAME=${stack}`,
        `export NOVA_VERSION=1.1`,
        `export COMPUTE_API_VERSION=1.1`,
        `export OS_NO_CACHE=True`,
        `export PYTHONWARNINGS='ignore:Certificate has no, ignore:A true SSLContext object is not available'`,
        `# Add OS_CLOUDNAME to PS1`,
        'if [ -z "${CLOUDPROMPT_ENABLED:-}" ]; then',
        '    export PS1=${PS1:-""}',
        '    export PS1=\\${OS_CLOUDNAME:+"(\\$OS_CLOUDNAME)"}\\ $PS1',
        "    export CLOUDPROMPT_ENABLED=1",
        "fi",
        ``,
    ].join("\n");
}

/** Heat phase: stack create + config generation in the (single) ephemeral Heat. */
async function heatPhase(plan: Plan, a: ReturnType<typeof parseArgs>): Promise<void> {
    const minutes = plan.central ? 20 : 10;
    const session: HeatSession = launchHeat(plan.stack, plan.wd, !!a.opts.rm_heat);
    let shared = false;
    const tick = () => {
        checkHeat(session);
        const h = JSON.parse(fs.readFileSync(path.join(process.env.LAB_DIR!, "heat.json"), "utf8"));
        if (h.pod?.shared) shared = true;
    };
    try {
        out(`Creating Heat stack ${plan.stack} (timeout ${a.opts.timeout} min)`);
        const steps = [
            "Create stack",
            `${plan.stack}.Networks`,
            `${plan.stack}.ServiceNetMap`,
            `${plan.stack}.RoleData`,
            `${plan.stack}.DeployedServerEnvironment`,
            "Stack CREATE_COMPLETE",
            "Generate config-download",
        ];
        const total = simMs(minutes);
        const t0 = Date.now();
        for (let i = 0; i < steps.length; i++) {
            await sleep(Math.max(0, t0 + (total * (i + 1)) / steps.length - Date.now()));
            tick();
            out(
                `${new Date().toISOString()} [${plan.stack}]: ${steps[i]}${i < steps.length - 2 ? " CREATE_IN_PROGRESS" : ""}`,
            );
        }
        tick();
    } catch (e) {
        killHeat(session, plan.wd);
        throw e;
    }
    const r = killHeat(session, plan.wd);
    if (shared || r.shared) {
        throw new CommandError(
            `${new Date().toISOString()} [${plan.stack}]: CREATE_FAILED Resource CREATE failed: Engine went away during stack operation (ephemeral-heat was shared with another 'overcloud deploy'${r.others.length ? `: ${r.others.join(", ")}` : ""})\n` +
                `ERROR: Heat Stack create failed.\ntripleoclient.exceptions.DeploymentError: Heat Stack create failed.`,
        );
    }
}

export const deploy: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, deployOpts(), 0);
    const stack = String(a.opts.stack);
    if (!/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(stack))
        throw new CommandError(
            `ERROR: Invalid stack name ${stack}: must start with a letter and contain only letters, digits, '_', '-', '.'`,
        );
    const wd = workingDir(stack, str(a.opts.working_dir));
    const cdOnly = !!a.opts.config_download_only || !!a.opts.setup_only;
    const stackOnly = !!a.opts.stack_only;
    if (cdOnly && stackOnly)
        throw new CommandError(`ERROR: --stack-only cannot be combined with --setup-only or --config-download-only`);
    const rolesPath = absPath(str(a.opts.roles_file) ?? thtPath("roles_data.yaml"));
    if (!fs.existsSync(rolesPath)) throw new CommandError(`ERROR: Could not fetch contents for file://${rolesPath}`);
    const plan = validate(
        stack,
        wd,
        loadEnvironments((a.opts.environment_file as string[] | undefined) ?? []),
        readRolesFile(rolesPath),
        str(a.opts.networks_file),
        readState(),
    );
    for (const w of plan.warnings) out(w);
    const hosts = plan.hosts;
    fs.mkdirSync(wd, { recursive: true });
    markDeploying(plan);
    setDeploymentStatus(wd, stack, "DEPLOYING");
    const fail = (e: unknown) => {
        withState((s) => {
            const st = s.stacks.find((x) => x.name === stack);
            if (st) st.status = "DEPLOY_FAILED";
        });
        setDeploymentStatus(wd, stack, "DEPLOY_FAILED");
        throw e;
    };
    const p = plan.env.params;
    const passFile = path.join(wd, `${stack}-passwords.yaml`);
    const outputsDir = path.join(wd, "outputs");
    try {
        if (!cdOnly) {
            await heatPhase(plan, a);
            // Passwords: user values (e.g. from the central export) win, others generated once.
            const old = fs.existsSync(passFile)
                ? ((parse(fs.readFileSync(passFile, "utf8")) as { parameter_defaults?: Params }).parameter_defaults ??
                  {})
                : {};
            const pw: Params = {};
            for (const n of PASSWORD_NAMES) pw[n] = p[n] ?? old[n] ?? generatePassword(n);
            writeOut(passFile, stringify({ parameter_defaults: pw }), 0o600);
            const em = plan.central ? endpointMap(p) : ((p.EndpointMapOverride as Params) ?? {});
            const internal = vipOf(p, "internal_api_cloud_0", "172.16.2.110");
            writeOut(path.join(outputsDir, "EndpointMap"), JSON.stringify(em, null, 2));
            writeOut(
                path.join(outputsDir, "HostsEntry"),
                JSON.stringify([
                    `${internal} overcloud.internalapi.mydomain.tld`,
                    ...hosts.map((h, i) => `172.16.2.${60 + i} ${h}.internalapi.mydomain.tld ${h}`),
                ]),
            );
            // THT's GlobalConfig output: the central messaging and memcached settings; none on a DCN stack.
            const messaging = (kind: string, password: unknown) => ({
                [`oslo_messaging_${kind}_password`]: password,
                [`oslo_messaging_${kind}_port`]: 5672,
                [`oslo_messaging_${kind}_scheme`]: "rabbit",
                [`oslo_messaging_${kind}_use_ssl`]: "False",
                [`oslo_messaging_${kind}_user_name`]: "guest",
            });
            writeOut(
                path.join(outputsDir, "GlobalConfig"),
                JSON.stringify(
                    plan.central
                        ? {
                              memcached_authtoken_port: 11211,
                              memcached_port: 11211,
                              ...messaging("notify", pw.NotifyPassword),
                              ...messaging("rpc", pw.RpcPassword),
                              ovn_db_clustered: true,
                          }
                        : {},
                ),
            );
            writeOut(
                path.join(outputsDir, "AuthCloudName"),
                JSON.stringify(plan.central ? stack : String(p.AuthCloudName)),
            );
            const cd = path.join(wd, "config-download", stack);
            writeOut(path.join(cd, "deploy_steps_playbook.yaml"), `- hosts: allovercloud\n  name: Deploy ${stack}\n`);
            // THT common/deploy-steps.j2's scale playbook (`overcloud node delete` runs it).
            writeOut(
                path.join(cd, "scale_playbook.yaml"),
                `- hosts: DEPLOY_TARGET_HOST\n  name: Scaling\n  ignore_unreachable: true\n  tags: [scale]\n`,
            );
            writeOut(
                path.join(cd, "tripleo-ansible-inventory.yaml"),
                fs.existsSync(path.join(wd, "tripleo-ansible-inventory.yaml"))
                    ? fs.readFileSync(path.join(wd, "tripleo-ansible-inventory.yaml"), "utf8")
                    : "{}\n",
            );
            writeOut(
                path.join(wd, "environment", "merged.json"),
                JSON.stringify({ files: plan.env.files, parameter_names: Object.keys(p).sort() }, null, 2),
            );
            if (stackOnly) {
                writeStackExports(stack, wd, plan.central ? stack : String(p.AuthCloudName));
                withState((s) => {
                    const st = s.stacks.find((x) => x.name === stack)!;
                    st.status = "DEPLOYING";
                });
                // tripleoclient records the run's outcome, whichever phases it ran.
                setDeploymentStatus(wd, stack, "DEPLOY_SUCCESS");
                out(
                    `Stack ${stack} created (--stack-only); run again with --config-download-only (or --setup-only) to configure the nodes.`,
                );
                return 0;
            }
        } else if (!fs.existsSync(path.join(wd, "config-download", stack))) {
            throw new CommandError(
                `ERROR: config-download directory ${path.join(wd, "config-download", stack)} does not exist: the stack ${stack} was not created. Run 'openstack overcloud deploy --stack-only' first.`,
            );
        }
        if (a.opts.setup_only) {
            await ansible(
                `Overcloud setup ${stack}`,
                3,
                [
                    "tripleo_create_admin : Create tripleo-admin user",
                    "tripleo_create_admin : Authorize keys",
                    "Wait for nodes to be reachable",
                ],
                hosts,
            );
            out(`Setup of ${stack} done (--setup-only).`);
            return 0;
        }
        const siteKey = await configureNodes(plan);
        if (!a.opts.config_download_only) finalHeatKill(stack);

        // Outputs: stack export, cell export, rc file, clouds.yaml, aggregate.
        const pw = (parse(fs.readFileSync(passFile, "utf8")) as { parameter_defaults: Params }).parameter_defaults;
        // A full deploy writes the exports at its end; `--config-download-only` has no stack phase.
        if (!cdOnly) writeStackExports(stack, wd, plan.central ? stack : String(p.AuthCloudName));
        const cloud = plan.central ? stack : String(p.AuthCloudName);
        const keystone = plan.central
            ? `http://${vipOf(p, "external_cloud_0", "10.0.0.5")}:5000`
            : ((p.EndpointMapOverride as Record<string, { uri: string }>).KeystonePublic?.uri ??
              plan.centralStack!.keystoneUrl!);
        const adminPassword = String(pw.AdminPassword);
        const rc = [rcText(stack, cloud, keystone, adminPassword), ...glanceRcLines(cloud), ""].join("\n");
        writeOut(path.join(wd, `${stack}rc`), rc, 0o600);
        writeOut(path.join(home(), `${stack}rc`), rc, 0o600);
        writeClouds(stack, keystone, adminPassword);
        recordDeployed(plan, keystone, adminPassword, siteKey);
        setDeploymentStatus(wd, stack, "DEPLOY_SUCCESS");
        out(`Overcloud Endpoint: ${keystone}`);
        out(`Overcloud Deployed without error`);
        out(`Overcloud rc file: ${path.join(wd, `${stack}rc`)} and ${path.join(home(), `${stack}rc`)}`);
        out(`Overcloud Deploy working directory: ${wd}`);
        return 0;
    } catch (e) {
        return fail(e);
    }
};

/** tripleoclient's deployment.set_deployment_status: `<working dir>/<stack>-deployment_status.yaml`. */
function setDeploymentStatus(wd: string, stack: string, status: string): void {
    writeOut(path.join(wd, `${stack}-deployment_status.yaml`), stringify({ deployment_status: status }));
}

/** The lab's record of a deployed stack: its Keystone (central), Ceph identity, stores, AZ aggregate. */
function recordDeployed(plan: Plan, keystone: string, adminPassword: string, siteKey: string | undefined): void {
    const { stack } = plan;
    const p = plan.env.params;
    const cloud = plan.central ? stack : String(p.AuthCloudName);
    withState((s) => {
        const st = s.stacks.find((x) => x.name === stack)!;
        st.status = "DEPLOY_SUCCESS";
        st.deployed = true;
        st.central = plan.central;
        st.roles = plan.roles.map((r) => r.name);
        if (plan.central) {
            st.keystoneUrl = keystone;
            st.adminPassword = adminPassword;
        }
        st.deployedFsid = plan.cluster?.fsid;
        st.deployedClientKey = siteKey;
        const multi = (p.GlanceMultistoreConfig ?? {}) as Record<string, { CephClusterName?: string }>;
        st.glanceStores = {
            [String(p.GlanceBackendID ?? "default_backend")]: String(p.CephClusterName ?? "ceph"),
            ...Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v.CephClusterName ?? "ceph"])),
        };
        ((s as GlanceLabState).availabilityZones ??= {})[stack] = String(p.NovaComputeAvailabilityZone || stack);
        const roleServices = new Map(
            plan.roles.map((r) => [
                r.name,
                new Set(r.ServicesDefault.map((x) => x.replace("OS::TripleO::Services::", ""))),
            ]),
        );
        registerServices(s, {
            stack,
            cloud,
            central: plan.central,
            cinderZone: String(p.CinderStorageAvailabilityZone || "nova"),
            cinderCluster: String(p.CinderVolumeCluster ?? ""),
            nodes: s.nodes
                .filter((n) => n.stack === stack && n.hostname)
                .map((n) => ({
                    fqdn: `${n.hostname}.localdomain`,
                    services: roleServices.get(n.role ?? "") ?? new Set(),
                })),
            pacemakerCinderVolume: services(plan).has("CinderVolume"),
        });
        if (!plan.central) {
            const az = String(p.NovaComputeAvailabilityZone || stack);
            const computeHosts = s.nodes.filter((n) => n.stack === stack).map((n) => `${n.hostname}.localdomain`);
            const agg = s.aggregates.find((x) => x.name === az && x.cloud === cloud);
            // Hosts gone from the stack (scaled down) leave the aggregate; the others stay.
            const gone = (h: string) => !s.nodes.some((n) => `${n.hostname}.localdomain` === h && n.stack !== null);
            if (agg) agg.hosts = [...new Set([...agg.hosts.filter((h) => !gone(h)), ...computeHosts])];
            else
                s.aggregates.push({
                    name: az,
                    availabilityZone: az,
                    hosts: computeHosts,
                    cloud,
                    createdAt: new Date().toISOString(),
                });
        }
    });
}

/**
 * What config-download does on the nodes, as the lab's hardware has it (the simulated
 * deploy_steps_playbook.yaml): the Ceph pools and keys cephadm.yaml makes during the deploy, the
 * nodes' /etc/ceph, the Glance API (real glance-api), the central AZ aggregate and services, and
 * the files the real run leaves on the undercloud (group_vars/overcloud.json, the cephadm dir,
 * ceph_client.yml). Returns the client key the site uses.
 */
async function configureNodes(plan: Plan): Promise<string | undefined> {
    const { stack, wd, hosts } = plan;
    const p = plan.env.params;
    const cd = path.join(wd, "config-download", stack);
    let resultKey: string | undefined;
    // config-download (Ansible): no Heat.
    const minutes = plan.central ? 70 : 35;
    await ansible(
        `Deploy step tasks for ${stack}`,
        minutes * 0.8,
        [
            "tripleo_hosts_entries : Prepare /etc/hosts",
            "Deploy step 1",
            "Deploy step 2",
            "tripleo_ceph_client : Push ceph files to /etc/ceph",
            "Deploy step 3",
            "Deploy step 4",
            "Deploy step 5",
            "Server Post Deployments",
        ],
        hosts,
    );
    // cephadm.yaml creates the missing pools and the openstack key during deploy (§5.2).
    if (plan.cluster) {
        const info = await cephClusterInfo(plan.cluster.dir);
        if (!info?.running)
            throw new CommandError(
                `fatal: [${hosts[0]}]: FAILED! => {"msg": "Ceph cluster ${plan.cluster.name} is not reachable"}`,
            );
        const user = String(p.CephClientUserName ?? "openstack");
        // tripleo_cephadm's pools and keys from THT (CephPools, CephClientKey): `ceph auth import`
        // makes the cluster's key the one Heat was given.
        const wanted = typeof p.CephClientKey === "string" ? p.CephClientKey : undefined;
        let key = await getClientKey(plan.cluster.dir, user);
        if (
            !key ||
            (wanted && wanted !== key) ||
            !readState().cephClusters.find((c) => c.dir === plan.cluster!.dir)?.pools
        ) {
            await createPools(
                plan.cluster.dir,
                (
                    (p.CephPools as Array<{ name: string }> | undefined) ?? [
                        { name: "vms" },
                        { name: "volumes" },
                        { name: "images" },
                    ]
                ).map((x) => x.name),
            );
            key = await ensureClientKey(plan.cluster.dir, user, wanted);
            withState((s) => {
                s.cephClusters.find((c) => c.dir === plan.cluster!.dir)!.pools = true;
            });
        }
        // tripleo_run_cephadm's dir (what `overcloud export ceph` looks for) and CephClientConfigVars.
        writeOut(path.join(cd, "cephadm", "cephadm_command.log"), `cephadm (lab): ${info.name} ${info.fsid}\n`);
        writeOut(
            path.join(cd, "cephadm", "cephadm-extra-vars-heat.yml"),
            stringify({ tripleo_cephadm_cluster: info.name, tripleo_cephadm_fsid: info.fsid }),
        );
        writeCephClientVars(
            typeof p.CephClientConfigVars === "string" ? p.CephClientConfigVars : path.join(wd, "ceph_client.yml"),
            info.fsid,
            info.name,
            info.monIps,
            user,
            key,
        );
        plan.cluster.fsid = info.fsid;
        resultKey = key;
    }
    // Real Glance (lab/glance): glance_api (central) or glance_api_edge, from this deploy's -e files.
    const svcs = services(plan);
    const glanceTask = plan.central ? "glance_api" : "glance_api_edge";
    if (plan.cluster && (svcs.has("GlanceApi") || svcs.has("GlanceApiEdge"))) {
        const c = plan.cluster;
        const info = await cephClusterInfo(c.dir);
        out(`\nTASK [tripleo_container_manage : Start ${glanceTask} container] ${"*".repeat(20)}`);
        let started: Awaited<ReturnType<typeof deployGlance>>;
        try {
            started = await deployGlance({
                stack,
                params: plan.env.params,
                central: plan.central,
                hasGlance: true,
                centralStack: plan.central ? undefined : String(p.AuthCloudName),
                ownCluster: {
                    name: c.name,
                    fsid: info?.fsid ?? c.fsid,
                    monHost: info?.monIps ?? "",
                    clientKey: resultKey,
                },
            });
        } catch (e) {
            const msg = (e as Error).message.replace(/\s+/g, " ").slice(0, 1500);
            throw new CommandError(
                `fatal: [${hosts[0]}]: FAILED! => {"changed": false, "msg": ${JSON.stringify(`${glanceTask} failed to start: ${msg}`)}}\n` +
                    `ERROR: Deployment of ${stack} failed: ${glanceTask} could not start (see the failed task above).`,
            );
        }
        if (started) {
            for (const pr of started.problems) out(`[WARNING]: ${glanceTask}: ${pr}`);
            out(
                `ok: [${hosts[0]}] => ${glanceTask} running at ${started.url}, stores ${started.stores.join(",")} (${started.seconds.toFixed(1)} s)`,
            );
        }
    }
    await ansible(
        `Post deploy ${stack}`,
        minutes * 0.2,
        plan.central
            ? ["Keystone endpoints", "Nova cell discovery", "Glance stores"]
            : [
                  "nova_az_config : Create host aggregate and AZ in the central cloud",
                  "Cinder volume service registration",
              ],
        hosts.slice(0, 1),
    );
    // tripleo_all_nodes_data (the first deploy step) writes the all-nodes data `overcloud export` reads.
    const internal = vipOf(p, "internal_api_cloud_0", "172.16.2.110");
    writeOut(
        path.join(cd, "group_vars", "overcloud.json"),
        JSON.stringify(
            {
                oslo_messaging_rpc_node_names: hosts.map((h) => `${h}.internalapi.mydomain.tld`),
                oslo_messaging_notify_node_names: hosts.map((h) => `${h}.internalapi.mydomain.tld`),
                oslo_messaging_notify_short_bootstrap_node_name: hosts[0],
                memcached_node_ips: hosts.map((_, i) => `172.16.2.${60 + i}`),
                ovn_dbs_vip: internal,
                ovn_dbs_node_ips: hosts.map((_, i) => `172.16.2.${60 + i}`),
                redis_vip: internal,
            },
            null,
            2,
        ),
    );
    return resultKey;
}

/**
 * `<stack>-export.yaml` and `<stack>-cell-export.yaml`, as tripleoclient's deploy writes them at the
 * end of every run that had a Heat phase (v1/overcloud_deploy.py `_export_stack`, in the finally
 * after the stack phase): a `--stack-only` run's export has no AllNodesExtraMapData yet.
 */
function writeStackExports(stack: string, wd: string, authCloud: string): void {
    const exported = exportParams(stack, wd, authCloud);
    writeOut(path.join(wd, `${stack}-export.yaml`), stringify({ parameter_defaults: exported }), 0o600);
    const cell = {
        ...exported,
        AllNodesExtraMapData: pick(exported.AllNodesExtraMapData as Params, [
            "oslo_messaging_notify_short_bootstrap_node_name",
            "oslo_messaging_notify_node_names",
            "oslo_messaging_rpc_node_names",
            "memcached_node_ips",
            "ovn_dbs_vip",
            "ovn_dbs_node_ips",
            "redis_vip",
        ]),
    };
    writeOut(path.join(wd, `${stack}-cell-export.yaml`), stringify({ parameter_defaults: cell }), 0o600);
}

function pick(o: Params | undefined, keys: string[]): Params {
    return Object.fromEntries(keys.filter((k) => o && k in o).map((k) => [k, o![k]]));
}

/** tripleoclient export.py export_overcloud: passwords minus ceph.*, outputs, group vars (§4.4). */
function exportParams(stack: string, wd: string, authCloud: string): Params {
    const passFile = path.join(wd, `${stack}-passwords.yaml`);
    if (!fs.existsSync(passFile))
        throw new CommandError(
            `ERROR: Passwords file ${passFile} not found: stack ${stack} was not deployed from this undercloud (or its working directory was removed).`,
        );
    const pw = (parse(fs.readFileSync(passFile, "utf8")) as { parameter_defaults: Params }).parameter_defaults;
    const out: Params = { AddVipsToEtcHosts: false, AuthCloudName: authCloud };
    for (const [k, v] of Object.entries(pw)) if (!/^ceph/i.test(k)) out[k] = v;
    const read = (name: string) => {
        const f = path.join(wd, "outputs", name);
        const v = fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as unknown) : undefined;
        // export.py `if export_data:`: a missing or empty output is not exported.
        if (!v || (typeof v === "object" && !Object.keys(v).length)) {
            process.stdout.write(`No data returned to export ${name} from.\n`);
            return undefined;
        }
        return v;
    };
    const em = read("EndpointMap");
    if (em) out.EndpointMapOverride = em;
    const he = read("HostsEntry");
    if (he) out.ExtraHostFileEntries = he;
    const gc = read("GlobalConfig");
    if (gc) out.GlobalConfigExtraMapData = gc;
    const gv = path.join(wd, "config-download", stack, "group_vars", "overcloud.json");
    if (fs.existsSync(gv)) out.AllNodesExtraMapData = JSON.parse(fs.readFileSync(gv, "utf8"));
    return out;
}

function writeClouds(stack: string, url: string, password: string): void {
    const p = path.join(home(), ".config", "openstack", "clouds.yaml");
    const doc = fs.existsSync(p) ? ((parse(fs.readFileSync(p, "utf8")) ?? {}) as { clouds?: Params }) : {};
    doc.clouds = {
        ...(doc.clouds ?? {}),
        [stack]: {
            auth: {
                auth_url: url,
                username: "admin",
                password,
                project_name: "admin",
                user_domain_name: "Default",
                project_domain_name: "Default",
            },
            region_name: "regionOne",
            identity_api_version: "3",
        },
    };
    writeOut(p, stringify(doc), 0o600);
}

export const stackExport: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["--stack"], value: true, default: "overcloud" },
            { names: ["--output-file", "-o"], value: true },
            { names: ["--force-overwrite", "-f"] },
            { names: ["--working-dir"], value: true },
            { names: ["--config-download-dir"], value: true },
            { names: ["--no-password-excludes"] },
        ],
        0,
    );
    const stack = String(a.opts.stack);
    const outPath = absPath(str(a.opts.output_file) ?? `${stack}-export.yaml`);
    if (fs.existsSync(outPath) && !a.opts.force_overwrite)
        throw new CommandError(`File '${outPath}' already exists, not exporting.`);
    const wd = workingDir(stack, str(a.opts.working_dir));
    const st = readState().stacks.find((x) => x.name === stack);
    const params = exportParams(stack, wd, st?.central === false ? "control-plane" : stack);
    writeOut(outPath, stringify({ parameter_defaults: params }), 0o600);
    out(`Stack information exported to ${outPath}.`);
    return 0;
};

export const overcloudDelete: Handler = async (prog, argv) => {
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["-y", "--yes"] },
            { names: ["--stack"], value: true },
            { names: ["-s", "--skip-ipa-cleanup"] },
            { names: ["-b", "--baremetal-deployment"], value: true },
            { names: ["--networks-file"], value: true },
            { names: ["--network-ports"] },
            { names: ["--heat-type"], value: true, choices: ["pod", "container", "native"] },
        ],
        1,
    );
    const stack = a.positionals[0] ?? str(a.opts.stack);
    // `stack` is nargs='?' (default: $OVERCLOUD_STACK_NAME); _validate_args refuses none.
    if (!stack) throw new CommandError("You must specify a stack name");
    const nf = str(a.opts.networks_file);
    if (nf && !fs.existsSync(absPath(nf))) throw new CommandError(`ERROR: Networks file ${absPath(nf)} not found`);
    if (!a.opts.yes && !confirm(`Are you sure you want to delete this overcloud [y/N]?`))
        throw new CommandError("Action not confirmed, exiting.");
    const st = readState().stacks.find((x) => x.name === stack);
    const wd = path.join(home(), "overcloud-deploy", stack);
    if (!st && !fs.existsSync(wd)) {
        out(`No stack found ('${stack}'), skipping delete`);
        return 0;
    }
    await ansible(
        `Overcloud delete ${stack}`,
        5,
        ["Remove stack service VIP ports", "Remove stack working directory", "Remove config-download directory"],
        ["undercloud"],
    );
    await deleteStackGlance(stack);
    fs.rmSync(wd, { recursive: true, force: true });
    fs.rmSync(path.join(home(), "config-download", stack), { recursive: true, force: true });
    withState((s) => {
        // A central stack takes its cloud with it: the service records and volumes of its Nova and Cinder.
        if (s.stacks.find((x) => x.name === stack)?.central) dropCloudRecords(s, stack);
        s.stacks = s.stacks.filter((x) => x.name !== stack);
        delete (s as GlanceLabState).availabilityZones?.[stack];
    });
    out(`Deleted stack ${stack} (nodes untouched; unprovision them with 'openstack overcloud node unprovision').`);
    return 0;
};

export const overcloudStatus: Handler = async (prog, argv) => {
    // GetDeploymentStatus is a plain cliff Command, not a ShowOne: no -f/-c; it prints a PrettyTable.
    const a = parseArgs(
        prog,
        argv,
        [
            { names: ["--plan", "--stack"], value: true, default: "overcloud" },
            { names: ["--working-dir"], value: true },
        ],
        0,
    );
    // deployment.get_deployment_status: the status file of the working dir (none: no deployment).
    const stack = String(a.opts.plan);
    const f = path.join(workingDir(stack, str(a.opts.working_dir)), `${stack}-deployment_status.yaml`);
    const status = fs.existsSync(f)
        ? (parse(fs.readFileSync(f, "utf8")) as { deployment_status?: string } | null)?.deployment_status
        : undefined;
    if (!status) {
        out(`No deployment was found for ${stack}`);
        return 0;
    }
    out(prettyTable(["Stack Name", "Deployment Status"], [[stack, status]]));
    return 0;
};

// ---- the overcloud APIs the seed touches: Keystone token, Nova aggregate ----

export function authenticate(): StackRecord {
    let url = process.env.OS_AUTH_URL;
    let password = process.env.OS_PASSWORD;
    const cloud = process.env.OS_CLOUD;
    if (!url && cloud) {
        const p = path.join(home(), ".config", "openstack", "clouds.yaml");
        const doc = fs.existsSync(p)
            ? (parse(fs.readFileSync(p, "utf8")) as {
                  clouds?: Record<string, { auth: { auth_url: string; password: string } }>;
              })
            : {};
        const c = doc.clouds?.[cloud];
        if (!c) throw new CommandError(`Cloud ${cloud} was not found.`);
        url = c.auth.auth_url;
        password = c.auth.password;
    }
    if (!url) throw new CommandError(`Missing value auth-url required for auth plugin password`);
    const st = readState().stacks.find((x) => x.deployed && x.central && x.keystoneUrl === url);
    if (!st)
        throw new CommandError(
            `Failed to discover available identity versions when contacting ${url}. Attempting to parse version from URL.\nUnable to establish connection to ${url}: Connection refused`,
        );
    if (password !== st.adminPassword)
        throw new CommandError(
            `The request you have made requires authentication. (HTTP 401) (Request-ID: req-${randomUUID()})`,
        );
    return st;
}

export const tokenIssue: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 0);
    authenticate();
    await sleep(simMs(0.02));
    printShow(a, {
        expires: new Date(Date.now() + 3600e3).toISOString().replace(/\.\d+Z$/, "+0000"),
        id: `gAAAAA${randomBytes(48).toString("base64url")}`,
        project_id: "f2c1b1c5e3b34b5f9b2b0b6b5d8e7a61",
        user_id: "0e2f8e1b6c7d4a3b9a1c2d3e4f5a6b7c",
    });
    return 0;
};

export const aggregateShow: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS], 1, 1);
    const st = authenticate();
    const agg = readState().aggregates.find((x) => x.cloud === st.name && x.name === a.positionals[0]);
    if (!agg) throw new CommandError(`No aggregate with a name or ID of '${a.positionals[0]}' exists.`);
    printShow(a, {
        availability_zone: agg.availabilityZone,
        created_at: agg.createdAt,
        deleted_at: null,
        hosts: agg.hosts,
        id: 1 + readState().aggregates.indexOf(agg),
        is_deleted: false,
        name: agg.name,
        properties: {},
        updated_at: null,
        uuid: randomUUID(),
    });
    return 0;
};

export const aggregateList: Handler = async (prog, argv) => {
    const a = parseArgs(prog, argv, [...COMMON_OPTS, { names: ["--long"] }], 0);
    const st = authenticate();
    const rows = readState().aggregates.filter((x) => x.cloud === st.name);
    printList(
        a,
        ["ID", "Name", "Availability Zone"],
        rows.map((r, i) => [i + 1, r.name, r.availabilityZone]),
    );
    return 0;
};

/** A `WD/outputs/<name>` file tripleoclient saved from the Heat stack (utils.save_stack: yaml.dump). */
function stackOutput(wd: string, name: string): unknown {
    const f = path.join(wd, "outputs", name);
    return fs.existsSync(f) ? parse(fs.readFileSync(f, "utf8")) : undefined;
}

/** The lab's stack record says DEPLOYING (created on the stack's first deploy). */
function markDeploying(plan: Plan): void {
    withState((s) => {
        let st = s.stacks.find((x) => x.name === plan.stack);
        if (!st) {
            st = { name: plan.stack, status: "DEPLOYING", roles: plan.roles.map((r) => r.name), deployed: false };
            s.stacks.push(st);
        }
        st.status = "DEPLOYING";
    });
}

/** Finds every value under `key` in a parsed YAML tree (Ansible task files: blocks, vars, set_fact). */
function findAll(node: unknown, key: string, out: unknown[] = []): unknown[] {
    if (Array.isArray(node)) for (const x of node) findAll(x, key, out);
    else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) {
            if (k === key) out.push(v);
            findAll(v, key, out);
        }
    }
    return out;
}

/**
 * Heat parameters the merged environment file masks (`hidden: true` in THT: cephx keys,
 * CephExternalMultiConfig, passwords) but config-download carries for the nodes, read where the
 * real run takes them: `ceph_external_multi_config` (external_deploy_steps_tasks_step1.yaml,
 * the DCN keyrings) and tripleo_run_cephadm's `ceph_keys.openstack_client` (…_step2.yaml).
 */
function hiddenParams(stackDir: string): Params {
    const out: Params = {};
    const tasks = (step: number) => {
        const f = path.join(stackDir, `external_deploy_steps_tasks_step${step}.yaml`);
        return fs.existsSync(f) ? parse(fs.readFileSync(f, "utf8")) : undefined;
    };
    const multi = findAll(tasks(1), "ceph_external_multi_config").find(Array.isArray);
    if (multi) out.CephExternalMultiConfig = multi;
    const keys = findAll(tasks(2), "ceph_keys").find((k) => k && typeof k === "object") as
        | { openstack_client?: { key?: string } }
        | undefined;
    if (keys?.openstack_client?.key) out.CephClientKey = keys.openstack_client.key;
    return out;
}

/**
 * The lab's deploy_steps_playbook.yaml (real tripleoclient's `--config-download-only` runs it from
 * `<WD>/config-download/<stack>/`): the stack as real Heat and tripleoclient left it — the merged
 * environment (`WD/environment/tripleo-<stack>-environment.yaml`), the roles and network data
 * copies, the saved outputs — checked as the nodes would (§8) and configured (configureNodes).
 */
export async function deployStepsPlaybook(playbook: string): Promise<void> {
    const stackDir = path.dirname(path.resolve(playbook));
    const stack = path.basename(stackDir);
    const wd = path.dirname(path.dirname(stackDir));
    const envFile = path.join(wd, "environment", `tripleo-${stack}-environment.yaml`);
    if (!fs.existsSync(envFile))
        throw new CommandError(`${envFile} not found: stack ${stack} was not created by 'openstack overcloud deploy'`);
    const doc = (parse(fs.readFileSync(envFile, "utf8")) ?? {}) as {
        parameters?: Params;
        parameter_defaults?: Params;
        resource_registry?: Record<string, string>;
    };
    const env: Env = {
        params: {
            // tripleoclient writes hidden parameters as "******": unknown to the lab unless config-download has them.
            ...Object.fromEntries(
                Object.entries({ ...(doc.parameters ?? {}), ...(doc.parameter_defaults ?? {}) }).filter(
                    ([, v]) => v !== "******",
                ),
            ),
            ...hiddenParams(stackDir),
        },
        registry: doc.resource_registry ?? {},
        files: [envFile],
    };
    const roles = readRolesFile(path.join(wd, `tripleo-${stack}-roles-data.yaml`));
    const netFile = path.join(wd, `tripleo-${stack}-network-data.yaml`);
    const plan = validate(stack, wd, env, roles, fs.existsSync(netFile) ? netFile : undefined, readState());
    for (const w of plan.warnings) out(`[WARNING]: ${w}`);
    markDeploying(plan);
    try {
        const siteKey = await configureNodes(plan);
        const p = plan.env.params;
        const keystone = plan.central
            ? String(stackOutput(wd, "KeystoneURL"))
            : ((p.EndpointMapOverride as Record<string, { uri: string }> | undefined)?.KeystonePublic?.uri ??
              plan.centralStack!.keystoneUrl!);
        const passFile = path.join(wd, `${stack}-passwords.yaml`);
        const pw = fs.existsSync(passFile)
            ? ((parse(fs.readFileSync(passFile, "utf8")) as { parameter_defaults?: Params }).parameter_defaults ?? {})
            : {};
        recordDeployed(plan, keystone, String(pw.AdminPassword ?? stackOutput(wd, "AdminPassword") ?? ""), siteKey);
    } catch (e) {
        withState((s) => {
            const st = s.stacks.find((x) => x.name === stack);
            if (st) st.status = "DEPLOY_FAILED";
        });
        throw e;
    }
}

/**
 * The lab's cli-overcloud-delete.yaml: the stack's service VIP ports go (the lab's Neutron), then
 * `~/config-download/<stack>` and `~/overcloud-deploy/<stack>` (as the real playbook's rm tasks);
 * the lab also stops the stack's Glance (its nodes' services are going away).
 */
export async function overcloudDeletePlaybook(stack: string): Promise<void> {
    await ansible(
        `Overcloud delete ${stack}`,
        5,
        ["Remove service VIPs", "Remove config-download directory", "Remove working directory", "Remove VIP ports"],
        ["undercloud"],
    );
    await deleteStackGlance(stack);
    fs.rmSync(path.join(home(), "config-download", stack), { recursive: true, force: true });
    fs.rmSync(path.join(home(), "overcloud-deploy", stack), { recursive: true, force: true });
    withState((s) => {
        // A central stack takes its cloud with it: the service records and volumes of its Nova and Cinder.
        if (s.stacks.find((x) => x.name === stack)?.central) dropCloudRecords(s, stack);
        s.stacks = s.stacks.filter((x) => x.name !== stack);
        delete (s as GlanceLabState).availabilityZones?.[stack];
    });
}
