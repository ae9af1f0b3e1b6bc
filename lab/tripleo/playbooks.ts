// The playbooks the lab simulates because they need hardware (lab/tripleo/README.md), by file
// name. Each takes the extra vars real tripleoclient passes and writes what the real playbook
// writes; the lab's node pool, Ceph clusters and Glance processes stand in for the hardware.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { tripleoDir } from "../paths";
import {
    Expanded,
    NetworkProvisionVars,
    NodeProvisionVars,
    NodeUnprovisionVars,
    VipProvisionVars,
    provisionNetworks,
    provisionNodes,
    provisionVips,
    scaleDownNodes,
    unprovisionNodes,
} from "../undercloud/metal";
import { CephDeployVars, deployCeph } from "../undercloud/ceph";
import { deployStepsPlaybook, overcloudDeletePlaybook } from "../undercloud/deploy";
import { CommandError, ansible } from "../undercloud/util";
import type { ExtraVars, PlaybookHandler } from "./seam";

/**
 * tripleo_baremetal_expand_roles, the real module's code (expand_roles.py beside this file, run by
 * the venv's Python): hostnames, HostnameMap, counts and removal policies as a real undercloud has them.
 */
export function expandRoles(vars: ExtraVars, state: "present" | "absent" | "all"): Expanded {
    const script = path.join(path.dirname(process.argv[1] ?? __filename), "expand_roles.py");
    const r = spawnSync(path.join(tripleoDir(), "venv", "bin", "python3"), [script], {
        input: JSON.stringify({
            baremetal_deployment: vars.baremetal_deployment,
            stack_name: vars.stack_name,
            state,
            ssh_public_keys: vars.ssh_public_keys,
            user_name: vars.ssh_user_name,
        }),
        encoding: "utf8",
        env: { ...process.env, TRIPLEO_DIR: tripleoDir() },
    });
    if (r.status !== 0) throw new CommandError(`tripleo_baremetal_expand_roles: ${r.stderr || r.error?.message}`);
    const out = JSON.parse(r.stdout) as Expanded & { failed?: boolean; msg?: string };
    if (out.failed) throw new CommandError(out.msg ?? "tripleo_baremetal_expand_roles failed");
    return out;
}

/** A play against overcloud nodes that leaves nothing on the undercloud: only its time and output. */
function nodesPlay(play: string, minutes: number, tasks: string[]): PlaybookHandler {
    return async (_v, run) => {
        await ansible(play, minutes, tasks, [run.limit ?? "allovercloud"]);
        return 0;
    };
}

export const SIMULATED_PLAYBOOKS: Record<string, PlaybookHandler> = {
    "cli-overcloud-network-provision.yaml": async (v) => {
        await provisionNetworks(v as unknown as NetworkProvisionVars);
        return 0;
    },
    "cli-overcloud-network-vip-provision.yaml": async (v) => {
        await provisionVips({ stack_name: "overcloud", ...v } as unknown as VipProvisionVars);
        return 0;
    },
    "cli-overcloud-node-provision.yaml": async (v) => {
        await provisionNodes(v as unknown as NodeProvisionVars, expandRoles(v, "present"));
        return 0;
    },
    "cli-overcloud-node-unprovision.yaml": async (v) => {
        const vars = v as unknown as NodeUnprovisionVars;
        const x = expandRoles(v, vars.all ? "all" : "absent");
        await unprovisionNodes(
            vars,
            x.instances.map((i) => i.hostname),
        );
        return 0;
    },
    // Node provision's per-role and --network-config runs (SSH to the new nodes).
    "cli-overcloud-node-growvols.yaml": nodesPlay("Overcloud Node Grow Volumes", 1, [
        "Find the growvols script",
        "Grow volumes",
    ]),
    "cli-overcloud-node-network-config.yaml": nodesPlay("Overcloud Node Network Config", 2, [
        "tripleo_network_config : Render os-net-config config",
        "tripleo_network_config : Run os-net-config",
    ]),
    // `overcloud ceph deploy`: /etc/hosts and registry config on the nodes, then cephadm.
    "cli-hosts-file-config.yaml": nodesPlay("Overcloud hosts file config", 0.5, [
        "tripleo_hosts_entries : Prepare hosts entries",
    ]),
    "cli-container-registry-config.yaml": nodesPlay("Container registry config", 0.5, [
        "tripleo_podman : Configure insecure registries",
    ]),
    "cli-deployed-ceph.yaml": async (v) => {
        await deployCeph(v as unknown as CephDeployVars);
        return 0;
    },
    // `overcloud deploy --config-download-only`: ACLs for a local tripleo-admin user, then the nodes.
    "cli-grant-local-access.yaml": nodesPlay("Grant local access", 0.1, [
        "Grant local ACLs to the config-download dir",
    ]),
    "deploy_steps_playbook.yaml": async (_v, run) => {
        await deployStepsPlaybook(run.playbook);
        return 0;
    },
    // `overcloud node delete`: the stack's scale playbook (config-download) on the hosts being removed.
    "scale_playbook.yaml": async (_v, run) => {
        await scaleDownNodes((run.limit ?? "").split(":").filter(Boolean));
        return 0;
    },
    // `overcloud delete`.
    "cli-overcloud-delete.yaml": async (v) => {
        await overcloudDeletePlaybook(String(v.stack_name));
        return 0;
    },
};
