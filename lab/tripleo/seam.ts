// The hardware seam (lab/tripleo/README.md): the lab's `ansible-playbook`, first on real
// tripleoclient's PATH. tripleoclient runs every playbook through ansible-runner, which runs
// `ansible-playbook -i <inventory> -e @<private_data_dir>/env/extravars … <playbook>`. A playbook
// that needs hardware (Ironic, Neutron, cephadm on hosts, SSH to overcloud nodes) is answered by the
// lab from exactly those extra vars, writing what the real one writes; every other playbook is the
// real one, run by the real ansible-playbook.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { tripleoDir } from "../paths";
import { CommandError, err } from "../undercloud/util";

export type ExtraVars = Record<string, unknown>;

/** One simulated playbook: gets the extra vars tripleoclient passed; exit code as ansible-playbook's. */
export type PlaybookHandler = (vars: ExtraVars, run: PlaybookRun) => Promise<number>;

export interface PlaybookRun {
    playbook: string;
    inventory?: string;
    limit?: string;
    tags?: string;
}

/** The parts of an ansible-playbook command line the seam needs. */
export function parsePlaybookArgv(argv: string[]): PlaybookRun & { extraVars: ExtraVars } {
    const extraVars: ExtraVars = {};
    const run: PlaybookRun & { extraVars: ExtraVars } = { playbook: "", extraVars };
    const withValue = new Set([
        "-i",
        "--inventory",
        "--inventory-file",
        "-e",
        "--extra-vars",
        "-l",
        "--limit",
        "-t",
        "--tags",
        "--skip-tags",
        "-f",
        "--forks",
        "-u",
        "--user",
        "-c",
        "--connection",
        "-T",
        "--timeout",
        "--private-key",
        "--key-file",
        "-M",
        "--module-path",
        "--vault-password-file",
        "--become-user",
        "--start-at-task",
    ]);
    for (let i = 0; i < argv.length; i++) {
        let a = argv[i];
        let v: string | undefined;
        const eq = a.startsWith("--") ? a.indexOf("=") : -1;
        if (eq > 0) {
            v = a.slice(eq + 1);
            a = a.slice(0, eq);
        } else if (withValue.has(a)) {
            v = argv[++i];
        }
        if (v === undefined) {
            if (!a.startsWith("-")) run.playbook = a;
            continue;
        }
        if (a === "-e" || a === "--extra-vars") Object.assign(extraVars, readExtraVars(v));
        else if (a === "-i" || a === "--inventory" || a === "--inventory-file") run.inventory = v;
        else if (a === "-l" || a === "--limit") run.limit = v;
        else if (a === "-t" || a === "--tags") run.tags = v;
    }
    return run;
}

/** `-e` values: `@file` (YAML or JSON), inline JSON/YAML, or `k=v k2=v2`. */
function readExtraVars(v: string): ExtraVars {
    if (v.startsWith("@")) return (parse(fs.readFileSync(v.slice(1), "utf8")) as ExtraVars) ?? {};
    const t = v.trim();
    if (t.startsWith("{")) return parse(t) as ExtraVars;
    const out: ExtraVars = {};
    for (const kv of t.split(/\s+/)) {
        const i = kv.indexOf("=");
        if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return out;
}

/** Runs the real ansible-playbook with the same command line. */
function realAnsiblePlaybook(argv: string[]): Promise<number> {
    const bin = path.join(tripleoDir(), "venv", "bin", "ansible-playbook");
    return new Promise((resolve) => {
        const child = spawn(bin, argv, { stdio: "inherit" });
        child.on("error", (e) => {
            err(`ERROR! cannot run ${bin}: ${e.message}`);
            resolve(250);
        });
        child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + 15 : 250)));
    });
}

/**
 * The lab's `ansible-playbook`: a simulated playbook when one is registered under the playbook's
 * file name, else the real one.
 */
export async function ansiblePlaybook(argv: string[], handlers: Record<string, PlaybookHandler>): Promise<number> {
    const run = parsePlaybookArgv(argv);
    // tripleoclient's list of playbooks (`overcloud delete`): tripleo-multi-playbook.yaml imports each.
    if (path.basename(run.playbook) === "tripleo-multi-playbook.yaml") {
        const imports = (parse(fs.readFileSync(run.playbook, "utf8")) ?? []) as Array<{ import_playbook: string }>;
        for (const { import_playbook: pb } of imports) {
            const code = await ansiblePlaybook(
                argv.map((a) => (a === run.playbook ? pb : a)),
                handlers,
            );
            if (code !== 0) return code;
        }
        return 0;
    }
    const handler = handlers[path.basename(run.playbook)];
    if (!handler) return realAnsiblePlaybook(argv);
    try {
        return await handler(run.extraVars, run);
    } catch (e) {
        // ansible-playbook prints a failed task as `fatal: [host]: FAILED! => {"msg": …}` and exits 2.
        const msg = e instanceof CommandError || e instanceof Error ? e.message : String(e);
        process.stdout.write(`fatal: [localhost]: FAILED! => ${JSON.stringify({ changed: false, msg })}\n`);
        process.stdout.write(`\nPLAY RECAP ${"*".repeat(50)}\nlocalhost : ok=0 changed=0 unreachable=0 failed=1\n`);
        return 2;
    }
}
