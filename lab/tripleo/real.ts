// Runs a command of the real OpenStack client with real tripleoclient (lab/tripleo/README.md) for the
// lab undercloud's `openstack`: in tripleoclient's world (run.sh: the /usr/share paths it hard-codes,
// the passwd home), with the undercloud's environment (what a stackrc gives a real undercloud with
// ephemeral Heat) and the hardware seam first on PATH. stdio is the SSH session's; a signal to the lab's
// command goes on to the real one.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { paths, tripleoDir } from "../paths";

/** The environment of the undercloud user for the real client (no Keystone: ephemeral Heat only). */
export function undercloudEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    // An overcloud rc sourced earlier in the same shell must not redirect tripleoclient.
    for (const [k, v] of Object.entries(base)) if (!k.startsWith("OS_")) env[k] = v;
    const p = paths();
    return {
        ...env,
        TRIPLEO_DIR: tripleoDir(),
        LAB_TRIPLEO_BIN: p.seamBin,
        LAB_TRIPLEO_CWD: process.cwd(),
        // tripleo-ansible's modules build an SDK session from these without a Keystone
        // (tripleo_config_download's openstack_cloud_from_module); the client talks to ephemeral Heat.
        OS_AUTH_TYPE: "none",
        OS_ENDPOINT: "http://127.0.0.1:8006/v1/admin",
        // Empty: tripleo_generate_ansible_inventory skips the undercloud Neutron lookup.
        OS_CLOUD: "",
        PYTHONWARNINGS: "ignore",
    };
}

/** Checks that `npm run setup` installed real TripleO; the message says what to do. */
export function checkInstalled(): string | undefined {
    const t = tripleoDir();
    for (const f of ["bin/openstack", "bin/heat-all", "venv/bin/ansible-playbook", "tht/roles_data.yaml"]) {
        if (!fs.existsSync(path.join(t, f)))
            return `real TripleO is not installed (${path.join(t, f)} is missing): run \`npm run setup\`, or start the lab with LAB_TRIPLEO=imitation`;
    }
    return undefined;
}

/** Runs `openstack <args>` (real) and resolves with its exit code (128+n for a signal). */
export function runRealOpenstack(args: string[]): Promise<number> {
    const missing = checkInstalled();
    if (missing) {
        process.stderr.write(`ERROR: ${missing}\n`);
        return Promise.resolve(1);
    }
    const runner = path.join(paths().bin, "tripleo-run.sh");
    const child = spawn(runner, [path.join(tripleoDir(), "bin", "openstack"), ...args], {
        stdio: "inherit",
        env: undercloudEnv(process.env),
        // Same process group as the caller: a job's deadline (TERM, then KILL to the group) reaches
        // tripleoclient, its ephemeral Heat and Ansible as it would on a real undercloud.
    });
    const forward = (sig: NodeJS.Signals) => () => {
        try {
            process.kill(child.pid!, sig);
        } catch {
            /* gone */
        }
    };
    const handlers: Array<[NodeJS.Signals, () => void]> = [
        ["SIGTERM", forward("SIGTERM")],
        ["SIGINT", forward("SIGINT")],
    ];
    for (const [s, h] of handlers) process.prependListener(s, h);
    return new Promise((resolve) => {
        child.on("error", (e) => {
            process.stderr.write(`ERROR: cannot run the real openstack client: ${e.message}\n`);
            resolve(1);
        });
        child.on("exit", (code, signal) => {
            for (const [s, h] of handlers) process.removeListener(s, h);
            resolve(code ?? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGINT" ? 2 : 15));
        });
    });
}
