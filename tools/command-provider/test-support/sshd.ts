// A tiny SSH server for tests (ssh2 Server): runs exec requests with /bin/sh on this machine, accepts
// `env` requests, forwards direct-tcpip (so it can act as its own bastion) and records what it did.
import { spawn } from "node:child_process";
import * as net from "node:net";
import { Server, utils, type AuthContext, type ParsedKey } from "ssh2";

import { parseableKeyPair, type KeyPair } from "../../../tests/support/ssh-keys";

export type { KeyPair };

export function generateKeyPair(comment = "test"): KeyPair {
    return parseableKeyPair(comment);
}

export interface Exec {
    command: string;
    env: Record<string, string>;
}

export interface TestSshd {
    port: number;
    hostKey: KeyPair;
    execs: Exec[];
    connections: number;
    forwards: number;
    /** Most session channels seen open at once on one connection. */
    peakSessions: number;
    /** Ends every client connection (a dropped network or a restarted server) and keeps listening. */
    dropConnections(): void;
    /** Client connections open now. */
    liveConnections(): number;
    /** The connections open now stop answering session channel opens (a half-dead connection). */
    stallOpenConnections(): void;
    close(): Promise<void>;
}

export interface SshdOptions {
    user?: string;
    password?: string;
    clientKey?: KeyPair;
    hostKey?: KeyPair;
    cwd?: string;
    /** Which `env` requests to accept (default: all), like OpenSSH's AcceptEnv. */
    acceptEnv?: (key: string) => boolean;
    /** Refuses more session channels than this at once per connection, like OpenSSH's MaxSessions. */
    maxSessions?: number;
}

function parse(pub: string): ParsedKey {
    const k = utils.parseKey(pub);
    if (k instanceof Error) throw k;
    return Array.isArray(k) ? k[0]! : k;
}

export async function startSshd(opts: SshdOptions = {}): Promise<TestSshd> {
    const hostKey = opts.hostKey ?? generateKeyPair("host");
    const user = opts.user ?? "root";
    const clientPub = opts.clientKey ? parse(opts.clientKey.public) : undefined;
    const state: TestSshd = {
        port: 0,
        hostKey,
        execs: [],
        connections: 0,
        forwards: 0,
        peakSessions: 0,
        dropConnections: () => {},
        liveConnections: () => 0,
        stallOpenConnections: () => {},
        close: async () => {},
    };
    const open = new Set<{ end(): unknown }>();
    const stalled = new Set<unknown>();
    const server = new Server({ hostKeys: [hostKey.private] }, (client) => {
        state.connections++;
        open.add(client);
        client.on("close", () => open.delete(client));
        client.on("error", () => {});
        client.on("authentication", (ctx: AuthContext) => {
            if (ctx.username !== user) return ctx.reject();
            if (ctx.method === "publickey" && clientPub) {
                if (ctx.key.algo !== clientPub.type || !ctx.key.data.equals(clientPub.getPublicSSH()))
                    return ctx.reject();
                if (!ctx.signature) return ctx.accept();
                return clientPub.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true ? ctx.accept() : ctx.reject();
            }
            if (ctx.method === "password" && opts.password !== undefined && ctx.password === opts.password)
                return ctx.accept();
            return ctx.reject(["publickey", "password"]);
        });
        client.on("ready", () => {
            client.on("tcpip", (accept, reject, info) => {
                state.forwards++;
                const sock = net.connect(info.destPort, info.destIP);
                sock.once("connect", () => {
                    const ch = accept();
                    ch.pipe(sock).pipe(ch);
                });
                sock.once("error", () => reject());
            });
            let sessions = 0;
            client.on("session", (acceptSession, rejectSession) => {
                if (stalled.has(client)) return; // neither accepted nor refused
                if (opts.maxSessions !== undefined && sessions >= opts.maxSessions) return rejectSession();
                const session = acceptSession();
                sessions++;
                state.peakSessions = Math.max(state.peakSessions, sessions);
                let ended = false;
                const end = () => {
                    if (!ended) sessions--;
                    ended = true;
                };
                session.on("close", end);
                const env: Record<string, string> = {};
                session.on("env", (accept, reject, info) => {
                    if (opts.acceptEnv && !opts.acceptEnv(info.key)) return reject?.();
                    env[info.key] = info.val;
                    accept?.();
                });
                session.on("exec", (accept, _reject, info) => {
                    state.execs.push({ command: info.command, env: { ...env } });
                    const stream = accept();
                    stream.on("close", end);
                    const child = spawn("/bin/sh", ["-c", info.command], {
                        cwd: opts.cwd ?? process.cwd(),
                        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/", ...env },
                    });
                    stream.pipe(child.stdin);
                    child.stdin.on("error", () => {});
                    child.stdout.pipe(stream, { end: false });
                    child.stderr.pipe(stream.stderr, { end: false });
                    child.on("close", (code) => {
                        stream.exit(code ?? 1);
                        stream.end();
                    });
                });
            });
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    state.port = (server.address() as net.AddressInfo).port;
    state.liveConnections = () => open.size;
    state.stallOpenConnections = () => {
        for (const c of open) stalled.add(c);
    };
    state.dropConnections = () => {
        for (const c of open) c.end();
    };
    state.close = () =>
        new Promise<void>((resolve) => {
            server.close(() => resolve());
            // Like a stopped sshd: the connections end too (clients may keep pooled connections open).
            for (const c of open) c.end();
            setTimeout(resolve, 200).unref();
        });
    return state;
}
