// command:remote:Command: runs a command over SSH (ssh2), with the Go provider's dial/retry rules.
import { createHash } from "node:crypto";
import { Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from "ssh2";
import {
    type HostKeyPin,
    blobType,
    checkHostKey,
    fingerprint,
    hostKeyAlgorithms,
    isNoCommonTypeError,
    noCommonTypeReason,
    parsePin,
} from "../../../providers/remote/hostKeys";
import type { Duplex } from "node:stream";
import { goQuote, trimNewline } from "./values";
import { LineSplitter } from "./engineLog";
import { type Logging, type RunResult, previousOutputEnv, shouldLogStderr, shouldLogStdout } from "./logging";

export interface ConnectionBase {
    host: string;
    port?: number;
    user?: string;
    password?: string;
    privateKey?: string;
    privateKeyPassword?: string;
    agentSocketPath?: string;
    dialErrorLimit?: number;
    perDialTimeout?: number;
    hostKey?: string;
}
export interface Connection extends ConnectionBase {
    proxy?: ConnectionBase;
}

export interface RemoteInputs {
    connection: Connection;
    environment?: Record<string, string>;
    stdin?: string;
    addPreviousOutputInEnv?: boolean;
    logging?: Logging;
}

export const CONNECTION_DEFAULTS = { port: 22, user: "root", dialErrorLimit: 10, perDialTimeout: 15 } as const;

export class HostKeyError extends Error {}
export class CommandError extends Error {}

/**
 * The pinned host keys of `hostKey`: one or more lines in authorized_keys form (`type base64
 * [comment]`, a leading known_hosts host pattern as `ssh-keyscan` prints it is skipped), and
 * `@revoked` lines. The rules are the project's one set (providers/remote/hostKeys.ts): the server
 * may present any pinned key, only the pinned key types are negotiated, a revoked key is refused.
 * A single line behaves as the Go provider's `hostKey`.
 */
export function parseHostKey(text: string): HostKeyPin {
    try {
        return parsePin(text);
    } catch (e) {
        throw new HostKeyError(
            `hostKey must be public keys in authorized_keys format, e.g. "ssh-ed25519 AAAAC3Nza... [comment]" ` +
                `(one per line, @revoked lines allowed): ${(e as Error).message}`,
        );
    }
}

export { fingerprint };

/** The refusal of a presented key (Go provider's wording for a mismatch). */
export function hostKeyRefusal(pin: HostKeyPin, presented: Buffer, host: string, port: number): string {
    const presentedKey = `${blobType(presented)} ${fingerprint(presented)}`;
    if (pin.revoked.some((k) => k.blob.equals(presented))) {
        return `ssh: host key for ${host}:${port} is revoked: server presented ${presentedKey}, marked @revoked in hostKey; refusing to connect`;
    }
    const expected = pin.keys.map((k) => `${k.type} ${fingerprint(k.blob)}`).join(", ");
    return `ssh: host key mismatch for ${host}:${port}: expected ${expected}, server presented ${presentedKey}; refusing to connect`;
}

export function reachedDialingErrorLimit(dials: number, limit: number): boolean {
    return limit > -1 && dials > limit;
}

/** pulumi/sdk retry.Until defaults: 100ms first delay, x1.5 each time, at most 5s. */
export function retryDelayMs(attempt: number): number {
    return Math.min(100 * Math.pow(1.5, attempt), 5000);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function dialWithRetry<T>(
    what: string,
    limit: number,
    f: () => Promise<T>,
    status: (msg: string) => void,
): Promise<T> {
    for (let attempt = 0; ; attempt++) {
        try {
            return await f();
        } catch (e) {
            // A refused host key or an unusable key/config is not going to get better by retrying.
            if (e instanceof HostKeyError || e instanceof ConfigError) throw e;
            const dials = attempt + 1;
            if (reachedDialingErrorLimit(dials, limit)) {
                throw new Error(`after ${attempt} failed attempts: ${(e as Error).message}`);
            }
            status(`${what} ${dials}/${limit === -1 ? "inf" : limit} failed: retrying`);
            await sleep(retryDelayMs(attempt));
        }
    }
}

export class ConfigError extends Error {}

function connectConfig(c: ConnectionBase): ConnectConfig {
    const cfg: ConnectConfig = {
        host: c.host,
        port: c.port ?? CONNECTION_DEFAULTS.port,
        username: c.user ?? CONNECTION_DEFAULTS.user,
        // 0 means no maximum for the dial (Go: ssh.ClientConfig.Timeout = 0).
        readyTimeout: (c.perDialTimeout ?? CONNECTION_DEFAULTS.perDialTimeout) * 1000 || 0x7fffffff,
        keepaliveInterval: 0,
    };
    if (c.privateKey !== undefined) {
        cfg.privateKey = c.privateKey;
        if (c.privateKeyPassword !== undefined) cfg.passphrase = c.privateKeyPassword;
    }
    if (c.password !== undefined) {
        cfg.password = c.password;
        cfg.tryKeyboard = true;
    }
    const agent = c.agentSocketPath ?? (process.env.SSH_AUTH_SOCK || undefined);
    if (agent) cfg.agent = agent;
    return cfg;
}

/** One SSH handshake (optionally over an existing stream), honouring the pinned host key. */
function connectOnce(c: ConnectionBase, sock?: Duplex): Promise<Client> {
    let pinned: HostKeyPin | undefined;
    if (c.hostKey !== undefined && c.hostKey !== "") {
        try {
            pinned = parseHostKey(c.hostKey);
        } catch (e) {
            return Promise.reject(new ConfigError(`hostKey: ${(e as Error).message}`));
        }
    }
    return new Promise((resolve, reject) => {
        const client = new Client();
        let mismatch: string | undefined;
        const cfg = connectConfig(c);
        if (sock) cfg.sock = sock;
        if (pinned) {
            const want = pinned;
            cfg.algorithms = { serverHostKey: hostKeyAlgorithms(want) as ServerHostKeyAlgorithm[] };
            cfg.hostVerifier = (key: Buffer) => {
                if (checkHostKey(want, key).ok) return true;
                mismatch = hostKeyRefusal(want, key, c.host, cfg.port!);
                return false;
            };
        }
        let settled = false;
        client.on("keyboard-interactive", (_n, _i, _l, prompts, finish) => {
            finish(prompts.map(() => c.password ?? ""));
        });
        client.once("ready", () => {
            settled = true;
            resolve(client);
        });
        client.on("error", (err) => {
            if (settled) return;
            settled = true;
            client.end();
            if (!mismatch && pinned && isNoCommonTypeError(err))
                mismatch = `ssh: host key mismatch for ${c.host}:${cfg.port}: ${noCommonTypeReason(pinned)}; refusing to connect`;
            reject(mismatch ? new HostKeyError(mismatch) : err);
        });
        try {
            client.connect(cfg);
        } catch (e) {
            settled = true;
            // e.g. "Cannot parse privateKey: Encrypted private OpenSSH key detected, but no passphrase given"
            reject(new ConfigError((e as Error).message));
        }
    });
}

/** An established connection; `socket` is the TCP socket under it (the proxy's when there is one). */
export interface Dialed {
    client: Client;
    /** Ends the connection (and the proxy connection under it). */
    close(): void;
    /** Fires once when the connection (or the proxy under it) is gone. */
    onGone(f: () => void): void;
    socket: { ref(): unknown; unref(): unknown } | undefined;
}

function tcpSocket(client: Client): Dialed["socket"] {
    const sock = (client as unknown as { _sock?: { ref?: unknown; unref?: unknown } })._sock;
    return sock && typeof sock.ref === "function" && typeof sock.unref === "function"
        ? (sock as Dialed["socket"])
        : undefined;
}

function whenGone(clients: Client[]): (f: () => void) => void {
    return (f) => {
        let fired = false;
        const once = () => {
            if (fired) return;
            fired = true;
            f();
        };
        for (const c of clients) c.on("close", once).on("end", once).on("error", once);
    };
}

export async function dial(conn: Connection, status: (msg: string) => void): Promise<Dialed> {
    const limit = conn.dialErrorLimit ?? CONNECTION_DEFAULTS.dialErrorLimit;
    if (!conn.proxy) {
        const client = await dialWithRetry("Dial", limit, () => connectOnce(conn), status);
        return { client, close: () => client.end(), onGone: whenGone([client]), socket: tcpSocket(client) };
    }
    const proxy = conn.proxy;
    const proxyLimit = proxy.dialErrorLimit ?? CONNECTION_DEFAULTS.dialErrorLimit;
    let proxyClient: Client;
    try {
        proxyClient = await dialWithRetry("Dial proxy", proxyLimit, () => connectOnce(proxy), status);
    } catch (e) {
        throw new Error(`proxy: ${(e as Error).message}`);
    }
    const port = conn.port ?? CONNECTION_DEFAULTS.port;
    try {
        const client = await dialWithRetry(
            "Dial",
            limit,
            async () => {
                const stream = await new Promise<ClientChannel>((resolve, reject) =>
                    proxyClient.forwardOut("127.0.0.1", 0, conn.host, port, (err, ch) =>
                        err ? reject(err) : resolve(ch),
                    ),
                );
                return connectOnce(conn, stream);
            },
            status,
        );
        return {
            client,
            close: () => {
                client.end();
                proxyClient.end();
            },
            onGone: whenGone([client, proxyClient]),
            socket: tcpSocket(proxyClient),
        };
    } catch (e) {
        proxyClient.end();
        throw new Error(`proxy: ${(e as Error).message}`);
    }
}

export function remoteEnv(inputs: RemoteInputs, prev: Partial<RunResult> | undefined): Record<string, string> {
    return { ...(inputs.environment ?? {}), ...previousOutputEnv(inputs.addPreviousOutputInEnv, prev) };
}

export type RemoteLog = (severity: "info" | "warning" | "error", message: string) => void;

const setenvHelp = (key: string) =>
    `Unable to set '${key}'. This only works if your SSH server is configured to accept these variables via ` +
    "AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could prefix the " +
    "command itself with the variables in the form 'VAR=value command'";

// ssh2 only sends `env` requests without asking for a reply, so a refused variable would go unnoticed.
// Like Go's session.Setenv, ask for a reply: open the session channel and send the requests through
// ssh2's channel manager and protocol (the same calls Client#exec makes, pinned ssh2 1.17.0).
interface SshInternals {
    _chanMgr?: { add(handler: unknown): number };
    _protocol?: {
        session(id: number, window: number, packetSize: number): void;
        env(id: number, key: string, value: string, wantReply: boolean): void;
        exec(id: number, command: string, wantReply: boolean): void;
    };
}
interface ChannelInternals {
    _callbacks: Array<(failed: boolean) => void>;
    outgoing: { id: number; state: string };
    subtype?: string;
    allowHalfOpen?: boolean;
}

function canRequestWithReply(client: Client): boolean {
    const c = client as unknown as SshInternals;
    return typeof c._chanMgr?.add === "function" && typeof c._protocol?.session === "function";
}

function openSession(client: Client): Promise<ClientChannel> {
    const c = client as unknown as Required<SshInternals> & { _sock?: { writable?: boolean } };
    return new Promise((resolve, reject) => {
        if (!c._sock?.writable) {
            reject(new Error("Not connected"));
            return;
        }
        const handler = Object.assign(
            (err: Error | undefined, chan: ClientChannel) => (err ? reject(err) : resolve(chan)),
            {
                type: "session",
            },
        );
        const id = c._chanMgr.add(handler);
        if (id === -1) {
            reject(new Error("No free channels available"));
            return;
        }
        c._protocol.session(id, 2 * 1024 * 1024, 32 * 1024);
    });
}

function channelRequest(client: Client, chan: ClientChannel, send: (id: number) => void): Promise<boolean> {
    const ch = chan as unknown as ChannelInternals;
    return new Promise((resolve) => {
        if (ch.outgoing.state !== "open") return resolve(false);
        ch._callbacks.push((failed) => resolve(!failed));
        send(ch.outgoing.id);
    });
}

/**
 * On an open session channel, sets each variable with a reply (environment: required; previous
 * output: optional), then starts the command.
 */
async function execOnChannel(
    client: Client,
    chan: ClientChannel,
    command: string,
    env: Record<string, string>,
    optional: Set<string>,
    log: RemoteLog,
    attach: (chan: ClientChannel) => void,
): Promise<ClientChannel> {
    const protocol = (client as unknown as Required<SshInternals>)._protocol;
    for (const [key, value] of Object.entries(env)) {
        if (await channelRequest(client, chan, (id) => protocol.env(id, key, value, true))) continue;
        if (optional.has(key)) {
            log("warning", setenvHelp(key));
            continue;
        }
        log("error", setenvHelp(key));
        chan.close();
        throw new CommandError(`could not set environment variable ${goQuote(key)}: ssh: setenv failed`);
    }
    const ch = chan as unknown as ChannelInternals;
    ch.subtype = "exec";
    ch.allowHalfOpen = true;
    attach(chan);
    const started = await channelRequest(client, chan, (id) => protocol.exec(id, command, true));
    if (!started) {
        chan.close();
        throw new CommandError("Unable to exec");
    }
    return chan;
}

/** Without ssh2's internals: Client#exec (env requests without reply). */
function execPlain(
    client: Client,
    command: string,
    env: Record<string, string>,
    attach: (chan: ClientChannel) => void,
): Promise<ClientChannel> {
    return new Promise((resolve, reject) =>
        client.exec(command, Object.keys(env).length > 0 ? { env } : {}, (err, ch) => {
            if (err) return reject(err);
            attach(ch);
            resolve(ch);
        }),
    );
}

// ---------------------------------------------------------------------------------------------
// Connection pool. The Go provider dials once per operation; here every operation of this plugin
// process on the same target (host, port, user, credentials, pinned host key, proxy) shares one
// SSH connection, each command on its own session channel, so one `pulumi up` opens one
// connection per undercloud in this process (benchmark P4).

/**
 * At most this many session channels at once on one connection: OpenSSH refuses more than
 * `MaxSessions` (default 10) per connection. Further operations wait for a free channel. If a
 * server allows fewer, a refused channel open lowers the connection's limit and the operation waits.
 */
export const MAX_CHANNELS = 8;

interface Pooled {
    key: string;
    /** Resolves when connected; rejects with the dial error (host key mismatch, retries exhausted...). */
    ready: Promise<Dialed>;
    dialed?: Dialed;
    /** Dial progress goes to every operation waiting for this connection. */
    status: Set<(msg: string) => void>;
    active: number;
    limit: number;
    /** Channels opened so far: a failure to open one on a connection that already served is a stale connection. */
    served: number;
    waiters: Array<() => void>;
    closed: boolean;
    /** Out of the pool (suspected stale) but still carrying channels: closed when the last one ends. */
    retired: boolean;
}

const pool = new Map<string, Pooled>();

/** The pool key: everything that decides which server is reached and how it is authenticated. */
export function poolKey(conn: Connection): string {
    const part = (c: ConnectionBase) => [
        c.host,
        c.port ?? CONNECTION_DEFAULTS.port,
        c.user ?? CONNECTION_DEFAULTS.user,
        c.password ?? null,
        c.privateKey ?? null,
        c.privateKeyPassword ?? null,
        c.agentSocketPath ?? (process.env.SSH_AUTH_SOCK || null),
        c.hostKey ?? null,
    ];
    const key = JSON.stringify([part(conn), conn.proxy ? part(conn.proxy) : null]);
    // Credentials are part of the key; keep only a digest of it.
    return createHash("sha256").update(key).digest("hex");
}

/** Follows whether anybody uses the connection: an idle pooled connection does not keep the process alive. */
function updateRef(entry: Pooled): void {
    const sock = entry.dialed?.socket;
    if (!sock || entry.closed) return;
    if (entry.active > 0 || entry.waiters.length > 0) sock.ref();
    else sock.unref();
}

function evict(entry: Pooled): void {
    if (!entry.closed) {
        entry.closed = true;
        entry.dialed?.close();
    }
    if (pool.get(entry.key) === entry) pool.delete(entry.key);
    // Waiters for a channel re-acquire (and get a new connection).
    for (const w of entry.waiters.splice(0)) w();
}

/**
 * Takes a connection that did not answer out of the pool: new operations dial a new one; the
 * commands still running on it finish (a connection that is really dead fails them anyway), then
 * it is closed.
 */
function retire(entry: Pooled): void {
    if (pool.get(entry.key) === entry) pool.delete(entry.key);
    entry.retired = true;
    for (const w of entry.waiters.splice(0)) w();
    if (entry.active === 0) evict(entry);
}

function openPooled(conn: Connection, key: string): Pooled {
    const entry: Pooled = {
        key,
        ready: undefined as unknown as Promise<Dialed>,
        status: new Set(),
        active: 0,
        limit: MAX_CHANNELS,
        served: 0,
        waiters: [],
        closed: false,
        retired: false,
    };
    entry.ready = dial(conn, (m) => {
        for (const f of entry.status) f(m);
    }).then(
        (d) => {
            entry.dialed = d;
            if (entry.closed) d.close(); // closeConnections() while dialing
            // Dropped (server restart, network, sshd's ClientAlive*): forget it; the next operation redials.
            d.onGone(() => evict(entry));
            return d;
        },
        (e: unknown) => {
            entry.closed = true;
            if (pool.get(key) === entry) pool.delete(key);
            throw e;
        },
    );
    entry.ready.catch(() => {}); // awaited by the operations; this keeps a late failure from being "unhandled"
    return entry;
}

interface Lease {
    entry: Pooled;
    client: Client;
    /** Whether the connection had served a channel before this lease (a failure then means a stale connection). */
    reused: boolean;
    release(): void;
}

async function acquire(conn: Connection, status: (msg: string) => void): Promise<Lease> {
    const key = poolKey(conn);
    for (;;) {
        let entry = pool.get(key);
        if (!entry || entry.closed) {
            entry = openPooled(conn, key);
            pool.set(key, entry);
        }
        entry.status.add(status);
        let dialed: Dialed;
        try {
            dialed = await entry.ready;
        } finally {
            entry.status.delete(status);
        }
        while (!entry.closed && !entry.retired && entry.active >= entry.limit) {
            const e = entry;
            await new Promise<void>((r) => {
                e.waiters.push(r);
                updateRef(e);
            });
        }
        if (entry.closed || entry.retired) continue;
        entry.active++;
        const reused = entry.served > 0;
        entry.served++;
        updateRef(entry);
        const e = entry;
        let released = false;
        return {
            entry,
            client: dialed.client,
            reused,
            release: () => {
                if (released) return;
                released = true;
                e.active--;
                e.waiters.shift()?.();
                if (e.retired && e.active === 0) evict(e);
                else updateRef(e);
            },
        };
    }
}

/** Closes every pooled connection (plugin shutdown, tests). */
export function closeConnections(): void {
    for (const entry of [...pool.values()]) evict(entry);
    pool.clear();
}

/** Live pooled connections (tests). */
export function pooledConnections(): number {
    return [...pool.values()].filter((e) => !e.closed && e.dialed).length;
}

function isChannelOpenFailure(e: unknown): boolean {
    return e instanceof Error && /Channel open failure/i.test(e.message);
}

/** Opens a session channel, or fails after `ms` (0: no limit) so a half-dead connection is noticed. */
function openSessionWithin(client: Client, ms: number): Promise<ClientChannel> {
    const open = openSession(client);
    if (!ms) return open;
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer to a channel open within ${ms / 1000}s`)), ms);
        open.then(
            (ch) => {
                clearTimeout(timer);
                resolve(ch);
            },
            (e: unknown) => {
                clearTimeout(timer);
                reject(e);
            },
        );
    });
}

export async function runRemote(
    command: string,
    inputs: RemoteInputs,
    prev: Partial<RunResult> | undefined,
    logLine: (line: string) => void,
    log: RemoteLog,
): Promise<RunResult> {
    const conn = inputs.connection;
    const status = (m: string) => log("info", m);
    const env = remoteEnv(inputs, prev);
    const optional = new Set(Object.keys(previousOutputEnv(inputs.addPreviousOutputInEnv, prev)));
    for (const k of Object.keys(inputs.environment ?? {})) optional.delete(k);
    let done!: Promise<RunResult>;
    // Listeners go on before the exec request: a fast command's output and exit status can arrive
    // in the same packet batch as the exec reply.
    const attach = (stream: ClientChannel) => {
        done = collect(stream, command, inputs.logging, logLine);
        done.catch(() => {}); // awaited below; this keeps an early failure from being "unhandled"
    };
    const openTimeoutMs = (conn.perDialTimeout ?? CONNECTION_DEFAULTS.perDialTimeout) * 1000;
    let redialed = false;
    for (;;) {
        const lease = await acquire(conn, status);
        try {
            let stream: ClientChannel;
            if (canRequestWithReply(lease.client)) {
                let chan: ClientChannel;
                try {
                    chan = await openSessionWithin(lease.client, openTimeoutMs);
                } catch (e) {
                    // Nothing ran yet, so trying again is safe.
                    if (isChannelOpenFailure(e) && lease.entry.active > 1 && !lease.entry.closed) {
                        // The server allows fewer sessions than MAX_CHANNELS: wait for one of ours to end.
                        lease.entry.limit = Math.max(1, lease.entry.active - 1);
                        continue;
                    }
                    if (!redialed && (lease.reused || lease.entry.closed)) {
                        // A stale connection (dropped while idle, or not answering): drop it and redial.
                        redialed = true;
                        retire(lease.entry);
                        continue;
                    }
                    throw e;
                }
                stream = await execOnChannel(lease.client, chan, command, env, optional, log, attach);
            } else {
                stream = await execPlain(lease.client, command, env, attach);
            }
            if (inputs.stdin !== undefined && inputs.stdin.length > 0) stream.end(inputs.stdin);
            else stream.end();
            return await done;
        } finally {
            lease.release();
        }
    }
}

function collect(
    stream: ClientChannel,
    command: string,
    logging: Logging | undefined,
    logLine: (line: string) => void,
): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        let combined = "";
        const lines = new LineSplitter(logLine);
        const logOut = shouldLogStdout(logging);
        const logErr = shouldLogStderr(logging);
        let exitCode: number | undefined;
        let exitSignal: string | undefined;
        stream.setEncoding("utf8");
        stream.stderr.setEncoding("utf8");
        stream.on("data", (s: string) => {
            stdout += s;
            combined += s;
            if (logOut) lines.push(s);
        });
        stream.stderr.on("data", (s: string) => {
            stderr += s;
            combined += s;
            if (logErr) lines.push(s);
        });
        stream.on("exit", (code: number | null, signal?: string) => {
            if (typeof code === "number") exitCode = code;
            else if (signal) exitSignal = signal;
        });
        stream.on("close", () => {
            lines.end();
            let failure: string | undefined;
            if (exitSignal !== undefined) failure = `Process exited with status -1 from signal ${exitSignal}`;
            else if (exitCode === undefined) failure = "wait: remote command exited without exit status or exit signal";
            else if (exitCode !== 0) failure = `Process exited with status ${exitCode}`;
            if (failure) reject(new CommandError(`${failure}: running ${goQuote(command)}:\n${combined}`));
            else resolve({ stdout: trimNewline(stdout), stderr: trimNewline(stderr) });
        });
    });
}
