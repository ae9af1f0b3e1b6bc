/**
 * Optional timing trace of the provider process, for the benchmarks (bench/run.ts, P1/P2): with
 * `DCN_TRACE_FILE` set in the environment of `pulumi` (the plugin inherits it), every provider
 * operation, SSH exec and job hand-over appends one JSON line `{t, pid, ev, ...}` (t = epoch ms).
 * Without it nothing is written. Lines carry labels only (resource names, the first words of a
 * command, never stdin, file contents nor key material).
 *
 * `traced` also redacts every error a provider method throws (./redact).
 */
import { knownSecrets, redactError } from "./redact";

/** Appends one trace line when DCN_TRACE_FILE is set (never throws). */
export function trace(ev: string, data: Record<string, unknown> = {}): void {
    const file = process.env.DCN_TRACE_FILE;
    if (!file) {
        return;
    }
    try {
        const fs = require("fs") as typeof import("fs");
        fs.appendFileSync(file, JSON.stringify({ t: Date.now(), pid: process.pid, ev, ...data }) + "\n");
    } catch {
        // tracing is best effort
    }
}

/**
 * A short, secret-free label of a remote command line: the first words, with long tokens
 * (paths, hashes) shortened. Scripts passed as `sh -c '<script>'` are named by their first line.
 */
export function commandLabel(command: string): string {
    // `sh -c '<script>' sh args…`: the script's first line names it (the runner's snippets start with `# <name>`).
    const script = /^sh -c '([^\n']*)/.exec(command);
    if (script) {
        return `sh -c ${script[1].slice(0, 40)}`;
    }
    const words = command
        .replace(/\s+/g, " ")
        .trim()
        .split(" ")
        .slice(0, 6)
        .map((w) => (w.length > 40 ? w.slice(0, 12) + "…" + w.slice(-12) : w));
    return words.join(" ").slice(0, 120);
}

/**
 * Wraps every method of a dynamic provider so that its start and end are traced (name = the resource
 * type), and so that no error it throws carries a secret: the message and stack are redacted with
 * the secrets of its arguments (`knownSecrets`: private key, cephx keys, passwords) and the shapes
 * of ./redact.
 */
export function traced<P extends object>(type: string, provider: P): P {
    const out: Record<string, unknown> = {};
    for (const [op, fn] of Object.entries(provider)) {
        if (typeof fn !== "function") {
            out[op] = fn;
            continue;
        }
        out[op] = async (...args: unknown[]) => {
            const first = args[0];
            const second = args[1] as Record<string, unknown> | undefined;
            // check(olds, news) / create(inputs) / diff|update(id, olds, news) / read|delete(id, props).
            const props = (typeof first === "string" ? second : op === "check" ? args[1] : first) as
                | Record<string, unknown>
                | undefined;
            const name = String(props?.stack ?? (Array.isArray(props?.stacks) ? props.stacks.join(",") : "") ?? "");
            trace(`${op}-start`, { type, name });
            try {
                return await (fn as (...a: unknown[]) => Promise<unknown>).apply(provider, args);
            } catch (err) {
                throw redactError(err, knownSecrets(...args));
            } finally {
                trace(`${op}-end`, { type, name });
            }
        };
    }
    return out as P;
}
