/**
 * Resolves the undercloud connection of the stack config on the operator's machine (program side,
 * and the validation CLI): an optional lab `connection.json`, explicit keys overriding it, the
 * host key pin from `hostKey`, else the known_hosts file (every key of host:port, hashed or plain,
 * minus @revoked ones), else the connection file's `hostKey`; the private key from the secret
 * config key or a key file. Relative paths are relative to the project directory, `~/` to $HOME.
 * The pin passed to the providers is normalized text (./config.ts header, providers/remote/hostKeys.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HostKeyPin, formatPin, knownHostsName, parsePin, pinFromKnownHosts } from "../providers/remote/hostKeys";
import { UndercloudArg } from "../providers/common";
import { ConfigError, PROJECT, UndercloudConfig } from "./config";

export interface ResolvedUndercloud {
    connection: UndercloudArg;
    /** Absolute path of the private key file, when the key comes from a file. */
    privateKeyFile?: string;
    /** What the pinning ignored (e.g. `@cert-authority` lines of the known_hosts file); log as warnings. */
    notes: string[];
}

/** The lab's `connection.json` (lab/sshd.ts `Connection`): the fields read here. */
export interface LabConnection {
    host?: string;
    port?: number;
    user?: string;
    privateKeyPath?: string;
    knownHostsPath?: string;
    hostKey?: string;
}

/**
 * `lab` is the content of `cfg.connectionFile` when the caller has it already (the validation
 * CLI's `--connection`); otherwise the file is read here.
 */
export function resolveUndercloud(
    cfg: UndercloudConfig,
    projectDir: string,
    hasSecretKey: boolean,
    labConnection?: LabConnection,
): ResolvedUndercloud {
    const key = (k: string) => `${PROJECT}:undercloud.${k}`;
    const abs = (p: string) =>
        p === "~" || p.startsWith("~/")
            ? path.join(os.homedir(), p.slice(1))
            : path.isAbsolute(p)
              ? p
              : path.join(projectDir, p);
    let lab: LabConnection = labConnection ?? {};
    if (cfg.connectionFile && !labConnection) {
        const f = abs(cfg.connectionFile);
        if (!fs.existsSync(f)) {
            throw new ConfigError(
                `${key("connectionFile")}: ${f} does not exist (start the lab with \`npm run lab -- start\`, or set host/port/user/knownHostsFile/privateKeyFile)`,
            );
        }
        try {
            lab = JSON.parse(fs.readFileSync(f, "utf8")) as LabConnection;
        } catch (e) {
            throw new ConfigError(`${key("connectionFile")}: ${f} is not JSON: ${(e as Error).message}`);
        }
    }
    const host = cfg.host ?? lab.host;
    const port = cfg.port ?? lab.port ?? 22;
    const user = cfg.user ?? lab.user ?? "stack";
    if (!host) {
        throw new ConfigError(`${key("host")}: missing`);
    }
    const notes: string[] = [];
    const pinOf = (k: string, text: string | readonly string[]): HostKeyPin => {
        try {
            return parsePin(text);
        } catch (e) {
            throw new ConfigError(`${key(k)}: ${(e as Error).message}`);
        }
    };
    let pin: HostKeyPin | undefined;
    if (cfg.hostKey) {
        pin = pinOf("hostKey", cfg.hostKey);
    } else {
        const kh = cfg.knownHostsFile ?? lab.knownHostsPath;
        if (kh) {
            const f = abs(kh);
            if (!fs.existsSync(f)) {
                throw new ConfigError(`${key("knownHostsFile")}: ${f} does not exist`);
            }
            const found = pinFromKnownHosts(fs.readFileSync(f, "utf8"), host, port);
            if (found.pin.keys.length === 0) {
                throw new ConfigError(
                    `${key("knownHostsFile")}: ${f} has no key for ${knownHostsName(host, port)}` +
                        (found.notes.length ? ` (${found.notes.join("; ")})` : ""),
                );
            }
            notes.push(...found.notes.map((n) => `${key("knownHostsFile")}: ${f} ${n}`));
            pin = found.pin;
        } else if (lab.hostKey) {
            pin = pinOf("connectionFile", lab.hostKey);
        }
    }
    if (!pin) {
        throw new ConfigError(`${key("hostKey")}: missing: pin the undercloud's host key (hostKey or knownHostsFile)`);
    }
    let privateKeyFile: string | undefined;
    if (!hasSecretKey) {
        const pk = cfg.privateKeyFile ?? lab.privateKeyPath;
        if (!pk) {
            throw new ConfigError(
                `${key("privateKeyFile")}: missing (or set the secret ${PROJECT}:undercloudPrivateKey)`,
            );
        }
        privateKeyFile = abs(pk);
        if (!fs.existsSync(privateKeyFile)) {
            throw new ConfigError(`${key("privateKeyFile")}: ${privateKeyFile} does not exist`);
        }
    }
    const connection: UndercloudArg = { host, port, user, hostKey: formatPin(pin) };
    if (cfg.sameAs) {
        connection.sameAs = cfg.sameAs;
    }
    return { connection, privateKeyFile, notes };
}
