/**
 * What every dcn provider shares: the connection inputs, the preview-unknown sentinel, the diff
 * policy engine, hashing and the progress logger.
 *
 * Diff policy (same shape in every provider, see each provider's `POLICY`):
 * - `replace` keys name the physical identity (stack name, cluster name): a change replaces the
 *   resource, always with `deleteBeforeReplace` (the identity is fixed on the undercloud, so
 *   create-before-delete would delete what it just created).
 * - `update` keys are what the remote step consumes: a change re-runs the step in `update`.
 * - `quiet` keys (connection, `providerVersion`): a change is reported and `update` only stores
 *   the new values, running nothing remotely. The private key rotates this way without a redeploy.
 * - The serialized provider code (`__provider`) is NOT compared: editing provider code alone
 *   shows no diff, so `preview --expect-no-changes` stays stable across cosmetic code changes.
 *   To push new code into state (destroy/refresh run the code stored in state), bump the
 *   provider's PROVIDER_VERSION: that is a `quiet` change, a cheap update that stores the new code.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { SshTarget } from "./remote/ssh";
import { redact } from "./remote/redact";
import { HOST_NAME, isRemotePath } from "./remote/shell";

/** The engine's placeholder for values unknown during preview (may arrive in any field). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** True when `v` is, or contains, a preview-unknown value. */
export function containsUnknown(v: unknown): boolean {
    if (v === UNKNOWN) {
        return true;
    }
    if (Array.isArray(v)) {
        return v.some(containsUnknown);
    }
    if (v && typeof v === "object") {
        return Object.values(v as Record<string, unknown>).some(containsUnknown);
    }
    return false;
}

/** Connection to the undercloud as a resource input (plain data; the key is a secret input). */
export interface UndercloudInput {
    host: string;
    port: number;
    user: string;
    /**
     * Pinned host keys of the undercloud's sshd: one or more OpenSSH public key lines (newline
     * separated; `@revoked` lines refuse a key), as components/connection.ts normalizes them.
     */
    hostKey: string;
}

/** Plain connection data of the undercloud (resource argument form). */
export type UndercloudArg = UndercloudInput;

/** Inputs every dcn resource has. */
export interface BaseInputs {
    undercloud: UndercloudInput;
    /** Private key text (pass as a secret). */
    privateKey: string;
    /** Bumped by hand to store new provider code in state (see the diff policy above). */
    providerVersion: string;
}

/** Zod shape of BaseInputs; `unk` wraps a schema so that the preview sentinel is accepted. */
export function baseShape() {
    return {
        undercloud: unk(
            z.object({
                host: unk(z.string().regex(HOST_NAME)),
                port: unk(z.number().int().min(1).max(65535)),
                user: unk(z.string().regex(/^[a-z_][a-z0-9_-]*$/)),
                hostKey: unk(z.string().superRefine(pinIssue)),
            }),
        ),
        privateKey: unk(z.string().min(1)),
        providerVersion: z.string(),
    };
}

/**
 * Zod check of a pinned host key input: OpenSSH public key lines (`@revoked` allowed), at least one
 * pinned. The shape only, as before several keys were allowed; the blobs are decoded at connect time
 * (./remote/hostKeys.ts) and the stack config is checked in full (components/config.ts).
 */
function pinIssue(v: string, ctx: z.RefinementCtx): void {
    const lines = v.split("\n").filter((l) => l.trim());
    const line = /^(@revoked\s+)?(ssh-|ecdsa-|sk-)[a-z0-9@.-]+ [A-Za-z0-9+/]+=*( .*)?$/;
    if (!lines.every((l) => line.test(l)) || lines.every((l) => l.startsWith("@revoked"))) {
        ctx.addIssue({ code: "custom", message: "must be OpenSSH public key lines, at least one not @revoked" });
    }
}

/** Accepts the schema's type or the preview-unknown sentinel. */
export function unk<T extends z.ZodTypeAny>(schema: T) {
    return z.union([z.literal(UNKNOWN), schema]);
}

/** Zod schema of a remote path input (absolute or `~/`, shell-safe), preview sentinel accepted. */
export function remotePath() {
    return unk(z.string().refine(isRemotePath, "not a safe remote path"));
}

/** Runs a zod schema for `check`, turning issues into CheckFailures naming the property path. */
export function checkWith<T extends object>(schema: z.ZodTypeAny, news: T) {
    const r = schema.safeParse(news);
    if (r.success) {
        return { inputs: news, failures: [] as { property: string; reason: string }[] };
    }
    return { inputs: news, failures: flattenIssues(r.error.issues, []) };
}

type Issue = { code?: string; path: PropertyKey[]; message: string; errors?: Issue[][] };

/**
 * zod issues → CheckFailures. Our `unk(x)` unions report "Invalid input" at the union; the real
 * reason is in the last branch (the schema itself, the first branch being the unknown sentinel).
 */
export function flattenIssues(
    issues: readonly unknown[],
    prefix: PropertyKey[],
): { property: string; reason: string }[] {
    const out: { property: string; reason: string }[] = [];
    for (const raw of issues) {
        const i = raw as Issue;
        const path = [...prefix, ...i.path];
        if (i.code === "invalid_union" && i.errors && i.errors.length > 0) {
            out.push(...flattenIssues(i.errors[i.errors.length - 1], path));
            continue;
        }
        out.push({ property: path.map(String).join(".") || "(root)", reason: i.message });
    }
    return out;
}

/** SSH target from resource inputs. */
export function targetOf(p: BaseInputs): SshTarget {
    return {
        host: p.undercloud.host,
        port: p.undercloud.port,
        user: p.undercloud.user,
        hostKey: p.undercloud.hostKey,
        privateKey: p.privateKey,
    };
}

/** JSON with sorted object keys (gRPC reorders keys; compare normalized values only). */
export function stableStringify(v: unknown): string {
    if (Array.isArray(v)) {
        return "[" + v.map(stableStringify).join(",") + "]";
    }
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        return (
            "{" +
            Object.keys(o)
                .filter((k) => o[k] !== undefined)
                .sort()
                .map((k) => JSON.stringify(k) + ":" + stableStringify(o[k]))
                .join(",") +
            "}"
        );
    }
    return JSON.stringify(v ?? null);
}

/** sha256 hex of a string. */
export function sha256(s: string): string {
    return createHash("sha256").update(s).digest("hex");
}

/** Per-provider diff policy: every input key belongs to exactly one class. */
export interface DiffPolicy {
    replace: readonly string[];
    update: readonly string[];
    quiet: readonly string[];
}

export interface DiffOutcome {
    changes: boolean;
    replaces: string[];
    deleteBeforeReplace: boolean;
    /** Keys whose change needs the remote step to run again. */
    updates: string[];
    /** Keys whose change only needs new values stored. */
    quiets: string[];
}

/**
 * Compares stored outputs (which echo every input) with new inputs according to `policy`.
 * An unknown new value counts as a change. `__provider` is never compared (see header).
 * Keys not in the policy are compared as `update` keys, so a forgotten key re-runs rather than
 * silently being ignored.
 */
export function diffByPolicy(policy: DiffPolicy, oldOutputs: object, newInputs: object): DiffOutcome {
    const olds = oldOutputs as Record<string, unknown>;
    const news = newInputs as Record<string, unknown>;
    const keys = new Set([...Object.keys(news)].filter((k) => k !== "__provider"));
    const replaces: string[] = [];
    const updates: string[] = [];
    const quiets: string[] = [];
    for (const k of keys) {
        const changed =
            news[k] === UNKNOWN || containsUnknown(news[k]) || stableStringify(olds[k]) !== stableStringify(news[k]);
        if (!changed) {
            continue;
        }
        if (policy.replace.includes(k)) {
            replaces.push(k);
        } else if (policy.quiet.includes(k)) {
            quiets.push(k);
        } else {
            updates.push(k);
        }
    }
    return {
        changes: replaces.length + updates.length + quiets.length > 0,
        replaces,
        deleteBeforeReplace: replaces.length > 0,
        updates,
        quiets,
    };
}

/**
 * The engine's answer of a provider's `diff`: the policy outcome, plus `force` for a change the
 * inputs do not show (a refresh found the remote side broken or drifted).
 */
export function diffResult(d: DiffOutcome, force = false) {
    return { changes: d.changes || force, replaces: d.replaces, deleteBeforeReplace: d.deleteBeforeReplace };
}

/**
 * A provider's `update`: when only `quiet` keys changed (and nothing forces a re-run) the new
 * values are stored without touching the host; otherwise `rerun` does the remote step again.
 */
export async function updateByPolicy<I extends object, O extends I>(
    policy: DiffPolicy,
    olds: O,
    news: I,
    rerun: () => Promise<O>,
    force = false,
): Promise<{ outs: O }> {
    if (!force && diffByPolicy(policy, olds, news).updates.length === 0) {
        return { outs: { ...olds, ...news } };
    }
    return { outs: await rerun() };
}

/**
 * Creates the undercloud's shared ceph-admin SSH key when missing (run under the
 * `ceph-admin-key.lock`: two first `ceph deploy`s race on it). Written under a temporary name and
 * moved into place, public key first, so an interrupted run never leaves half a key; private
 * (umask 077) also when run outside a job.
 */
export const CEPH_ADMIN_KEY_SCRIPT =
    'umask 077; k="$HOME/.ssh/ceph-admin-id_rsa"; mkdir -p "$HOME/.ssh"; [ -f "$k" ] || { rm -f "$k.new" "$k.new.pub"; ' +
    'ssh-keygen -q -t rsa -b 4096 -N "" -C ceph-admin -f "$k.new" && mv "$k.new.pub" "$k.pub" && mv "$k.new" "$k"; }';

/**
 * Progress line to the Pulumi log (inside the provider process this reaches the CLI output),
 * redacted: `secrets` (see `knownSecrets` in ./remote/redact), cephx keys and password assignments
 * never reach the log.
 */
export function progress(resource: string, secrets: readonly string[] = []): (line: string) => void {
    return (line: string) => {
        const pulumi = require("@pulumi/pulumi");
        pulumi.log.info(`${resource}: ${redact(line, secrets)}`);
    };
}

/** Pick `keys` from an object (for echoing inputs into outputs). */
export function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
    const r = {} as Pick<T, K>;
    for (const k of keys) {
        if (o[k] !== undefined) {
            r[k] = o[k];
        }
    }
    return r;
}
