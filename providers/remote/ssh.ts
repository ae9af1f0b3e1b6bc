/**
 * The one SSH transport to the undercloud (ssh2), used by the providers, the validation CLI
 * (tools/validate) and every tool that runs commands on the undercloud.
 *
 * - The host key is pinned (rules in ./hostKeys.ts): `hostKey` is one or more OpenSSH public key
 *   lines of the host (`ssh-ed25519 AAAA…`, `ssh-rsa AAAA…`, optionally `@revoked …` lines). Only
 *   the pinned key types are negotiated (`algorithms.serverHostKey`), the presented key must equal
 *   one of the pinned keys, and a key marked `@revoked` is refused even if it is also pinned. A
 *   refusal names host:port and the SHA256 fingerprints. There is no "accept unknown key" mode.
 * - Keepalive is on, so an hour-long poll loop notices a dead peer.
 * - One connection per undercloud (host:port:user and pin) per process, kept in a cache on
 *   `globalThis`: every dynamic provider is deserialized separately by the plugin, so a
 *   module-level Map would be one per provider; `globalThis` is shared by all of them. A dropped
 *   connection is evicted and the next call reconnects. A connection verified against one pin is
 *   never reused for a target with another pin.
 * - At most `MAX_CHANNELS` channels are open at once on a connection (sshd's MaxSessions is 10 by
 *   default and Pulumi runs all dynamic operations concurrently in one process).
 *
 * Nothing here is captured from the program: the providers call these functions with plain data.
 */
import { Client, type ServerHostKeyAlgorithm } from "ssh2";
import { createHash } from "node:crypto";
import { commandLabel, trace } from "./trace";
import {
    checkHostKey,
    fingerprint,
    hostKeyAlgorithms,
    isNoCommonTypeError,
    noCommonTypeMessage,
    parseKeyLine,
    parsePin,
    refusalMessage,
    unsupportedTypes,
} from "./hostKeys";

export { fingerprint };

/** Where and how to reach the undercloud. Plain data (the private key is passed as a secret input). */
export interface SshTarget {
    host: string;
    port: number;
    user: string;
    /** Pinned host keys: one or more OpenSSH public key lines (and `@revoked` lines), see ./hostKeys.ts. */
    hostKey: string;
    /** PEM/OpenSSH private key text. */
    privateKey: string;
    /** Milliseconds; default 20000. */
    readyTimeoutMs?: number;
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface ExecOptions {
    /** Written to the command's stdin, then stdin is closed. */
    stdin?: string;
    /** Kill the channel after this many ms (the remote process may survive; use jobs for long work). */
    timeoutMs?: number;
}

// sshd's default MaxSessions is 10: 8 leaves a margin (a refused channel would cost a reconnect).
const MAX_CHANNELS = 8;

interface PoolEntry {
    key: string;
    client: Client;
    ready: Promise<Client>;
    active: number;
    waiters: Array<() => void>;
    closed: boolean;
}

function pool(): Map<string, PoolEntry> {
    const g = globalThis as unknown as { __dcnSshPool?: Map<string, PoolEntry> };
    if (!g.__dcnSshPool) {
        g.__dcnSshPool = new Map();
    }
    return g.__dcnSshPool;
}

/** Cache key of a connection. */
export function connectionKey(t: Pick<SshTarget, "host" | "port" | "user">): string {
    return `${t.host}:${t.port}:${t.user}`;
}

/** Decodes the key blob of one OpenSSH public key line (`type base64 [comment]`); throws otherwise. */
export function parsePublicKeyLine(line: string): { type: string; blob: Buffer } {
    return parseKeyLine(line);
}

/** Pool key: the connection key and a digest of the pin (a connection is verified against one pin). */
function poolKey(t: SshTarget): string {
    return `${connectionKey(t)}#${createHash("sha256").update(t.hostKey).digest("hex").slice(0, 16)}`;
}

function connect(t: SshTarget, key: string): PoolEntry {
    const pin = parsePin(t.hostKey);
    const unsupported = unsupportedTypes(pin);
    if (unsupported.length === pin.keys.length) {
        throw new Error(
            `ssh ${t.user}@${t.host}:${t.port}: no pinned host key is of a type this client supports (${unsupported.join(", ")})`,
        );
    }
    const client = new Client();
    let mismatch: string | undefined;
    const entry: PoolEntry = {
        key,
        client,
        active: 0,
        waiters: [],
        closed: false,
        ready: undefined as unknown as Promise<Client>,
    };
    const evict = () => {
        entry.closed = true;
        if (pool().get(key) === entry) {
            pool().delete(key);
        }
    };
    entry.ready = new Promise<Client>((resolve, reject) => {
        client.once("ready", () => {
            trace("ssh-ready", { key });
            resolve(client);
        });
        client.on("error", (err: Error) => {
            evict();
            if (mismatch) {
                reject(new Error(mismatch));
            } else if (isNoCommonTypeError(err)) {
                reject(new Error(noCommonTypeMessage(pin, t.host, t.port)));
            } else {
                reject(new Error(`ssh ${t.user}@${t.host}:${t.port}: ${err.message}`));
            }
        });
        client.on("close", () => {
            evict();
            reject(new Error(`ssh ${t.user}@${t.host}:${t.port}: connection closed`));
        });
        client.on("end", evict);
        client.connect({
            host: t.host,
            port: t.port,
            username: t.user,
            privateKey: t.privateKey,
            readyTimeout: t.readyTimeoutMs ?? 20000,
            keepaliveInterval: 15000,
            keepaliveCountMax: 4,
            algorithms: { serverHostKey: hostKeyAlgorithms(pin) as ServerHostKeyAlgorithm[] },
            hostVerifier: (presented: Buffer) => {
                if (checkHostKey(pin, presented).ok) {
                    return true;
                }
                mismatch = refusalMessage(pin, presented, t.host, t.port);
                return false;
            },
        });
    });
    // Avoid unhandled rejections when nobody awaits a connection that later closes.
    entry.ready.catch(() => undefined);
    return entry;
}

async function acquire(t: SshTarget): Promise<PoolEntry> {
    const key = poolKey(t);
    let entry = pool().get(key);
    if (!entry || entry.closed) {
        entry = connect(t, key);
        pool().set(key, entry);
    }
    await entry.ready;
    while (entry.active >= MAX_CHANNELS) {
        await new Promise<void>((r) => entry!.waiters.push(r));
    }
    entry.active++;
    return entry;
}

function release(entry: PoolEntry): void {
    entry.active--;
    const next = entry.waiters.shift();
    if (next) {
        next();
    }
}

/**
 * Runs one command line (already quoted by the caller with shJoin) on the undercloud and collects
 * its output. Never throws on a non-zero exit code; throws on transport errors.
 */
export async function exec(t: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const queued = Date.now();
    const entry = await acquire(t);
    const label = process.env.DCN_TRACE_FILE ? commandLabel(command) : "";
    const granted = Date.now();
    try {
        return await new Promise<ExecResult>((resolve, reject) => {
            entry.client.exec(command, (err, stream) => {
                if (err) {
                    // The connection is unusable (e.g. half-dead after a network drop): forget it so
                    // the next call reconnects.
                    entry.closed = true;
                    if (pool().get(entry.key) === entry) {
                        pool().delete(entry.key);
                    }
                    entry.client.end();
                    reject(new Error(`ssh ${connectionKey(t)}: cannot start command: ${err.message}`));
                    return;
                }
                const out: Buffer[] = [];
                const errOut: Buffer[] = [];
                let timer: NodeJS.Timeout | undefined;
                if (opts.timeoutMs) {
                    timer = setTimeout(() => {
                        stream.close();
                        reject(new Error(`ssh ${connectionKey(t)}: command timed out after ${opts.timeoutMs} ms`));
                    }, opts.timeoutMs);
                }
                stream.on("data", (d: Buffer) => out.push(d));
                stream.stderr.on("data", (d: Buffer) => errOut.push(d));
                stream.on("close", (code: number | null, signal?: string) => {
                    if (timer) {
                        clearTimeout(timer);
                    }
                    if (code === null || code === undefined) {
                        if (!signal) {
                            reject(new Error(`ssh ${connectionKey(t)}: connection lost while a command was running`));
                            return;
                        }
                    }
                    resolve({
                        code: code ?? (signal ? 128 : 255),
                        stdout: Buffer.concat(out).toString("utf8"),
                        stderr: Buffer.concat(errOut).toString("utf8"),
                    });
                });
                if (opts.stdin !== undefined) {
                    stream.end(opts.stdin);
                } else {
                    stream.end();
                }
            });
        });
    } finally {
        release(entry);
        if (label) {
            trace("exec", { cmd: label, queued, granted, ms: Date.now() - granted, waitMs: granted - queued });
        }
    }
}

/** Closes and forgets every cached connection (tests, and the end of a short-lived process). */
export function closeAll(): void {
    for (const e of pool().values()) {
        e.closed = true;
        e.client.end();
    }
    pool().clear();
}

/** Closes and forgets the cached connection of one target (a short-lived tool that is done). */
export function disconnect(t: SshTarget): void {
    const entry = pool().get(poolKey(t));
    if (entry) {
        entry.closed = true;
        entry.client.end();
        pool().delete(entry.key);
    }
}

/** Number of live cached connections (tests). */
export function openConnections(): number {
    return [...pool().values()].filter((e) => !e.closed).length;
}
