/**
 * Redaction of secrets in text the program logs or puts in an error message: streamed job output,
 * failure tails, the messages of every provider operation (providers/remote/trace.ts `traced`).
 *
 * - Known values: whatever secret a provider holds (the SSH private key, the cephx keys of
 *   CephCluster/CephExport, password-like overrides: `knownSecrets`) is replaced by `[secret]`
 *   wherever it occurs. A multi-line value (a PEM key) is also redacted line by line.
 * - Shapes, for secrets the program never saw: a standalone cephx key (40 base64 characters ending
 *   in `==`, TripleO's `^[a-zA-Z0-9+/]{38}==$`) and the value of a `…password…: value` or
 *   `…secret…=value` assignment.
 *
 * Pure functions without module state: the dynamic providers serialize this module by value.
 */

/** What a secret is replaced by. */
export const REDACTED = "[secret]";

/** Known values shorter than this are not redacted (they would blank out ordinary words). */
export const MIN_SECRET_LENGTH = 8;

/**
 * Replaces every occurrence of each of `secrets` (values of at least MIN_SECRET_LENGTH characters;
 * for a multi-line value also each of its lines of 16+ characters other than `-----` armour), every
 * standalone cephx key and the value of every password/secret assignment by `[secret]`.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
    const values = new Set<string>();
    for (const s of secrets) {
        if (typeof s !== "string") {
            continue;
        }
        const v = s.trim();
        if (v.length >= MIN_SECRET_LENGTH) {
            values.add(v);
        }
        if (v.includes("\n")) {
            for (const line of v.split(/\r?\n/)) {
                const l = line.trim();
                if (l.length >= 16 && !l.startsWith("-----")) {
                    values.add(l);
                }
            }
        }
    }
    let out = text;
    // Longest first: a value that contains another is replaced whole.
    for (const v of [...values].sort((a, b) => b.length - a.length)) {
        out = out.split(v).join(REDACTED);
    }
    return out
        .replace(/(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{38}==(?![A-Za-z0-9+/=])/g, REDACTED)
        .replace(
            /\b([A-Za-z0-9_]*(?:password|passwd|secret)[A-Za-z0-9_]*["']?[ \t]*[:=][ \t]*["']?)(?!\[secret\])[^\s"',;}]+/gi,
            `$1${REDACTED}`,
        );
}

/**
 * The secret values held by resource inputs/outputs (any number of property bags, walked deeply):
 * `privateKey`, `clientKey`, the `key` of each cephx key entry (CephExport's `clusters[].keys[]`)
 * and string values whose property name contains `password` or `secret` (e.g. overrides).
 */
export function knownSecrets(...bags: unknown[]): string[] {
    const found: string[] = [];
    const walk = (v: unknown, name: string, depth: number) => {
        if (depth > 8 || v === null || v === undefined) {
            return;
        }
        if (typeof v === "string") {
            if (name === "privateKey" || name === "clientKey" || name === "key" || /password|secret/i.test(name)) {
                found.push(v);
            }
            return;
        }
        if (Array.isArray(v)) {
            v.forEach((x) => walk(x, name === "keys" ? "key-entry" : name, depth + 1));
            return;
        }
        if (typeof v === "object") {
            for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
                // `key` counts only inside a cephx key entry ({name, key} of a `keys` list).
                walk(x, k === "key" && name !== "key-entry" ? "" : k, depth + 1);
            }
        }
    };
    for (const b of bags) {
        walk(b, "", 0);
    }
    return [...new Set(found)];
}

/**
 * Redacts an error's message and stack in place (the dynamic-provider host prints both) and
 * returns it; anything else thrown is turned into an Error with the redacted text.
 */
export function redactError(err: unknown, secrets: ReadonlyArray<string | undefined>): Error {
    if (err instanceof Error) {
        err.message = redact(err.message, secrets);
        if (err.stack) {
            err.stack = redact(err.stack, secrets);
        }
        return err;
    }
    return new Error(redact(String(err), secrets));
}
