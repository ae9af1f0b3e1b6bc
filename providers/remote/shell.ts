/**
 * Shell safety for everything that reaches the undercloud.
 *
 * Rule: a remote command is always built from an argv array whose every element is passed through
 * `shQuote`; no caller concatenates user input into a command string. Values that come from the
 * stack config are additionally validated with the patterns below before they become arguments,
 * so a bad value fails `check` with a message instead of reaching a shell.
 *
 * This module captures no state: the dynamic providers serialize it by value.
 */

/** Stack (Heat/TripleO) names: `control-plane`, `dcn0`. */
export const STACK_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Ceph cluster names and Glance store ids: `[a-zA-Z0-9]+` (THT constraint, no `-` nor `_`). */
export const CEPH_CLUSTER_NAME = /^[a-zA-Z0-9]+$/;
/** Glance store ids (GlanceBackendID pattern `[a-zA-Z0-9_-]+`). */
export const GLANCE_STORE_ID = /^[a-zA-Z0-9_-]+$/;
/** TripleO role names: `Controller`, `DistributedComputeHCIScaleOut`. */
export const ROLE_NAME = /^[A-Z][A-Za-z0-9]*$/;
/** Host and ironic node names, network and subnet names. */
export const HOST_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
/** Availability zones. */
export const AZ_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;
/**
 * Remote paths: absolute or `~/`-relative, a conservative character set, no `..` segment.
 * `~/` is expanded by the providers (never by a shell) against the remote $HOME.
 */
export const REMOTE_PATH = /^(~\/|\/)[A-Za-z0-9_.+@=,/-]*$/;
/** A server's NIC choice (the validation's `--nic`): `none`, `auto`, or a network name or id. */
export const NETWORK_CHOICE = /^(none|auto|[A-Za-z0-9][A-Za-z0-9_.-]{0,254})$/;
/** Extra CLI arguments allowed from the config (e.g. `--timeout`, `90`, `--libvirt-type`). */
export const SAFE_ARG = /^[A-Za-z0-9_.+@=,/:~-]+$/;

/** True when `p` is a valid remote path (pattern plus no `..` segments). */
export function isRemotePath(p: string): boolean {
    return REMOTE_PATH.test(p) && !p.split("/").includes("..");
}

/**
 * POSIX single-quote quoting: the result is one shell word whose value is exactly `s`.
 * The only quoting helper in the code base.
 */
export function shQuote(s: string): string {
    if (typeof s !== "string") {
        throw new TypeError(`shQuote: expected a string, got ${typeof s}`);
    }
    if (s.includes("\0")) {
        throw new Error("shQuote: NUL byte in argument");
    }
    if (s !== "" && /^[A-Za-z0-9_./=:,@%+-]+$/.test(s)) {
        return s;
    }
    return "'" + s.replace(/'/g, "'\\''") + "'";
}

/** Joins an argv array into one command line, quoting every element. */
export function shJoin(argv: readonly string[]): string {
    if (argv.length === 0) {
        throw new Error("shJoin: empty argv");
    }
    return argv.map(shQuote).join(" ");
}

/** Expands a leading `~/` against the remote home directory (no shell involved). */
export function expandHome(p: string, home: string): string {
    if (p === "~") {
        return home;
    }
    if (p.startsWith("~/")) {
        return home.replace(/\/+$/, "") + p.slice(1);
    }
    return p;
}

/** Throws a readable error unless `value` matches `re`. */
export function assertMatches(what: string, value: string, re: RegExp): string {
    if (typeof value !== "string" || !re.test(value)) {
        throw new Error(`${what}: ${JSON.stringify(value)} does not match ${re}`);
    }
    return value;
}
