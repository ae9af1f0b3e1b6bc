// Runs the Ceph CLIs (ceph, rados, monmaptool, ceph-mon/osd --mkfs) with a hard timeout and
// errors that say what failed. Keys travel only through files with mode 0600, never argv, and
// anything shaped like a cephx key is scrubbed from error text before it can reach a log.
import { execFile } from "node:child_process";

/** Failure of one Ceph command: its argv, exit code and stderr (keys redacted), never its stdout. */
export class CephCommandError extends Error {
    constructor(
        message: string,
        /** Exit code, or undefined when killed (timeout). */
        readonly exitCode: number | undefined,
        /** Redacted stderr, for callers that branch on e.g. "ENOENT". */
        readonly stderr: string,
    ) {
        super(message);
        this.name = "CephCommandError";
    }
}

/** Replaces every cephx-key-shaped token with `<redacted>`. */
export function redactKeys(text: string): string {
    return text.replace(/[A-Za-z0-9+/]{38}==/g, "<redacted>");
}

/** Runs `command args` and resolves with stdout; rejects with CephCommandError. */
export function runCommand(
    command: string,
    args: string[],
    opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
        execFile(
            command,
            args,
            { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024, env: opts.env ?? process.env },
            (err, stdout, stderr) => {
                if (!err) return resolve(stdout);
                const code = typeof err.code === "number" ? err.code : undefined;
                const cleanStderr = redactKeys(stderr.trim());
                if (err.code === "ENOENT") {
                    return reject(
                        new CephCommandError(
                            `${command} not found: is its Debian package installed? (npm run setup)`,
                            undefined,
                            "",
                        ),
                    );
                }
                const why = err.killed
                    ? `timed out after ${timeoutMs} ms`
                    : code !== undefined
                      ? `exited ${code}`
                      : err.message;
                const tail = cleanStderr.split("\n").slice(-5).join("\n");
                reject(
                    new CephCommandError(
                        `${command} ${args.join(" ")} ${why}${tail ? `: ${tail}` : ""}`,
                        code,
                        cleanStderr,
                    ),
                );
            },
        );
    });
}

/** The `ceph` admin CLI against one cluster conf, failing fast when the mon does not answer. */
export function runCeph(conf: string, args: string[], timeoutMs = 60_000): Promise<string> {
    return runCommand("ceph", ["-c", conf, "--connect-timeout", "15", ...args], { timeoutMs });
}
