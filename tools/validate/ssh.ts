// One SSH connection to the undercloud (ssh2, host key pinned) on which the validation runs its
// commands, each in its own exec channel (the lab's sshd runs them in a login shell).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "ssh2";

/** Where and how to reach the undercloud; the lab's `connection.json` has exactly these fields. */
export interface UndercloudConnection {
    host: string;
    port: number;
    user: string;
    privateKeyPath: string;
    /** Pinned host key, authorized_keys format (`ssh-ed25519 AAAA…`). */
    hostKey?: string;
    /** Or a known_hosts file whose first matching key type is pinned. */
    knownHostsPath?: string;
}

export interface ExecResult {
    code: number;
    stdout: string;
    stderr: string;
}

export interface Undercloud {
    exec(command: string, timeoutMs?: number): Promise<ExecResult>;
    close(): void;
}

function expandHome(p: string): string {
    return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}

/** The base64 blobs of the pinned host key(s). */
function pinnedKeys(c: UndercloudConnection): string[] {
    if (c.hostKey) return [c.hostKey.trim().split(/\s+/)[1]];
    if (c.knownHostsPath) {
        return fs
            .readFileSync(expandHome(c.knownHostsPath), "utf8")
            .split("\n")
            .map((l) => l.trim().split(/\s+/))
            .filter((f) => f.length >= 3 && !f[0].startsWith("#"))
            .map((f) => f[2]);
    }
    throw new Error("no pinned host key: give hostKey or knownHostsPath (host keys are never trusted on first use)");
}

/** Reads the lab's (or an operator's) connection.json. */
export function readConnectionFile(file: string): UndercloudConnection {
    return JSON.parse(fs.readFileSync(expandHome(file), "utf8")) as UndercloudConnection;
}

export function connectUndercloud(c: UndercloudConnection): Promise<Undercloud> {
    const pinned = pinnedKeys(c);
    const client = new Client();
    return new Promise((resolve, reject) => {
        client.once("ready", () =>
            resolve({
                exec: (command, timeoutMs = 300_000) => execOn(client, command, timeoutMs),
                close: () => client.end(),
            }),
        );
        client.once("error", reject);
        client.connect({
            host: c.host,
            port: c.port,
            username: c.user,
            privateKey: fs.readFileSync(expandHome(c.privateKeyPath)),
            hostVerifier: (key: Buffer) => pinned.includes(key.toString("base64")),
            readyTimeout: 20_000,
            keepaliveInterval: 10_000,
        });
    });
}

function execOn(client: Client, command: string, timeoutMs: number): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        client.exec(command, (err, stream) => {
            if (err) return reject(err);
            let stdout = "";
            let stderr = "";
            let code = -1;
            const timer = setTimeout(() => {
                stream.close();
                reject(new Error(`'${command}' timed out after ${timeoutMs} ms`));
            }, timeoutMs);
            stream.on("data", (d: Buffer) => (stdout += d.toString()));
            stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            stream.on("exit", (c: number | null) => (code = c ?? -1));
            stream.on("close", () => {
                clearTimeout(timer);
                resolve({ code, stdout, stderr });
            });
        });
    });
}
