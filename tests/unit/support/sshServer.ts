// An in-process SSH server on 127.0.0.1:0 for transport/runner tests: publickey auth for one
// generated client key, every exec runs for real under `sh -c` with HOME set to a temp dir, so
// the runner's remote snippets (nohup/setsid jobs, flock, status probes) are exercised as is.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AddressInfo } from "node:net";
import { Server, utils } from "ssh2";
import { keyLine, parseableKeyPair, type KeyPair } from "../../support/ssh-keys";
import type { SshTarget } from "../../../providers/remote/ssh";

export interface TestServer {
    port: number;
    home: string;
    /** `type base64` of the first host key. */
    hostKeyLine: string;
    /** `type base64` of every host key the server offers, in the order given. */
    hostKeyLines: string[];
    clientPrivateKey: string;
    /** Number of TCP connections accepted so far. */
    connections: () => number;
    /** Every exec'd command line, in order. */
    commands: string[];
    /** Drops every open client connection (simulates a network drop). */
    dropAll: () => void;
    close: () => Promise<void>;
}

export { keyLine };

/** The SshTarget of a test server, its host key pinned, as the stack user with the client key. */
export function targetOf(srv: TestServer): SshTarget {
    return {
        host: "127.0.0.1",
        port: srv.port,
        user: "stack",
        hostKey: srv.hostKeyLine,
        privateKey: srv.clientPrivateKey,
    };
}

/** See tests/support/ssh-keys.ts. */
export const goodKeyPair = (): KeyPair => parseableKeyPair();

/** `hostKeys`: several host keys (e.g. ed25519 and RSA, as a stock sshd has); default one ed25519. */
export async function startServer(opts: { hostKey?: KeyPair; hostKeys?: KeyPair[] } = {}): Promise<TestServer> {
    const hostKeys = opts.hostKeys ?? [opts.hostKey ?? goodKeyPair()];
    const clientKeys = goodKeyPair();
    const allowed = utils.parseKey(clientKeys.public);
    if (allowed instanceof Error) {
        throw allowed;
    }
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-ssh-home-"));
    const commands: string[] = [];
    let count = 0;
    const live = new Set<import("ssh2").Connection>();
    const server = new Server({ hostKeys: hostKeys.map((k) => k.private) }, (client) => {
        count++;
        live.add(client);
        client.on("close", () => live.delete(client));
        client.on("error", () => undefined);
        client.on("authentication", (ctx) => {
            if (
                ctx.method === "publickey" &&
                ctx.key.algo === allowed.type &&
                Buffer.compare(ctx.key.data, allowed.getPublicSSH() as Buffer) === 0
            ) {
                ctx.accept();
            } else if (ctx.method === "none") {
                ctx.reject(["publickey"]);
            } else {
                ctx.reject();
            }
        });
        client.on("ready", () => {
            client.on("session", (accept) => {
                const session = accept();
                session.on("exec", (acceptExec, _reject, info) => {
                    commands.push(info.command);
                    const stream = acceptExec();
                    const child = spawn("sh", ["-c", info.command], {
                        cwd: home,
                        env: { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin" },
                        stdio: ["pipe", "pipe", "pipe"],
                    });
                    stream.pipe(child.stdin);
                    child.stdout.pipe(stream, { end: false });
                    child.stderr.pipe(stream.stderr, { end: false });
                    child.on("close", (code) => {
                        try {
                            stream.exit(code ?? 255);
                            stream.end();
                        } catch {
                            // client gone
                        }
                    });
                    stream.on("error", () => undefined);
                });
            });
        });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    return {
        port,
        home,
        hostKeyLine: keyLine(hostKeys[0].public),
        hostKeyLines: hostKeys.map((k) => keyLine(k.public)),
        clientPrivateKey: clientKeys.private,
        connections: () => count,
        commands,
        dropAll: () => {
            for (const c of live) {
                c.end();
            }
        },
        close: () =>
            new Promise<void>((r) => {
                for (const c of live) {
                    c.end();
                }
                server.close(() => r());
            }),
    };
}
