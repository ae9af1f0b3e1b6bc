// The validation's connection to the undercloud: the project's one SSH transport
// (providers/remote/ssh.ts), pinned exactly as the program pins it (components/connection.ts,
// rules in providers/remote/hostKeys.ts): every key of host:port in the known_hosts file, hashed
// or plain, minus @revoked ones, else `hostKey`. Each command runs in its own exec channel.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resolveUndercloud } from "../../components/connection";
import { parseUndercloud } from "../../components/config";
import { type SshTarget, disconnect, exec } from "../../providers/remote/ssh";

/** Where and how to reach the undercloud; the lab's `connection.json` has exactly these fields. */
export interface UndercloudConnection {
    host: string;
    port: number;
    user: string;
    privateKeyPath: string;
    /** Pinned host key(s): OpenSSH public key lines, used when there is no `knownHostsPath`. */
    hostKey?: string;
    /** known_hosts file: every key it lists for host:port is pinned. */
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

type Warn = (message: string) => void;
const warnOnStderr: Warn = (m) => console.error(`validate: warning: ${m}`);

/** Reads the lab's (or an operator's) connection.json. */
export function readConnectionFile(file: string): UndercloudConnection {
    const f = file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file;
    return JSON.parse(fs.readFileSync(f, "utf8")) as UndercloudConnection;
}

function targetOf(r: ReturnType<typeof resolveUndercloud>, warn: Warn): SshTarget {
    r.notes.forEach(warn);
    return { ...r.connection, privateKey: fs.readFileSync(r.privateKeyFile!, "utf8") };
}

/** The SSH target of a stack config's `undercloud` block, resolved as the program resolves it. */
export function targetFromConfig(undercloud: unknown, projectDir: string, warn = warnOnStderr): SshTarget {
    return targetOf(resolveUndercloud(parseUndercloud(undercloud), projectDir, false), warn);
}

/** The SSH target of a connection.json-shaped object (relative paths from the working directory). */
export function targetFromConnection(c: UndercloudConnection, warn = warnOnStderr): SshTarget {
    return targetOf(resolveUndercloud({}, process.cwd(), false, c), warn);
}

/** Connects (the host key is verified here) and returns the commands' entry point. */
export async function connectUndercloud(c: UndercloudConnection | SshTarget): Promise<Undercloud> {
    const target = "privateKey" in c ? c : targetFromConnection(c);
    await exec(target, "true", { timeoutMs: 30_000 });
    return {
        exec: (command, timeoutMs = 300_000) => exec(target, command, { timeoutMs }),
        close: () => disconnect(target),
    };
}
