/**
 * The one SSH transport to the undercloud (ssh2).
 *
 * - The host key is pinned: `hostKey` is an OpenSSH public key line (`ssh-ed25519 AAAA… [comment]`)
 *   and the connection is refused, with both SHA256 fingerprints and host:port in the message, when
 *   the server presents another key. There is no "accept unknown key" mode.
 * - Keepalive is on, so an hour-long poll loop notices a dead peer.
 * - One connection per undercloud (host:port:user) per process, kept in a cache on `globalThis`:
 *   every dynamic provider is deserialized separately by the plugin, so a module-level Map would be
 *   one per provider; `globalThis` is shared by all of them. A dropped connection is evicted and the
 *   next call reconnects.
 * - At most `MAX_CHANNELS` channels are open at once on a connection (sshd's MaxSessions is 10 by
 *   default and Pulumi runs all dynamic operations concurrently in one process).
 *
 * Nothing here is captured from the program: the providers call these functions with plain data.
 */
import { Client } from "ssh2";
import { createHash } from "node:crypto";
import { commandLabel, trace } from "./trace";

/** Where and how to reach the undercloud. Plain data (the private key is passed as a secret input). */
export interface SshTarget {
    host: string;
    port: number;
    user: string;
    /** Pinned OpenSSH public key line of the server. */
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

/** Decodes the key blob of an OpenSSH public key line (`type base64 [comment]`). */
export function parsePublicKeyLine(line: string): { type: string; blob: Buffer } {
    const parts = line.trim().split(/\s+/);
    // known_hosts lines start with the host pattern: skip it when present.
    const start = parts.length >= 3 && !/^(ssh-|ecdsa-|sk-)/.test(parts[0]) ? 1 : 0;
    const type = parts[start];
    const b64 = parts[start + 1];
    if (!type || !b64 || !/^(ssh-|ecdsa-|sk-)/.test(type) || !/^[A-Za-z0-9+/]+=*$/.test(b64)) {
        throw new Error(`not an OpenSSH public key line: ${JSON.stringify(line.slice(0, 60))}`);
    }
    return { type, blob: Buffer.from(b64, "base64") };
}

/** OpenSSH-style fingerprint: `SHA256:<base64 without padding>`. */
export function fingerprint(blob: Buffer): string {
    return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/**
 * Finds the key for host:port in known_hosts text (plain, unhashed entries;
 * `[host]:port` form for ports other than 22). Returns the `type base64` line or undefined.
 */
export function findKnownHost(knownHosts: string, host: string, port: number): string | undefined {
    const wanted = port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
    for (const raw of knownHosts.split(/\r?\n/)) {
        const line = raw.trim();
        if (!line || line.startsWith("#") || line.startsWith("@")) {
            continue;
        }
        const [hosts, type, b64] = line.split(/\s+/);
        if (!type || !b64) {
            continue;
        }
        if (hosts.split(",").some((h) => wanted.includes(h))) {
            return `${type} ${b64}`;
        }
    }
    return undefined;
}

function connect(t: SshTarget, key: string): PoolEntry {
    const client = new Client();
    const pinned = parsePublicKeyLine(t.hostKey);
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
            hostVerifier: (presented: Buffer) => {
                if (Buffer.compare(presented, pinned.blob) === 0) {
                    return true;
                }
                mismatch =
                    `host key verification failed for ${t.host}:${t.port}: the server presented ` +
                    `${fingerprint(presented)} but the pinned key is ${fingerprint(pinned.blob)} ` +
                    `(${pinned.type}); refusing to connect`;
                return false;
            },
        });
    });
    // Avoid unhandled rejections when nobody awaits a connection that later closes.
    entry.ready.catch(() => undefined);
    return entry;
}

async function acquire(t: SshTarget): Promise<PoolEntry> {
    const key = connectionKey(t);
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

/** Number of live cached connections (tests). */
export function openConnections(): number {
    return [...pool().values()].filter((e) => !e.closed).length;
}
