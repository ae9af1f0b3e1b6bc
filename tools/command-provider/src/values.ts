// Pulumi's wire encoding of property values as seen by a provider that accepts secrets
// (the Node provider host converts google.protobuf.Struct to plain JS, keeping these markers).
export const SPECIAL_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
/** The engine's marker for a value that is not known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isSecret(v: unknown): v is { value: unknown } {
    return isObject(v) && v[SPECIAL_SIG] === SECRET_SIG;
}

export function secret(v: unknown): unknown {
    if (v === undefined || isSecret(v)) return v;
    return { [SPECIAL_SIG]: SECRET_SIG, value: v };
}

/** True when the value is secret anywhere inside (assets/archives are opaque and never secret). */
export function containsSecret(v: unknown): boolean {
    if (isSecret(v)) return true;
    if (Array.isArray(v)) return v.some(containsSecret);
    if (isObject(v)) {
        if (typeof v[SPECIAL_SIG] === "string") return false;
        return Object.values(v).some(containsSecret);
    }
    return false;
}

export function containsUnknown(v: unknown): boolean {
    if (v === UNKNOWN) return true;
    if (isSecret(v)) return containsUnknown(v.value);
    if (Array.isArray(v)) return v.some(containsUnknown);
    if (isObject(v)) return Object.values(v).some(containsUnknown);
    return false;
}

/** Removes every secret marker (deeply), leaving plain values. Other special objects stay as they are. */
export function reveal(v: unknown): unknown {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (isObject(v)) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v)) out[k] = reveal(x);
        return out;
    }
    return v;
}

/** Drops undefined members (google.protobuf.Struct cannot hold them). */
export function compact<T extends Record<string, unknown>>(o: T): T {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    return out as T;
}

/** Structural equality of revealed values; null and a missing member are the same. */
export function deepEqual(a: unknown, b: unknown): boolean {
    if (a === b) return true;
    if (a === null || a === undefined) return b === null || b === undefined;
    if (b === null || b === undefined) return false;
    if (Array.isArray(a)) {
        return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
    }
    if (isObject(a) && isObject(b)) {
        const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
        for (const k of keys) if (!deepEqual(a[k], b[k])) return false;
        return true;
    }
    return false;
}

/** `urn:pulumi:stack::project::[parent$]type::name` -> { type, name } */
export function parseUrn(urn: string): { type: string; name: string } {
    const parts = urn.split("::");
    if (parts.length < 4) throw new Error(`malformed URN ${JSON.stringify(urn)}`);
    const qualified = parts[2]!;
    const type = qualified.split("$").pop()!;
    const name = parts.slice(3).join("::");
    return { type, name };
}

/** Go's %q for the strings we print: a double-quoted, escaped string. */
export function goQuote(s: string): string {
    return JSON.stringify(s);
}

/** Go's strings.TrimSuffix(s, "\n"): drops at most one trailing newline. */
export function trimNewline(s: string): string {
    return s.endsWith("\n") ? s.slice(0, -1) : s;
}
