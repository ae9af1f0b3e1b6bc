// Test helpers: a private lab per test file (own LAB_DIR, port, time scale), driven only like a
// user would: `npm run lab -- <cmd>` (tsx lab/cli.ts) and commands over the lab's real SSH.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sshArgs } from "../../lab/sshd";
import { type LogEntry } from "../../lab/journal";

export const REPO = path.resolve(__dirname, "..", "..");
const TSX = path.join(REPO, "node_modules", ".bin", "tsx");

export interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

export class Lab {
    readonly dir: string;
    constructor(
        readonly port: number,
        readonly timeScale = 0.02,
        dir?: string,
    ) {
        this.dir = dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `lab-test-${port}-`));
    }

    env(): NodeJS.ProcessEnv {
        return {
            ...process.env,
            LAB_DIR: this.dir,
            LAB_SSH_PORT: String(this.port),
            LAB_TIME_SCALE: String(this.timeScale),
            // The lab's own CLI (these tests exercise its simulated undercloud and its checks).
            LAB_TRIPLEO: process.env.LAB_TRIPLEO ?? "imitation",
        };
    }

    /** `npm run lab -- <args>` */
    cli(...args: string[]): Result {
        const r = spawnSync(TSX, [path.join(REPO, "lab", "cli.ts"), ...args], {
            env: this.env(),
            encoding: "utf8",
            timeout: 600_000,
        });
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    }

    start(): void {
        const r = this.cli("start");
        if (r.code !== 0) throw new Error(`lab start failed: ${r.stderr}${r.stdout}`);
    }

    stop(): void {
        this.cli("stop");
    }

    /** Runs one command on the undercloud over the lab's real SSH (like `npm run lab -- ssh -- cmd`). */
    ssh(command: string, input?: string): Promise<Result> {
        const args = sshArgs(this.dir, command);
        return new Promise((resolve) => {
            const p = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "";
            let stderr = "";
            p.stdout.on("data", (d) => (stdout += d));
            p.stderr.on("data", (d) => (stderr += d));
            p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
            p.stdin.end(input ?? "");
        });
    }

    /** Like ssh() but throws with the output when the command fails. */
    async ok(command: string, input?: string): Promise<Result> {
        const r = await this.ssh(command, input);
        if (r.code !== 0)
            throw new Error(
                `'${command}' exited ${r.code}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr}`,
            );
        return r;
    }

    /** Writes a file in the undercloud home (through SSH, as an operator would with cat). */
    async put(rel: string, text: string): Promise<void> {
        await this.ok(`mkdir -p "$(dirname ~/${rel})" && cat > ~/${rel}`, text);
    }

    state(): {
        nodes: Array<{ name: string; stack: string | null; state: string }>;
        stacks: Array<{ name: string; status: string }>;
        cephClusters: Array<{ name: string; stack: string; fsid: string; running: boolean }>;
    } {
        return JSON.parse(this.cli("state", "--json").stdout);
    }

    log(): LogEntry[] {
        return this.cli("log", "--json")
            .stdout.split("\n")
            .filter((l) => l.trim())
            .map((l) => JSON.parse(l));
    }

    destroy(): void {
        this.stop();
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

// ---- the seed (reference §3): files an operator writes, and the commands per step ----

export const ROLES: Record<string, string> = {
    "control-plane": "Controller ComputeHCI",
    dcn0: "DistributedComputeHCI DistributedComputeHCIScaleOut",
    dcn1: "DistributedCompute CephAll",
};
export const CLUSTER: Record<string, string> = { "control-plane": "central", dcn0: "dcn0", dcn1: "dcn1" };
const rolesFile = (s: string) => (s === "control-plane" ? "control_plane_roles.yaml" : "dcn_roles.yaml");

export const CENTRAL_OVERRIDES = `parameter_defaults:
  CephClusterName: central
  GlanceBackend: rbd
  GlanceBackendID: central
  GlanceStoreDescription: 'central rbd glance store'
  GlanceShowMultipleLocations: true
  GlanceEnabledImportMethods: web-download,copy-image
  NovaComputeAvailabilityZone: central
`;
export const GLANCE_UPDATE = `parameter_defaults:
  GlanceMultistoreConfig:
    dcn0: {GlanceBackend: rbd, GlanceStoreDescription: 'dcn0 rbd glance store', CephClientUserName: openstack, CephClusterName: dcn0}
    dcn1: {GlanceBackend: rbd, GlanceStoreDescription: 'dcn1 rbd glance store', CephClientUserName: openstack, CephClusterName: dcn1}
`;
export const dcnGlance = (s: string) => `parameter_defaults:
  GlanceBackend: rbd
  GlanceBackendID: ${s}
  GlanceStoreDescription: '${s} rbd glance store'
  GlanceMultistoreConfig:
    central: {GlanceBackend: rbd, GlanceStoreDescription: 'central rbd glance store', CephClientUserName: openstack, CephClusterName: central}
`;
export const dcnOverrides = (s: string) => `parameter_defaults:
  CephClusterName: ${s}
  CinderStorageAvailabilityZone: ${s}
  CinderVolumeCluster: ${s}
  NovaCrossAZAttach: false
`;

export function metalCommands(s: string): string[] {
    return [
        `mkdir -p ~/dcn/${s} && cd ~/dcn/${s} && openstack overcloud network vip provision --stack ${s} --templates ~/templates --output deployed-vips-${s}.yaml ~/vip_data.yaml`,
        `cd ~/dcn/${s} && openstack overcloud node provision --network-config --stack ${s} --templates ~/templates --concurrency 2 --output deployed-metal-${s}.yaml ~/metalsmith/${s}.yaml`,
    ];
}

export function cephCommand(s: string, pools = true): string {
    return (
        `cd ~/dcn/${s} && openstack overcloud roles generate ${ROLES[s]} -o ${rolesFile(s)} && sed s/STACK/${s}/g ~/pools_template.yml > ../pools-${s}.yml && ` +
        `openstack overcloud ceph deploy $PWD/deployed-metal-${s}.yaml -y -o $PWD/deployed-ceph-${s}.yaml --single-host-defaults --container-image-prepare ~/containers-prepare-parameter.yaml --network-data ~/oc0-network-data.yaml --roles-data ${rolesFile(s)} --cluster ${CLUSTER[s]} --stack ${s}` +
        (pools ? ` --force --ansible-extra-vars ../pools-${s}.yml` : "")
    );
}

const COMMON_E = `-e ~/templates/environments/network-environment.yaml -e ~/templates/environments/low-memory-usage.yaml -e ~/templates/environments/podman.yaml -e ~/templates/environments/docker-ha.yaml`;
const HEAT = `--heat-type pod --skip-heat-pull --heat-container-engine-image quay.io/tripleomaster/openstack-heat-all:current-tripleo --heat-container-api-image quay.io/tripleomaster/openstack-heat-all:current-tripleo`;
const SITE_E = `-n ~/oc0-network-data.yaml -e ~/containers-prepare-parameter.yaml -e ~/re-generated-container-prepare.yaml -e ~/oc0-domain.yaml -e ~/overcloud-0-yml/nova-tpm.yaml -e ~/overcloud-0-yml/network-env.yaml -e ~/xena/env_common/overrides.yaml`;
const deployed = (s: string) =>
    `-e deployed-vips-${s}.yaml -e deployed-network-${s}.yaml -e deployed-metal-${s}.yaml -e deployed-ceph-${s}.yaml`;

export function centralDeployCommand(extra = ""): string {
    const s = "control-plane";
    return `cd ~/dcn/${s} && openstack overcloud deploy --templates ~/templates --stack ${s} --timeout 90 ${HEAT} ${COMMON_E} -e ~/templates/environments/cephadm/cephadm.yaml -r control_plane_roles.yaml ${SITE_E} ${deployed(s)} -e overrides.yaml -e glance_update.yaml -e ../ceph-export-2-stacks.yaml --libvirt-type qemu ${extra}`;
}

export function dcnDeployCommand(s: string, extra = ""): string {
    return `cd ~/dcn/${s} && openstack overcloud deploy --templates ~/templates --stack ${s} --timeout 90 ${HEAT} ${COMMON_E} -e ~/templates/environments/cephadm/cephadm-rbd-only.yaml -e ~/templates/environments/dcn-storage.yaml -r dcn_roles.yaml ${SITE_E} ${deployed(s)} -e ../control-plane-export.yaml -e ../ceph-export-control-plane.yaml -e glance.yaml -e overrides.yaml --libvirt-type qemu ${extra}`;
}

/** Writes the operator's per-site files (overrides, glance) and the shared network file copy. */
export async function writeSiteFiles(lab: Lab): Promise<void> {
    await lab.put("dcn/control-plane/overrides.yaml", CENTRAL_OVERRIDES);
    await lab.put("dcn/control-plane/glance_update.yaml", GLANCE_UPDATE);
    for (const s of ["dcn0", "dcn1"]) {
        await lab.put(`dcn/${s}/glance.yaml`, dcnGlance(s));
        await lab.put(`dcn/${s}/overrides.yaml`, dcnOverrides(s));
    }
}

export const NETWORK_PROVISION = `mkdir -p ~/dcn && cd ~/dcn && openstack overcloud network provision --templates ~/templates --output deployed-network.yaml ~/oc0-network-data.yaml && for s in control-plane dcn0 dcn1; do mkdir -p $s && cp deployed-network.yaml $s/deployed-network-$s.yaml; done`;

/** Steps 1–2 (metal and ceph for one stack). */
export async function metalAndCeph(lab: Lab, s: string, pools = true): Promise<void> {
    for (const c of metalCommands(s)) await lab.ok(c);
    await lab.ok(cephCommand(s, pools));
}

export async function exportCeph(lab: Lab): Promise<void> {
    await lab.ok(
        `cd ~/dcn && openstack overcloud export ceph -f --stack control-plane --config-download-dir ~/overcloud-deploy/`,
    );
    await lab.ok(
        `cd ~/dcn && openstack overcloud export ceph -f --stack dcn0,dcn1 --config-download-dir ~/overcloud-deploy/`,
    );
}

/** The whole seed order (§3.1) by hand. */
export async function seed(lab: Lab): Promise<void> {
    await writeSiteFiles(lab);
    await lab.ok(NETWORK_PROVISION);
    for (const s of ["control-plane", "dcn0", "dcn1"]) for (const c of metalCommands(s)) await lab.ok(c);
    for (const s of ["control-plane", "dcn0", "dcn1"]) await lab.ok(cephCommand(s));
    await exportCeph(lab);
    await lab.ok(centralDeployCommand());
    await lab.ok(`source ~/control-planerc && openstack token issue -f value -c id`);
    await lab.ok(`cd ~/dcn && cp ~/overcloud-deploy/control-plane/control-plane-export.yaml .`);
    await lab.ok(dcnDeployCommand("dcn0"));
    await lab.ok(`source ~/control-planerc && openstack aggregate show dcn0`);
    await lab.ok(dcnDeployCommand("dcn1"));
}

export function stopAllClusters(lab: Lab): void {
    lab.stop();
}

/** Port per test file so files never share a lab. */
export function portFor(name: string): number {
    let h = 0;
    for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 1000;
    return 23000 + h;
}
