// command:local:Command / command:local:run: runs `interpreter... command` on this machine.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { goQuote, trimNewline } from "./values";
import { collectAssets } from "./assets";
import { LineSplitter } from "./engineLog";
import { type Logging, type RunResult, previousOutputEnv, shouldLogStderr, shouldLogStdout } from "./logging";

export interface LocalInputs {
    interpreter?: string[];
    dir?: string;
    environment?: Record<string, string>;
    stdin?: string;
    assetPaths?: string[];
    archivePaths?: string[];
    addPreviousOutputInEnv?: boolean;
    logging?: Logging;
}

export function defaultInterpreter(platform: NodeJS.Platform = process.platform): string[] {
    return platform === "win32" ? ["cmd", "/C"] : ["/bin/sh", "-c"];
}

export function buildLocalEnv(
    base: NodeJS.ProcessEnv,
    inputs: LocalInputs,
    prev: Partial<RunResult> | undefined,
): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
    Object.assign(env, inputs.environment ?? {});
    Object.assign(env, previousOutputEnv(inputs.addPreviousOutputInEnv, prev));
    return env;
}

export class CommandError extends Error {}

const running = new Set<ChildProcess>();

/** Stops the commands still running (the provider is shutting down; Go's exec.CommandContext does the same on cancel). */
export function killRunning(signal: NodeJS.Signals = "SIGTERM"): number {
    for (const child of running) child.kill(signal);
    return running.size;
}

export function runLocal(
    command: string,
    inputs: LocalInputs,
    prev: Partial<RunResult> | undefined,
    logLine: (line: string) => void,
): Promise<RunResult> {
    const argv = inputs.interpreter && inputs.interpreter.length > 0 ? inputs.interpreter : defaultInterpreter();
    const cwd = inputs.dir ?? process.cwd();
    return new Promise((resolve, reject) => {
        // Go's exec fails with "chdir <dir>: no such file or directory"; Node would blame the executable.
        try {
            if (!fs.statSync(cwd).isDirectory()) throw new Error("not a directory");
        } catch (e) {
            reject(
                new CommandError(
                    `chdir ${cwd}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (e as Error).message}`,
                ),
            );
            return;
        }
        const hasStdin = inputs.stdin !== undefined && inputs.stdin.length > 0;
        const child = spawn(argv[0]!, [...argv.slice(1), command], {
            cwd,
            env: buildLocalEnv(process.env, inputs, prev),
            stdio: [hasStdin ? "pipe" : "ignore", "pipe", "pipe"],
        });
        running.add(child);
        let stdout = "";
        let stderr = "";
        let combined = "";
        const lines = new LineSplitter(logLine);
        const logOut = shouldLogStdout(inputs.logging);
        const logErr = shouldLogStderr(inputs.logging);
        child.stdout!.setEncoding("utf8").on("data", (s: string) => {
            stdout += s;
            combined += s;
            if (logOut) lines.push(s);
        });
        child.stderr!.setEncoding("utf8").on("data", (s: string) => {
            stderr += s;
            combined += s;
            if (logErr) lines.push(s);
        });
        if (hasStdin) {
            child.stdin!.on("error", () => {
                /* the command may exit without reading its input */
            });
            child.stdin!.end(inputs.stdin);
        }
        child.on("error", (e) => {
            running.delete(child);
            lines.end();
            reject(new CommandError(`${e.message}: running ${goQuote(command)}:\n${combined}`));
        });
        child.on("close", (code, signal) => {
            running.delete(child);
            lines.end();
            if (code !== 0) {
                const status = signal ? `signal: ${signal}` : `exit status ${code}`;
                reject(new CommandError(`${status}: running ${goQuote(command)}:\n${combined}`));
            } else {
                try {
                    const files = collectAssets(cwd, inputs.assetPaths, inputs.archivePaths);
                    resolve({ stdout: trimNewline(stdout), stderr: trimNewline(stderr), ...files });
                } catch (e) {
                    reject(e);
                }
            }
        });
    });
}
