/**
 * Host key pinning: the one set of rules every SSH client of the project applies (the transport
 * `providers/remote/ssh.ts`, the validation CLI `tools/validate`, and `tools/command-provider`).
 * Pure functions on text and buffers (no ssh2), unit-tested in tests/unit/hostkeys.test.ts.
 *
 * A **pin** is text of one or more lines (blank lines and `#` comments ignored):
 * - `type base64 [comment]`: a key of the host (authorized_keys / `*.pub` form; a leading
 *   known_hosts host pattern, as `ssh-keyscan` prints it, is skipped);
 * - `@revoked type base64 [comment]`: a key that is refused even when it is also pinned.
 * The server is accepted when the key it presents equals any pinned key and is not revoked; the
 * connection offers only the pinned key types (`hostKeyAlgorithms`), so a server with several host
 * keys presents one we know instead of the one the client would prefer (ssh2 prefers ed25519).
 *
 * A known_hosts file becomes a pin for one host:port with `pinFromKnownHosts`: every line whose host
 * patterns match (plain, `[host]:port`, comma-separated, `*`/`?` wildcards, `!` negations, hashed
 * `|1|salt|hash` = base64 HMAC-SHA1 keyed by the salt of `host` or `[host]:port`), minus the keys
 * of matching `@revoked` lines (kept in the pin as `@revoked` lines, for the refusal message).
 * `@cert-authority` lines are ignored with a note (host certificates are not checked).
 */
import { createHash, createHmac } from "node:crypto";

/** A public key: its type name and its SSH wire blob. */
export interface HostKey {
    type: string;
    blob: Buffer;
}

/** The keys a connection accepts, and the ones it refuses even if pinned. */
export interface HostKeyPin {
    keys: HostKey[];
    revoked: HostKey[];
}

/** ssh2's names of the host key algorithms, most preferred first (ssh2 1.x defaults + ssh-dss). */
const ALGORITHMS: Record<string, string[]> = {
    "ssh-ed25519": ["ssh-ed25519"],
    "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
    "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
    "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
    // One RSA key serves three signature algorithms (RFC 8332); ssh-rsa (SHA-1) last.
    "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
    "ssh-dss": ["ssh-dss"],
};
const PREFERENCE = Object.keys(ALGORITHMS);

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The SSH string fields of a key blob, or undefined when the blob is truncated or has trailing bytes. */
function blobFields(blob: Buffer): Buffer[] | undefined {
    const fields: Buffer[] = [];
    let off = 0;
    while (off < blob.length) {
        if (off + 4 > blob.length) {
            return undefined;
        }
        const n = blob.readUInt32BE(off);
        if (off + 4 + n > blob.length) {
            return undefined;
        }
        fields.push(blob.subarray(off + 4, off + 4 + n));
        off += 4 + n;
    }
    return fields;
}

/** The key of `type base64` when the blob is complete and of that type (else undefined). */
export function decodeKey(type: string, b64: string): HostKey | undefined {
    if (!/^[a-z0-9][a-z0-9@.-]*$/.test(type) || !B64.test(b64)) {
        return undefined;
    }
    const blob = Buffer.from(b64, "base64");
    const fields = blobFields(blob);
    if (!fields || fields.length < 2 || fields[0].toString("latin1") !== type) {
        return undefined;
    }
    if (type === "ssh-ed25519" && (fields.length !== 2 || fields[1].length !== 32)) {
        return undefined;
    }
    return { type, blob };
}

/**
 * The key of one OpenSSH public key line: `type base64 [comment]`, also with a leading host
 * pattern or options (the first `type base64` pair whose blob is of that type). Throws otherwise.
 */
export function parseKeyLine(line: string): HostKey {
    const tokens = line.trim().split(/\s+/).filter(Boolean);
    for (let i = 0; i + 1 < tokens.length; i++) {
        const key = decodeKey(tokens[i], tokens[i + 1]);
        if (key) {
            return key;
        }
    }
    throw new Error(
        `not an OpenSSH public key line (type base64 [comment], the blob complete and of that type): ${JSON.stringify(line.slice(0, 60))}`,
    );
}

/** OpenSSH-style fingerprint: `SHA256:<base64 without padding>`. */
export function fingerprint(blob: Buffer): string {
    return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** `SHA256:… (type)` of a key. */
export function describeKey(k: HostKey): string {
    return `${fingerprint(k.blob)} (${k.type})`;
}

/** The key type named inside a blob (`ssh-rsa` for an RSA key whatever the signature algorithm). */
export function blobType(blob: Buffer): string {
    return blobFields(blob)?.[0]?.toString("latin1") ?? "unknown";
}

const sameKey = (a: HostKey, b: HostKey) => a.blob.equals(b.blob);

function rank(type: string): number {
    const i = PREFERENCE.indexOf(type);
    return i < 0 ? PREFERENCE.length : i;
}

function unique(keys: HostKey[]): HostKey[] {
    return keys.filter((k, i) => keys.findIndex((o) => sameKey(o, k)) === i);
}

/** A pin from its parts: keys deduplicated and ordered by preference (ed25519, ECDSA, RSA, …). */
export function makePin(keys: HostKey[], revoked: HostKey[] = []): HostKeyPin {
    const ordered = unique(keys)
        .map((k, i) => ({ k, i }))
        .sort((a, b) => rank(a.k.type) - rank(b.k.type) || a.i - b.i)
        .map((x) => x.k);
    return { keys: ordered, revoked: unique(revoked) };
}

/**
 * Parses pin text (or a list of lines); throws, naming the line, on anything that is not a key
 * line, and when no key is pinned (only `@revoked` lines).
 */
export function parsePin(text: string | readonly string[]): HostKeyPin {
    const lines = (typeof text === "string" ? [text] : text).flatMap((t) => t.split(/\r?\n/));
    const keys: HostKey[] = [];
    const revoked: HostKey[] = [];
    lines.forEach((raw, i) => {
        const line = raw.trim();
        if (!line || line.startsWith("#")) {
            return;
        }
        const m = /^@(\S+)\s+(.*)$/.exec(line);
        if (m && m[1] !== "revoked") {
            throw new Error(`line ${i + 1}: only the @revoked marker is supported in a pin (got @${m[1]})`);
        }
        try {
            (m ? revoked : keys).push(parseKeyLine(m ? m[2] : line));
        } catch (e) {
            throw new Error(lines.length > 1 ? `line ${i + 1}: ${(e as Error).message}` : (e as Error).message);
        }
    });
    if (keys.length === 0) {
        throw new Error("no host key pinned (only @revoked lines or nothing)");
    }
    return makePin(keys, revoked);
}

/** The normalized text of a pin: `type base64` lines (preferred first), then `@revoked type base64` lines. */
export function formatPin(pin: HostKeyPin): string {
    const line = (k: HostKey) => `${k.type} ${k.blob.toString("base64")}`;
    return [...pin.keys.map(line), ...pin.revoked.map((k) => `@revoked ${line(k)}`)].join("\n");
}

/** `host` for port 22, `[host]:port` otherwise: the name known_hosts records a host by. */
export function knownHostsName(host: string, port: number): string {
    return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's match_pattern: `*` any run of characters, `?` one character, case-insensitive. */
export function wildcardMatch(pattern: string, name: string): boolean {
    const re = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${re}$`, "i").test(name);
}

/** Whether a hashed entry `|1|salt|hash` is the HMAC-SHA1 of `name` keyed by its salt. */
export function hashedMatch(entry: string, name: string): boolean {
    const m = /^\|1\|([A-Za-z0-9+/]+=*)\|([A-Za-z0-9+/]+=*)$/.exec(entry);
    if (!m) {
        return false;
    }
    const mac = createHmac("sha1", Buffer.from(m[1], "base64")).update(name).digest();
    return mac.equals(Buffer.from(m[2], "base64"));
}

/** Hashes a known_hosts name as `ssh-keygen -H` does (tests; a given salt makes it deterministic). */
export function hashHostName(name: string, salt: Buffer): string {
    return `|1|${salt.toString("base64")}|${createHmac("sha1", salt).update(name).digest("base64")}`;
}

/**
 * Whether a known_hosts host field (comma-separated patterns, hashed entries, `!` negations)
 * names host:port. Port 22 matches `host` (and `[host]:22`); any other port only `[host]:port`.
 */
export function hostFieldMatches(field: string, host: string, port: number): boolean {
    const names =
        port === 22 ? [host.toLowerCase(), `[${host.toLowerCase()}]:22`] : [knownHostsName(host.toLowerCase(), port)];
    let matched = false;
    for (const raw of field.split(",")) {
        const negated = raw.startsWith("!");
        const pattern = negated ? raw.slice(1) : raw;
        if (!pattern) {
            continue;
        }
        const hit = names.some((n) => (pattern.startsWith("|") ? hashedMatch(pattern, n) : wildcardMatch(pattern, n)));
        if (hit && negated) {
            return false;
        }
        matched ||= hit;
    }
    return matched;
}

/** One parsed known_hosts line. */
export interface KnownHostsEntry {
    /** 1-based line number. */
    line: number;
    marker?: "revoked" | "cert-authority";
    hosts: string;
    key: HostKey;
}

/**
 * Parses known_hosts text. Lines that are not `[@marker] hosts type base64 [comment]` with a
 * valid key are skipped (as ssh does) and reported in `skipped`.
 */
export function parseKnownHosts(text: string): { entries: KnownHostsEntry[]; skipped: string[] } {
    const entries: KnownHostsEntry[] = [];
    const skipped: string[] = [];
    text.split(/\r?\n/).forEach((raw, i) => {
        const line = raw.trim();
        if (!line || line.startsWith("#")) {
            return;
        }
        const f = line.split(/\s+/);
        let marker: KnownHostsEntry["marker"];
        if (f[0].startsWith("@")) {
            const m = f.shift()!.slice(1);
            if (m !== "revoked" && m !== "cert-authority") {
                skipped.push(`line ${i + 1}: unknown marker @${m}`);
                return;
            }
            marker = m;
        }
        const key = f.length >= 3 ? decodeKey(f[1], f[2]) : undefined;
        if (!key) {
            skipped.push(`line ${i + 1}: not a known_hosts line with a valid key`);
            return;
        }
        entries.push({ line: i + 1, marker, hosts: f[0], key });
    });
    return { entries, skipped };
}

/**
 * The pin of host:port from known_hosts text: every matching key, minus the ones a matching
 * `@revoked` line names (those stay in `pin.revoked`). `keys` is empty when none is left; `notes`
 * says what was ignored (`@cert-authority` lines for the host, revoked keys).
 */
export function pinFromKnownHosts(text: string, host: string, port: number): { pin: HostKeyPin; notes: string[] } {
    const notes: string[] = [];
    const keys: HostKey[] = [];
    const revoked: HostKey[] = [];
    for (const e of parseKnownHosts(text).entries) {
        if (!hostFieldMatches(e.hosts, host, port)) {
            continue;
        }
        if (e.marker === "cert-authority") {
            notes.push(
                `line ${e.line}: @cert-authority ignored (host certificates are not checked; pin the host's keys)`,
            );
        } else if (e.marker === "revoked") {
            revoked.push(e.key);
        } else {
            keys.push(e.key);
        }
    }
    const usable = keys.filter((k) => !revoked.some((r) => sameKey(r, k)));
    if (usable.length < keys.length) {
        notes.push(`${keys.length - usable.length} key(s) listed for the host are @revoked and not pinned`);
    }
    return { pin: makePin(usable, revoked), notes };
}

/** ssh2's `algorithms.serverHostKey` for a pin: the pinned key types in preference order. */
export function hostKeyAlgorithms(pin: HostKeyPin): string[] {
    const types = new Set(pin.keys.map((k) => k.type));
    return PREFERENCE.filter((t) => types.has(t)).flatMap((t) => ALGORITHMS[t]);
}

/** The pinned key types no algorithm of ssh2 can negotiate (e.g. `sk-ssh-ed25519@openssh.com`). */
export function unsupportedTypes(pin: HostKeyPin): string[] {
    return [...new Set(pin.keys.map((k) => k.type))].filter((t) => !ALGORITHMS[t]);
}

export type HostKeyVerdict = { ok: true } | { ok: false; revoked: boolean };

/** Accepts the presented key blob when it is pinned and not revoked. */
export function checkHostKey(pin: HostKeyPin, presented: Buffer): HostKeyVerdict {
    if (pin.revoked.some((k) => k.blob.equals(presented))) {
        return { ok: false, revoked: true };
    }
    return pin.keys.some((k) => k.blob.equals(presented)) ? { ok: true } : { ok: false, revoked: false };
}

/**
 * The refusal message of the transport: host:port, the presented fingerprint and every pinned
 * fingerprint (or that the presented key is revoked).
 */
export function refusalMessage(pin: HostKeyPin, presented: Buffer, host: string, port: number): string {
    const head = `host key verification failed for ${host}:${port}: the server presented ${fingerprint(presented)}`;
    if (pin.revoked.some((k) => k.blob.equals(presented))) {
        return `${head} (${blobType(presented)}), a key marked @revoked; refusing to connect`;
    }
    const pinned =
        pin.keys.length === 1
            ? `the pinned key is ${describeKey(pin.keys[0])}`
            : `the pinned keys are ${pin.keys.map(describeKey).join(", ")}`;
    return `${head} but ${pinned}; refusing to connect`;
}

/** Why a handshake failed when the server has no host key of a pinned type (ssh2: "no matching host key format"). */
export function noCommonTypeReason(pin: HostKeyPin): string {
    return `the server has no host key of a pinned type (${[...new Set(pin.keys.map((k) => k.type))].join(", ")})`;
}

/** The transport's message for `noCommonTypeReason`. */
export function noCommonTypeMessage(pin: HostKeyPin, host: string, port: number): string {
    return `host key verification failed for ${host}:${port}: ${noCommonTypeReason(pin)}; refusing to connect`;
}

/** True for ssh2's handshake error when no host key algorithm is common to both sides. */
export function isNoCommonTypeError(err: Error): boolean {
    return /no matching host key format/i.test(err.message);
}
