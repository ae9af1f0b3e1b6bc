/**
 * Resolves the undercloud connection of the stack config on the operator's machine (program side):
 * an optional lab `connection.json`, explicit keys overriding it, the host key from `hostKey` or a
 * known_hosts file, the private key from the secret config key or a key file.
 * Relative paths are relative to the project directory.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { findKnownHost, parsePublicKeyLine } from "../providers/remote/ssh";
import { UndercloudArg } from "../providers/common";
import { ConfigError, PROJECT, UndercloudConfig } from "./config";

export interface ResolvedUndercloud {
    connection: UndercloudArg;
    /** Absolute path of the private key file, when the key comes from a file. */
    privateKeyFile?: string;
}

interface LabConnection {
    host?: string;
    port?: number;
    user?: string;
    privateKeyPath?: string;
    knownHostsPath?: string;
    hostKey?: string;
}

export function resolveUndercloud(
    cfg: UndercloudConfig,
    projectDir: string,
    hasSecretKey: boolean,
): ResolvedUndercloud {
    const key = (k: string) => `${PROJECT}:undercloud.${k}`;
    const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(projectDir, p));
    let lab: LabConnection = {};
    if (cfg.connectionFile) {
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
    let hostKey: string | undefined;
    if (cfg.hostKey) {
        hostKey = cfg.hostKey.trim().split(/\s+/).slice(0, 2).join(" ");
    } else {
        const kh = cfg.knownHostsFile ?? lab.knownHostsPath;
        if (kh) {
            const f = abs(kh);
            if (!fs.existsSync(f)) {
                throw new ConfigError(`${key("knownHostsFile")}: ${f} does not exist`);
            }
            hostKey = findKnownHost(fs.readFileSync(f, "utf8"), host, port);
            if (!hostKey) {
                throw new ConfigError(
                    `${key("knownHostsFile")}: ${f} has no key for ${port === 22 ? host : `[${host}]:${port}`}`,
                );
            }
        } else if (lab.hostKey) {
            hostKey = lab.hostKey.trim().split(/\s+/).slice(0, 2).join(" ");
        }
    }
    if (!hostKey) {
        throw new ConfigError(`${key("hostKey")}: missing: pin the undercloud's host key (hostKey or knownHostsFile)`);
    }
    try {
        parsePublicKeyLine(hostKey);
    } catch (e) {
        throw new ConfigError(`${key("hostKey")}: ${(e as Error).message}`);
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
    const connection: UndercloudArg = { host, port, user, hostKey };
    if (cfg.sameAs) {
        connection.sameAs = cfg.sameAs;
    }
    return { connection, privateKeyFile };
}
