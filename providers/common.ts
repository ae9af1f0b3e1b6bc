/**
 * What every dcn provider shares: the connection inputs, the preview-unknown sentinel, the diff
 * policy engine, the guards `check` runs against the previous inputs, hashing and the progress logger.
 *
 * Diff policy (same shape in every provider, see each provider's `POLICY`):
 * - `replace` keys name the physical identity (stack name, cluster name, site kind). Changing one
 *   of a resource that exists is REFUSED by `check` (`guardChanges`, with a message saying what to
 *   do): a replace would delete the deployed stack, nodes or cluster first, and TripleO renames
 *   none of them. diff still classifies them as replace (with `deleteBeforeReplace`) and every dcn
 *   resource carries the `deleteBeforeReplace` option (providers/resource.ts), so an explicit
 *   `pulumi up --replace <urn>` deletes before it creates rather than creating the same stack
 *   again and then deleting it.
 * - `update` keys are what the remote step consumes: a change re-runs the step in `update`.
 * - `location` (one of the update keys: `workDir`, `outputFile`) is where the resource's generated
 *   files live. A change moves them there (copy, then remove the old ones; nothing else runs on
 *   the undercloud) when every other changed key only names files under the moved location, e.g.
 *   `settings.workRoot` moved: the stack, nodes and cluster stay as they are. With real changes
 *   besides, the files are moved and the step re-runs at the new place.
 * - `quiet` keys (connection, `providerVersion`): a change is reported and `update` only stores
 *   the new values, running nothing remotely. The private key rotates this way without a redeploy.
 *   The undercloud's address, user and host key are the one exception guarded by `check`: they
 *   may change only when `undercloud.sameAs` names the previous undercloud (`undercloudProblem`).
 * - `logUrn` (the resource's own URN, only where its progress lines go: providers/remote/report.ts)
 *   is not compared either: resources created before it existed get it with their next real update.
 * - `derived` keys are what `check` adds for the dependents (paths, specs: `derive` below), known
 *   at preview so that the plan is exact; functions of the other inputs, never compared.
 * - `adopted` keys replaced older ones (content hashes became specs): absent from the outputs of a
 *   resource created before, they are stored by a quiet update; a real change re-runs the step.
 * - The serialized provider code (`__provider`) is NOT compared: editing provider code alone
 *   shows no diff, so `preview --expect-no-changes` stays stable across cosmetic code changes.
 *   To push new code into state (destroy/refresh run the code stored in state), bump the
 *   provider's PROVIDER_VERSION: that is a `quiet` change, a cheap update that stores the new code.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { JobReport, remoteHome, runOk } from "./remote/jobs";
import { stepReport } from "./remote/report";
import { SshTarget, connectionKey, fingerprint, parsePublicKeyLine } from "./remote/ssh";
import { redact } from "./remote/redact";
import { HOST_NAME, expandHome, isRemotePath } from "./remote/shell";

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
    /**
     * `user@host:port` of the undercloud this one replaces as the same machine (config
     * `undercloud.sameAs`): lets the address, user or host key of existing resources change.
     */
    sameAs?: string;
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
    /**
     * The resource's own URN (providers/resource.ts): its progress lines go to its row. Absent from
     * resources created before it existed (their lines go to the Stack row); never diffed.
     */
    logUrn?: string;
    /** The undercloud's $HOME as check last read it (`derive`): later checks need no connection. Never diffed. */
    undercloudHome?: string;
}

/** `user@host:port`: how messages and `undercloud.sameAs` name an undercloud. */
export const UNDERCLOUD_ID = /^[a-z_][a-z0-9_-]*@[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}:[0-9]{1,5}$/;

/** Zod shape of BaseInputs; `unk` wraps a schema so that the preview sentinel is accepted. */
export function baseShape() {
    return {
        undercloud: unk(
            z.object({
                host: unk(z.string().regex(HOST_NAME)),
                port: unk(z.number().int().min(1).max(65535)),
                user: unk(z.string().regex(/^[a-z_][a-z0-9_-]*$/)),
                hostKey: unk(z.string().superRefine(pinIssue)),
                sameAs: unk(z.string().regex(UNDERCLOUD_ID)).optional(),
            }),
        ),
        privateKey: unk(z.string().min(1)),
        providerVersion: z.string(),
        logUrn: unk(z.string()).optional(),
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

/**
 * `check`'s guards against the previous inputs (`olds` is empty for a resource not created yet, so
 * anything goes then): a changed `replace` key is refused with `explain(key, old, new)`, a changed
 * undercloud with `undercloudProblem`. Unknown (preview) values are not judged.
 */
export function guardChanges(
    policy: DiffPolicy,
    olds: object | undefined,
    news: object,
    explain: (key: string, oldValue: string, newValue: string) => string,
): { property: string; reason: string }[] {
    const o = (olds ?? {}) as Record<string, unknown>;
    const n = news as Record<string, unknown>;
    const failures: { property: string; reason: string }[] = [];
    for (const k of policy.replace) {
        if (o[k] === undefined || n[k] === undefined || containsUnknown(n[k])) {
            continue;
        }
        if (stableStringify(o[k]) !== stableStringify(n[k])) {
            failures.push({ property: k, reason: explain(k, String(o[k]), String(n[k])) });
        }
    }
    const u = undercloudProblem(o.undercloud, n.undercloud);
    if (u) {
        failures.push({ property: "undercloud", reason: u });
    }
    return failures;
}

/**
 * Refusal of a stack rename (a `stack` replace key of metal, Ceph or the overcloud): TripleO renames
 * no stack, and a replace would first delete the deployed one (`overcloud delete`, `node unprovision`).
 */
export function stackRenameRefusal(oldStack: string, newStack: string): string {
    return (
        `this resource belongs to the deployed TripleO stack ${oldStack}: a stack cannot be renamed in place, and ` +
        `replacing it would delete the deployed site (overcloud delete, node unprovision) before deploying ${newStack}. ` +
        `Keep the name ${oldStack}; or remove the site from dcn-storage:sites and run up (that destroys it), then add ` +
        `it again as ${newStack} (a full redeploy); or deploy ${newStack} on other nodes first and remove ${oldStack} after.`
    );
}

/** `user@host:port` of an undercloud. */
export function undercloudId(u: UndercloudInput): string {
    return `${u.user}@${u.host}:${u.port}`;
}

function hostKeyFingerprint(line: string): string {
    try {
        return fingerprint(parsePublicKeyLine(line).blob);
    } catch {
        return line;
    }
}

/**
 * Why a resource may not move to another undercloud, or undefined. The resource's stack, nodes
 * and files are on the undercloud that created it: "quietly" storing another address would make
 * the next refresh find the site gone there (and the next up deploy it again on that machine),
 * and a destroy miss it. A new address, user or host key of the SAME machine (DNS change, sshd
 * keys regenerated, a port forward) is declared with `undercloud.sameAs: <previous user@host:port>`;
 * it only has to match the previous undercloud, so a stale `sameAs` authorizes no later move.
 */
export function undercloudProblem(oldU: unknown, newU: unknown): string | undefined {
    if (!oldU || !newU || typeof oldU !== "object" || typeof newU !== "object" || containsUnknown(newU)) {
        return undefined;
    }
    const o = oldU as UndercloudInput;
    const n = newU as UndercloudInput;
    if (o.host === undefined || o.hostKey === undefined) {
        return undefined;
    }
    const oldFp = hostKeyFingerprint(o.hostKey);
    const newFp = hostKeyFingerprint(n.hostKey);
    if (undercloudId(o) === undercloudId(n) && oldFp === newFp) {
        return undefined;
    }
    if (n.sameAs === undercloudId(o)) {
        return undefined;
    }
    const was = `${undercloudId(o)} (host key ${oldFp})`;
    const now = `${undercloudId(n)}${newFp === oldFp ? "" : ` (host key ${newFp})`}`;
    return (
        `this resource was created on the undercloud ${was}, and dcn-storage:undercloud now points at ${now}. ` +
        `Its stack, nodes and files are on the first one: another machine would not have them (refresh would ` +
        `drop the site, up would deploy it again there, destroy would miss it). If it is the same undercloud under ` +
        `a new address, user or host key, set dcn-storage:undercloud.sameAs to "${undercloudId(o)}" and run again; ` +
        `otherwise set dcn-storage:undercloud back to ${undercloudId(o)}.`
    );
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

/**
 * What a resource hands its dependents, as `check` derives it (the policy's `derived` keys).
 *
 * At preview the engine gives an updating (or new) dynamic resource's outputs as its CHECKED
 * INPUTS: the Node dynamic provider never says it supports previews (sdk/go/common/resource/plugin/
 * provider_plugin.go, Update and Create with `Preview`), so every other output is unknown, and an
 * unknown input makes every dependent show as changing: the phantom updates of issue 12. So each
 * output a dependent reads is derived in `check` from inputs alone: specs, hashes of what a step
 * consumes that change exactly when its result can (a remote file's content hash is known only
 * after the step ran), and file paths, which need the undercloud's $HOME (`undercloudHome`).
 *
 * $HOME comes from the old inputs (stored by an earlier check) while the undercloud is the same;
 * else, for a resource that exists, it is read once per process: a plain preview of a deployed
 * stack connects only the first time after this code arrived. Where it cannot (a runner without
 * access), the paths are left out and their dependents show as changing, as before; a plan saved
 * by such a preview may then be refused by an up that can connect. A new resource needs no $HOME:
 * what depends on it changes anyway. A spec built from an unknown input is unknown, not absent: a
 * preview's saved plan records an unknown as "any value", an absent key as "removed", which the
 * up's known value would violate.
 */
export async function derive<T extends BaseInputs>(
    olds: Partial<T> | undefined,
    news: T,
    values: (home: string | undefined) => Record<string, unknown>,
): Promise<T> {
    const exists = Object.keys(olds ?? {}).length > 0;
    let home: string | undefined;
    if (exists && !containsUnknown(news.undercloud) && !containsUnknown(news.privateKey)) {
        home = sameUndercloud(olds!.undercloud, news.undercloud) ? olds!.undercloudHome : undefined;
        home ??= await homeForChecks(news);
    }
    let derived: Record<string, unknown>;
    try {
        derived = values(home);
    } catch {
        return news; // inputs of a shape check refuses anyway
    }
    const out: Record<string, unknown> = { ...(news as object) };
    if (home !== undefined) {
        out.undercloudHome = home;
    }
    for (const [k, v] of Object.entries(derived)) {
        out[k] = v === undefined || JSON.stringify(v).includes(UNKNOWN) ? UNKNOWN : v;
    }
    return out as T;
}

function sameUndercloud(a: UndercloudInput | undefined, b: UndercloudInput): boolean {
    return a !== undefined && a.host === b.host && a.port === b.port && a.user === b.user;
}

/**
 * The undercloud's $HOME for `derive`: one attempt per process and undercloud, so an unreachable
 * one (a pull-request runner without access) costs one connection timeout, not one per resource.
 */
function homeForChecks(news: BaseInputs): Promise<string | undefined> {
    const g = globalThis as { __dcnHomeForChecks?: Map<string, Promise<string | undefined>> };
    g.__dcnHomeForChecks ??= new Map();
    const key = connectionKey(targetOf(news));
    let read = g.__dcnHomeForChecks.get(key);
    if (!read) {
        read = remoteHome(targetOf(news)).catch(() => undefined);
        g.__dcnHomeForChecks.set(key, read);
    }
    return read;
}

/** The spec of a value (see `derive`): sha256 of its stable JSON; undefined while any part is unknown. */
export function specOf(v: unknown): string | undefined {
    const text = stableStringify(v);
    return text.includes(UNKNOWN) ? undefined : sha256(text);
}

/** sha256 hex of a string. */
export function sha256(s: string): string {
    return createHash("sha256").update(s).digest("hex");
}

/** Per-provider diff policy: every input key belongs to exactly one class (see the header). */
export interface DiffPolicy {
    replace: readonly string[];
    update: readonly string[];
    quiet: readonly string[];
    /** The update key naming where the resource's generated files live (a change moves them). */
    location?: string;
    /**
     * Keys `check` derives from the other inputs (`derive`): what dependents read, known at preview.
     * Never compared (they change only with the keys they derive from).
     */
    derived?: readonly string[];
    /**
     * Update keys that replaced older ones (content hashes → specs): absent from the outputs of a
     * resource created before, they are taken over by a quiet update, not a re-run.
     */
    adopted?: readonly string[];
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

/** Inputs no diff looks at (see the header). */
export const NOT_DIFFED: readonly string[] = ["__provider", "logUrn", "undercloudHome"];

/**
 * Compares stored outputs (which echo every input) with new inputs according to `policy`.
 * An unknown new value counts as a change. `__provider` is never compared (see header).
 * Keys not in the policy are compared as `update` keys, so a forgotten key re-runs rather than
 * silently being ignored.
 */
export function diffByPolicy(policy: DiffPolicy, oldOutputs: object, newInputs: object): DiffOutcome {
    const olds = oldOutputs as Record<string, unknown>;
    const news = newInputs as Record<string, unknown>;
    const keys = new Set(
        [...Object.keys(news)].filter((k) => !NOT_DIFFED.includes(k) && !(policy.derived ?? []).includes(k)),
    );
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
        } else if (policy.quiet.includes(k) || ((policy.adopted ?? []).includes(k) && !(k in olds))) {
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
 * values are stored without touching the host. When the policy's `location` changed, `relocate`
 * moves the resource's files there first and returns the outputs with the new paths (undefined
 * when they cannot be moved, e.g. gone from both places); if nothing but paths under the moved
 * location changed (`onlyMoved`), that is the whole update. Otherwise `rerun` does the remote step
 * again (at the new place).
 */
export async function updateByPolicy<I extends BaseInputs, O extends I>(
    policy: DiffPolicy,
    olds: O,
    news: I,
    rerun: () => Promise<O>,
    force = false,
    relocate?: (move: Move, home: string, onlyMoved: boolean) => Promise<O | undefined>,
): Promise<{ outs: O }> {
    const d = diffByPolicy(policy, olds, news);
    if (!force && d.updates.length === 0) {
        return { outs: { ...olds, ...news } };
    }
    const loc = policy.location;
    if (relocate && loc && d.updates.includes(loc)) {
        const o = olds as unknown as Record<string, unknown>;
        const n = news as unknown as Record<string, unknown>;
        const home = await remoteHome(targetOf(news));
        const move = locationMove(String(o[loc]), String(n[loc]));
        const onlyMoved = !force && d.updates.every((k) => movedWith(o[k], n[k], move, home));
        const moved = await relocate(move, home, onlyMoved);
        if (moved && onlyMoved) {
            return { outs: moved };
        }
    }
    return { outs: await rerun() };
}

// ---------------------------------------------------------------- moving generated files

/** A resource's files move from the directory `from` to `to` (`~/` or absolute). */
export interface Move {
    from: string;
    to: string;
}

/**
 * The move between an old and a new location: the trailing path segments they share are not part
 * of it (`~/dcn/dcn0` → `/srv/dcn/dcn0` moves `~/dcn` to `/srv/dcn`), so paths of other sites
 * under the same root (central's Ceph export, consumed by a DCN deploy) are recognised as moved too.
 */
export function locationMove(oldLocation: string, newLocation: string): Move {
    const a = oldLocation.replace(/\/+$/, "").split("/");
    const b = newLocation.replace(/\/+$/, "").split("/");
    let n = 0;
    while (n < a.length - 1 && n < b.length - 1 && a[a.length - 1 - n] === b[b.length - 1 - n]) {
        n++;
    }
    return { from: a.slice(0, a.length - n).join("/"), to: b.slice(0, b.length - n).join("/") };
}

/** The progress line of a relocation (`old` and `new` are the location before and after). */
export function movedLine(oldLocation: string, newLocation: string, home: string): string {
    const strip = (p: string) => expandHome(p, home).replace(/\/+$/, "");
    return strip(oldLocation) === strip(newLocation)
        ? `${oldLocation} and ${newLocation} are the same directory: nothing to move`
        : `moved the generated files from ${oldLocation} to ${newLocation}`;
}

/**
 * True when `newV` is `oldV` with every path under `move.from` now under `move.to` (and nothing
 * else different): a value that only follows the moved files, consumed content unchanged.
 */
export function movedWith(oldV: unknown, newV: unknown, move: Move, home: string): boolean {
    if (typeof oldV === "string" && typeof newV === "string") {
        const o = expandHome(oldV, home);
        const n = expandHome(newV, home);
        const from = expandHome(move.from, home);
        const to = expandHome(move.to, home);
        return o === n || (o === from && n === to) || (o.startsWith(`${from}/`) && n === to + o.slice(from.length));
    }
    if (Array.isArray(oldV) && Array.isArray(newV)) {
        return oldV.length === newV.length && oldV.every((v, i) => movedWith(v, newV[i], move, home));
    }
    if (oldV && newV && typeof oldV === "object" && typeof newV === "object") {
        const o = oldV as Record<string, unknown>;
        const n = newV as Record<string, unknown>;
        const keys = (r: Record<string, unknown>) =>
            Object.keys(r)
                .filter((k) => r[k] !== undefined)
                .sort()
                .join(",");
        return keys(o) === keys(n) && Object.keys(o).every((k) => movedWith(o[k], n[k], move, home));
    }
    return stableStringify(oldV) === stableStringify(newV);
}

/**
 * Moves files on the undercloud, idempotently: first every existing `from` is copied (mode kept)
 * to its `to` through a temporary file, then the old copies are removed and the old directory too
 * once empty. A file already at its new place counts as moved (a retry after an interruption), the
 * same file reached by two spellings (`-ef`, e.g. a symlinked root) is left alone. Answers the
 * `required` files found at neither place (nothing is removed then).
 */
export async function moveFiles(
    t: SshTarget,
    home: string,
    files: Array<{ from: string; to: string; required?: boolean }>,
    oldDir?: string,
): Promise<string[]> {
    const args = files
        .filter((f) => f.from !== "" && f.to !== "")
        .flatMap((f) => [expandHome(f.from, home), expandHome(f.to, home), f.required ? "1" : "0"]);
    const r = await runOk(t, ["sh", "-c", MOVE_FILES_SCRIPT, "sh", oldDir ? expandHome(oldDir, home) : "", ...args]);
    return r.stdout
        .split("\n")
        .filter((l) => l.startsWith("missing "))
        .map((l) => l.slice("missing ".length));
}

/** $1: old dir to remove when empty (or ""), then triples from, to, required (see moveFiles). */
export const MOVE_FILES_SCRIPT = [
    "umask 077",
    'old="$1"; shift',
    'same() { [ "$1" = "$2" ] || { [ -e "$1" ] && [ "$1" -ef "$2" ]; }; }',
    "copy() {",
    '  while [ $# -ge 3 ]; do f="$1"; t="$2"; req="$3"; shift 3',
    '    same "$f" "$t" && continue',
    '    if [ -f "$f" ]; then mkdir -p "$(dirname "$t")" && cp -p "$f" "$t.tmp" && mv -f "$t.tmp" "$t" || return 1',
    '    elif [ ! -f "$t" ] && [ "$req" = 1 ]; then echo "missing $f"; missing=1; fi',
    "  done",
    "}",
    'drop() { while [ $# -ge 3 ]; do f="$1"; t="$2"; shift 3; same "$f" "$t" || rm -f -- "$f" || return 1; done; }',
    "missing=0",
    'copy "$@" || exit 1',
    '[ "$missing" = 1 ] && exit 0',
    'drop "$@" || exit 1',
    '[ -n "$old" ] && rmdir -- "$old" 2>/dev/null',
    "exit 0",
].join("\n");

/**
 * Creates the undercloud's shared ceph-admin SSH key when missing (run under the
 * `ceph-admin-key.lock`: two first `ceph deploy`s race on it). Written under a temporary name and
 * moved into place, public key first, so an interrupted run never leaves half a key; private
 * (umask 077) also when run outside a job. A key it makes is listed in the jobs dir's OWNED_LIST
 * (`~/.dcn-jobs/owned`, before the key exists), so it goes with the program's last job state on
 * destroy (pruneJobs); a key that was there before is left alone.
 */
export const CEPH_ADMIN_KEY_SCRIPT =
    'umask 077; k="$HOME/.ssh/ceph-admin-id_rsa"; mkdir -p "$HOME/.ssh"; [ -f "$k" ] || { rm -f "$k.new" "$k.new.pub"; ' +
    'mkdir -p "$HOME/.dcn-jobs" && printf "%s\\n" "$k" "$k.pub" >> "$HOME/.dcn-jobs/owned" && ' +
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

/**
 * The progress report of a job step (providers/remote/report.ts): the full output to
 * `logs/<pulumi stack>/<site>/<step>.log`, phase changes and heartbeats to the resource's row.
 */
export function stepProgress(resource: { logUrn?: string }, site: string, step: string): JobReport {
    const urn = resource.logUrn && resource.logUrn !== UNKNOWN ? resource.logUrn : undefined;
    return stepReport({ site, step, logUrn: urn });
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
