// Runs the project's own Pulumi CLI (built by tools/pulumi/build.sh) offline, the way
// scripts/pulumi-env.sh does, against a throwaway file backend.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const projectRoot = path.resolve(__dirname, "..", "..");
export const pulumiBin = path.join(projectRoot, ".pulumi", "bin");

export interface PulumiResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface PulumiWorkspace {
    /** Directory of the Pulumi project the commands run in. */
    projectDir: string;
    /** Environment every command gets (backend, home and passphrase private to this workspace). */
    env: NodeJS.ProcessEnv;
    run(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<PulumiResult>;
    /** Runs and throws with the whole output when the exit code is not 0. */
    ok(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<PulumiResult>;
    dispose(): void;
}

/** The offline variables of README "Offline environment", pointed at a private state dir. */
export function offlineEnv(stateDir: string): NodeJS.ProcessEnv {
    return {
        ...process.env,
        PATH: `${pulumiBin}:${process.env.PATH ?? ""}`,
        PULUMI_HOME: path.join(stateDir, "home"),
        PULUMI_BACKEND_URL: `file://${path.join(stateDir, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "test-passphrase",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
        PULUMI_SKIP_CONFIRMATIONS: "true",
        // Any HTTP(S) attempt goes to a closed port and fails loudly instead of reaching out.
        HTTP_PROXY: "http://127.0.0.1:9",
        HTTPS_PROXY: "http://127.0.0.1:9",
        NO_PROXY: "127.0.0.1,localhost",
    };
}

/**
 * Copies a fixture project into a temp dir (with the repo's node_modules linked in, so the
 * dynamic-provider plugin can resolve @pulumi/pulumi) and selects a fresh stack.
 */
export async function pulumiWorkspace(fixtureDir: string, stack = "test"): Promise<PulumiWorkspace> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-pulumi-"));
    const projectDir = path.join(root, "project");
    fs.cpSync(fixtureDir, projectDir, { recursive: true });
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(projectDir, "node_modules"));
    const stateDir = path.join(root, "pulumi");
    fs.mkdirSync(path.join(stateDir, "state"), { recursive: true });
    const env = offlineEnv(stateDir);

    const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) =>
        runCommand("pulumi", args, { cwd: projectDir, env: { ...env, ...extraEnv } });
    const ok = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
        const result = await run(args, extraEnv);
        if (result.code !== 0) {
            throw new Error(`pulumi ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
        }
        return result;
    };
    await ok(["stack", "init", stack, "--non-interactive"]);
    return { projectDir, env, run, ok, dispose: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export function runCommand(
    command: string,
    args: string[],
    options: { cwd: string; env: NodeJS.ProcessEnv; input?: string },
): Promise<PulumiResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: "pipe" });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        child.stdin.end(options.input ?? "");
    });
}

/** True when the toolchain has been built (npm run setup). */
export function toolchainBuilt(): boolean {
    return (
        fs.existsSync(path.join(pulumiBin, "pulumi")) && fs.existsSync(path.join(pulumiBin, "pulumi-language-nodejs"))
    );
}

/** One engine step of `preview --json` or `up --json`. */
export interface EngineStep {
    op: string;
    urn: string;
}

/**
 * The steps of `preview --json` (one JSON document with `steps`) or `up --json` (a stream of engine
 * events, one per line: a step's `resOutputsEvent` says what it did).
 */
export function engineSteps(stdout: string): EngineStep[] {
    try {
        return (JSON.parse(stdout) as { steps?: EngineStep[] }).steps ?? [];
    } catch {
        // an event stream
    }
    return stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
            const event = JSON.parse(line) as { resOutputsEvent?: { metadata: EngineStep } };
            return event.resOutputsEvent ? [event.resOutputsEvent.metadata] : [];
        });
}

/**
 * What steps change, per resource: `<op> <type>::<name>` lines (the last type of the URN's chain),
 * sorted; same/read/refresh left out, the replace family (replace, create-replacement,
 * delete-replaced) one `replace`.
 */
export function changedResources(steps: EngineStep[]): string[] {
    const byResource = new Map<string, string>();
    for (const s of steps) {
        if (["same", "read", "refresh"].includes(s.op)) continue;
        const [, , types, name] = s.urn.split("::");
        const resource = `${types.split("$").pop()}::${name}`;
        const op = /replace/.test(s.op) ? "replace" : s.op;
        byResource.set(resource, byResource.get(resource) === "replace" ? "replace" : op);
    }
    return [...byResource].map(([resource, op]) => `${op} ${resource}`).sort();
}
