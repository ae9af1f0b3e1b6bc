export type Logging = "stdout" | "stderr" | "stdoutAndStderr" | "none";
export const LOGGING_VALUES: readonly Logging[] = ["stdout", "stderr", "stdoutAndStderr", "none"];

export function shouldLogStdout(l: Logging | undefined): boolean {
    return l === undefined || l === "stdout" || l === "stdoutAndStderr";
}
export function shouldLogStderr(l: Logging | undefined): boolean {
    return l === undefined || l === "stderr" || l === "stdoutAndStderr";
}

export interface RunResult {
    stdout: string;
    stderr: string;
    /** local only: files matched by assetPaths, as path assets keyed by relative path */
    assets?: Record<string, unknown>;
    /** local only: files matched by archivePaths, as an asset archive */
    archive?: Record<string, unknown>;
}

/** The previous stdout/stderr, put in the environment as PULUMI_COMMAND_STDOUT/STDERR when non-empty. */
export function previousOutputEnv(
    add: boolean | undefined,
    prev: Partial<RunResult> | undefined,
): Record<string, string> {
    const env: Record<string, string> = {};
    if (add === false || !prev) return env;
    if (prev.stdout) env.PULUMI_COMMAND_STDOUT = prev.stdout;
    if (prev.stderr) env.PULUMI_COMMAND_STDERR = prev.stderr;
    return env;
}
