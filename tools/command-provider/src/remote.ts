// command:remote:Command: runs a command over SSH (ssh2), with the Go provider's dial/retry rules.
import { createHash } from "node:crypto";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
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

/** A host key as written in authorized_keys / `ssh-keyscan` output: `[options|host] type base64 [comment]`. */
export interface PinnedHostKey {
    type: string;
    blob: Buffer;
}

function readSshString(buf: Buffer, off: number): string | undefined {
    if (buf.length < off + 4) return undefined;
    const len = buf.readUInt32BE(off);
    if (buf.length < off + 4 + len) return undefined;
    return buf.subarray(off + 4, off + 4 + len).toString("latin1");
}

/** Parses a pinned host key the way Go's ssh.ParseAuthorizedKey accepts it; throws on garbage. */
export function parseHostKey(text: string): PinnedHostKey {
    const tokens = text.trim().split(/\s+/).filter(Boolean);
    for (let i = 0; i + 1 < tokens.length; i++) {
        const type = tokens[i]!;
        const b64 = tokens[i + 1]!;
        if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) continue;
        const blob = Buffer.from(b64, "base64");
        if (readSshString(blob, 0) === type) return { type, blob };
    }
    throw new HostKeyError(
        'hostKey must be a public key in authorized_keys format, e.g. "ssh-ed25519 AAAAC3Nza... [comment]"',
    );
}

export function fingerprint(blob: Buffer): string {
    return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** Whether the key the server presented is the pinned one (same type and same key blob). */
export function hostKeyMatches(pinned: PinnedHostKey, presented: Buffer): boolean {
    return pinned.blob.equals(presented);
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
    let pinned: PinnedHostKey | undefined;
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
            cfg.hostVerifier = (key: Buffer) => {
                if (hostKeyMatches(want, key)) return true;
                mismatch =
                    `ssh: host key mismatch for ${c.host}:${cfg.port}: expected ${want.type} ${fingerprint(want.blob)}, ` +
                    `server presented ${readSshString(key, 0) ?? "?"} ${fingerprint(key)}; refusing to connect`;
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

export async function dial(
    conn: Connection,
    status: (msg: string) => void,
): Promise<{ client: Client; close(): void }> {
    const limit = conn.dialErrorLimit ?? CONNECTION_DEFAULTS.dialErrorLimit;
    if (!conn.proxy) {
        const client = await dialWithRetry("Dial", limit, () => connectOnce(conn), status);
        return { client, close: () => client.end() };
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
    const c = client as unknown as Required<SshInternals>;
    return new Promise((resolve, reject) => {
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

/** Opens an exec channel, setting each variable with a reply (environment: required; previous output: optional). */
async function execWithEnv(
    client: Client,
    command: string,
    env: Record<string, string>,
    optional: Set<string>,
    log: RemoteLog,
    attach: (chan: ClientChannel) => void,
): Promise<ClientChannel> {
    if (!canRequestWithReply(client)) {
        return new Promise((resolve, reject) =>
            client.exec(command, Object.keys(env).length > 0 ? { env } : {}, (err, ch) => {
                if (err) return reject(err);
                attach(ch);
                resolve(ch);
            }),
        );
    }
    const protocol = (client as unknown as Required<SshInternals>)._protocol;
    const chan = await openSession(client);
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

export async function runRemote(
    command: string,
    inputs: RemoteInputs,
    prev: Partial<RunResult> | undefined,
    logLine: (line: string) => void,
    log: RemoteLog,
): Promise<RunResult> {
    const { client, close } = await dial(inputs.connection, (m) => log("info", m));
    try {
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
        const stream = await execWithEnv(client, command, env, optional, log, attach);
        if (inputs.stdin !== undefined && inputs.stdin.length > 0) stream.end(inputs.stdin);
        else stream.end();
        return await done;
    } finally {
        close();
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
