// The contract between the lab's two TripleO CLIs: the imitation (LAB_TRIPLEO=imitation,
// lab/undercloud/) must accept only what real python-tripleoclient 20.0.0 accepts (lab/tripleo/) and
// write files of the same shape. Helpers for tests/integration/real-tripleo.test.ts, which records
// the program's command lines on a real-mode lab and replays them here through an imitation lab:
// - replayThroughImitation: the recorded `openstack overcloud …` (and the lab's own `openstack
//   baremetal …`/`metalsmith …`) command lines, in order, with the program's input files copied over;
// - shapeOf/compareShapes: a structural fingerprint of a YAML/JSON file (keys and value types, lists
//   reduced to the shape of their items; values, hence fsids, keys, IPs and passwords, never count);
// - malformedVariants: command lines the real client refuses (argparse, or its own checks before
//   anything changes), to check that the imitation refuses them too.
import { spawn } from "node:child_process";
import { generateCephxKey } from "../../lab/ceph";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { paths } from "../../lab/paths";
import { sshArgs } from "../../lab/sshd";
import { shJoin } from "../../providers/remote/shell";
import { type LabLogEntry, type PrivateLab, startPrivateLab } from "./lab";

// ---- which commands, and their files ----

/** The tripleoclient command a command line runs (`node provision`, `export ceph`, …), or undefined. */
export type CommandKind =
    | "roles generate"
    | "network provision"
    | "network vip provision"
    | "node provision"
    | "node unprovision"
    | "ceph deploy"
    | "export ceph"
    | "export"
    | "deploy"
    | "delete"
    | "status";

const KINDS: CommandKind[] = [
    "network vip provision",
    "network provision",
    "node provision",
    "node unprovision",
    "roles generate",
    "ceph deploy",
    "export ceph",
    "export",
    "deploy",
    "delete",
    "status",
];

export function kindOf(argv: readonly string[]): CommandKind | undefined {
    if (argv[0] !== "openstack" || argv[1] !== "overcloud") return undefined;
    const words = argv.slice(2).join(" ") + " ";
    return KINDS.find((k) => words.startsWith(k + " ") && !(k === "export" && words.startsWith("export ceph ")));
}

/**
 * The commands a contract replays: tripleoclient's (`openstack overcloud …`; real in one lab, the
 * imitation in the other) and the hardware commands the program runs around them (`openstack
 * baremetal …`, `metalsmith …`: the lab's own in both modes). Token, aggregate and server commands
 * are the lab's own in both modes too and only read or touch the data plane: not replayed.
 */
export function isContractCommand(argv: readonly string[]): boolean {
    return (argv[0] === "openstack" && ["overcloud", "baremetal"].includes(argv[1])) || argv[0] === "metalsmith";
}

/**
 * For each recorded run: whether it is the last run of its command line. The replay copies the
 * program's input files as they are at the end of the recording, and an earlier run of the same
 * line read older versions (a scale-out rewrites the baremetal file, an added site the Glance file
 * and the Ceph export), so only a line's last run is judged; the earlier ones are replayed all the
 * same, in order, for what they leave behind.
 */
export function lastRunFlags(entries: ReadonlyArray<{ argv: string[] }>): boolean[] {
    const last = new Map<string, number>();
    entries.forEach((e, i) => last.set(JSON.stringify(e.argv), i));
    return entries.map((e, i) => last.get(JSON.stringify(e.argv)) === i);
}

/** Options whose value is a file or directory a command writes. */
const OUTPUT_OPTS = new Set(["-o", "--output", "--output-file", "--output-dir"]);

/** Files and directories a command line names as its outputs. */
export function outputPaths(argv: readonly string[]): string[] {
    const outs: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const eq = a.indexOf("=");
        if (a.startsWith("--") && eq > 0 && OUTPUT_OPTS.has(a.slice(0, eq))) outs.push(a.slice(eq + 1));
        // `-f` is a flag of `export`/`export ceph` (--force-overwrite), never an output.
        else if (OUTPUT_OPTS.has(a) && i + 1 < argv.length) outs.push(argv[++i]);
    }
    return outs;
}

/** Every path in argv (`--x=/p` included) under `home`. */
function pathsUnder(argv: readonly string[], home: string): string[] {
    return argv
        .map((a) => (a.startsWith("--") && a.includes("=") ? a.slice(a.indexOf("=") + 1) : a))
        .filter((a) => a.startsWith(home + "/"));
}

/** argv with the session-home prefix `from` replaced by `to` (argv in the lab log are absolute). */
export function rebase(argv: readonly string[], from: string, to: string): string[] {
    return argv.map((a) => a.split(from + "/").join(to + "/"));
}

/**
 * The program-written inputs of a run: paths under the real lab's session home that the commands
 * name, that none of them writes, and that the imitation lab's home does not already hold (the
 * seeded files and `~/templates` are the lab's own in each mode). Relative to the home.
 */
export function programInputs(commands: ReadonlyArray<{ argv: string[] }>, realHome: string): string[] {
    const outputs = new Set(commands.flatMap((c) => outputPaths(c.argv)));
    const inputs = new Set<string>();
    for (const c of commands) for (const p of pathsUnder(c.argv, realHome)) if (!outputs.has(p)) inputs.add(p);
    return [...inputs].map((p) => path.relative(realHome, p));
}

/** Copies a file or directory tree, rewriting `from` to `to` in every file (paths in env files). */
function copyRebased(src: string, dst: string, from: string, to: string): void {
    const st = fs.statSync(src);
    if (st.isDirectory()) {
        fs.mkdirSync(dst, { recursive: true });
        for (const e of fs.readdirSync(src)) copyRebased(path.join(src, e), path.join(dst, e), from, to);
        return;
    }
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.writeFileSync(
        dst,
        fs
            .readFileSync(src, "utf8")
            .split(from + "/")
            .join(to + "/"),
        { mode: st.mode & 0o777 },
    );
}

// ---- running command lines on a lab ----

export interface Ran {
    argv: string[];
    exit: number;
    /** stdout and stderr, interleaved. */
    output: string;
}

/** Runs one command line on a lab undercloud over its SSH (what `lab ssh -- <quoted argv>` does). */
export function runOnLab(lab: PrivateLab | string, argv: readonly string[], timeoutMs = 600_000): Promise<Ran> {
    const dir = typeof lab === "string" ? lab : lab.dir;
    return new Promise((resolve) => {
        const child = spawn("ssh", sshArgs(dir, shJoin(argv)), { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (b: Buffer) => (output += b.toString()));
        child.stderr.on("data", (b: Buffer) => (output += b.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ argv: [...argv], exit: code ?? -1, output });
        });
    });
}

/** Runs command lines on a lab, `parallel` at a time; results in the order given. */
export async function runEach(lab: PrivateLab | string, argvs: readonly string[][], parallel = 1): Promise<Ran[]> {
    const results: Ran[] = new Array<Ran>(argvs.length);
    let next = 0;
    const worker = async () => {
        for (let i = next++; i < argvs.length; i = next++) results[i] = await runOnLab(lab, argvs[i]);
    };
    await Promise.all(Array.from({ length: Math.min(parallel, argvs.length) }, worker));
    return results;
}

/** A fresh cephx-shaped key (the log redacts them; a replay needs a valid one in their place). */
const cephxKey = generateCephxKey;

export interface Replayed extends Ran {
    /** The recorded run (real lab) this is the replay of. */
    recorded: LabLogEntry;
    /** The line's first replay, when it failed and was run again at the end (see replayThroughImitation). */
    firstTry?: Ran;
}

export interface ReplayOptions {
    /** Dir of the imitation lab to start (its LAB_DIR). */
    dir: string;
    /** LAB_TIME_SCALE of the imitation lab (default 0.05). */
    timeScale?: string;
    /** Called after each command (progress for long replays). */
    onResult?: (r: Replayed) => void;
}

/**
 * Starts a private imitation lab, copies into its home the program-written inputs the commands
 * name (from `<realLabDir>/home`, the real lab's session home rewritten to the imitation's in their
 * text), and runs the command lines in order on it, argv rebased to its session home. The caller
 * stops the lab.
 *
 * The inputs are their last versions, so an early run may fail where the real one did not (the
 * seed's central deploy meets a Glance file that already names dcn2's store, whose Ceph export is
 * only written later) and leave a later line without its input (no central stack export for
 * dcn1's deploy). So a line whose last run failed runs once more at the end, when every output of
 * the recording exists; that second run is its result (the first one stays in `firstTry`).
 */
export async function replayThroughImitation(
    realLabDir: string,
    commands: readonly LabLogEntry[],
    opts: ReplayOptions,
): Promise<{ lab: PrivateLab; results: Replayed[] }> {
    const lab = await startPrivateLab(opts.dir, opts.timeScale ?? "0.05", "imitation");
    const real = paths(realLabDir);
    const mine = paths(opts.dir);
    for (const rel of programInputs(commands, real.sessionHome)) {
        const src = path.join(real.home, rel);
        const dst = path.join(mine.home, rel);
        if (fs.existsSync(src) && !fs.existsSync(dst)) copyRebased(src, dst, real.sessionHome, mine.sessionHome);
    }
    const replay = (recorded: LabLogEntry): Promise<Ran> => {
        const argv = rebase(recorded.argv, real.sessionHome, mine.sessionHome).map((a) =>
            a === "<redacted>" ? cephxKey() : a,
        );
        // The program removes a provision command's output before running it (its `rm -f` is not an
        // `openstack` line of the recording): a re-run must not meet the previous run's file.
        if (["network provision", "network vip provision", "node provision"].includes(kindOf(argv) ?? ""))
            for (const o of outputPaths(argv)) fs.rmSync(o, { force: true });
        return runOnLab(lab, argv);
    };
    const results: Replayed[] = [];
    for (const recorded of commands) {
        const r = { ...(await replay(recorded)), recorded };
        results.push(r);
        opts.onResult?.(r);
    }
    const last = lastRunFlags(commands);
    for (const [i, r] of results.entries()) {
        if (!last[i] || r.exit === 0 || r.recorded.exit !== 0) continue;
        results[i] = { ...(await replay(r.recorded)), recorded: r.recorded, firstTry: r };
        opts.onResult?.(results[i]);
    }
    return { lab, results };
}

/**
 * Files both labs' commands write, as paths relative to each home: what the command lines name as
 * outputs (deployed network/VIP/metal/Ceph envs, Ceph and stack exports, roles files) and, per
 * stack, what tripleoclient writes in its working dir for the next commands and the operator.
 */
export function comparableOutputs(commands: ReadonlyArray<{ argv: string[] }>, realHome: string): string[] {
    const files = new Set<string>();
    for (const c of commands) {
        for (const o of outputPaths(c.argv)) if (o.startsWith(realHome + "/")) files.add(path.relative(realHome, o));
        const i = c.argv.indexOf("--stack");
        const wd = `overcloud-deploy/${c.argv[i + 1]}`;
        if (i < 0) continue;
        if (kindOf(c.argv) === "node provision") files.add(`${wd}/tripleo-ansible-inventory.yaml`);
        if (kindOf(c.argv) === "ceph deploy") files.add(`${wd}/ceph_client.yml`).add(`${wd}/generated_ceph_spec.yaml`);
        if (kindOf(c.argv) === "deploy")
            files.add(`${wd}/${c.argv[i + 1]}-passwords.yaml`).add(`${wd}/${c.argv[i + 1]}-deployment_status.yaml`);
    }
    return [...files].sort();
}

// ---- shapes ----

/**
 * A structural fingerprint: the scalar types a node takes, the shape its list items merge to (an
 * empty list: `item` undefined) and its map keys. A node may be several at once across list items.
 */
export interface Shape {
    scalars: string[];
    list?: { item?: Shape };
    map?: Record<string, Shape>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const IP = /^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f:]+:[0-9a-f:]*$/i;

/** Map keys that are values (ids, addresses) count as one key each kind. */
function normaliseKey(k: string): string {
    if (UUID.test(k)) return "<uuid>";
    if (IP.test(k)) return "<ip>";
    return k;
}

function merge(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
    if (!a) return b;
    if (!b) return a;
    const s: Shape = { scalars: [...new Set([...a.scalars, ...b.scalars])].sort() };
    if (a.list || b.list) s.list = { item: merge(a.list?.item, b.list?.item) };
    if (a.map || b.map) {
        const map: Record<string, Shape> = {};
        for (const k of new Set([...Object.keys(a.map ?? {}), ...Object.keys(b.map ?? {})]))
            map[k] = merge(a.map?.[k], b.map?.[k])!;
        s.map = map;
    }
    return s;
}

function shapeOfValue(v: unknown): Shape {
    if (v === null || v === undefined) return { scalars: ["null"] };
    if (Array.isArray(v)) return { scalars: [], list: { item: v.map(shapeOfValue).reduce(merge, undefined) } };
    if (typeof v === "object") {
        let map: Record<string, Shape> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
            const key = normaliseKey(k);
            map = { ...map, [key]: merge(map[key], shapeOfValue(x))! };
        }
        return { scalars: [], map };
    }
    if (typeof v === "number") return { scalars: [Number.isInteger(v) ? "int" : "float"] };
    return { scalars: [typeof v === "boolean" ? "bool" : "string"] };
}

/** The shape of a YAML (or JSON) text; a multi-document YAML is the list of its documents. */
export function shapeOf(text: string): Shape {
    const docs = parseAllDocuments(text).map((d) => d.toJS() as unknown);
    return shapeOfValue(docs.length === 1 ? docs[0] : docs);
}

/** Where two shapes differ, as `<file>: <path>: …` lines (empty: the same shape). */
export function compareShapes(real: Shape, imitation: Shape, file: string, at = "$"): string[] {
    const diffs: string[] = [];
    const scalars = (s: Shape) => s.scalars.join("|") || "-";
    if (scalars(real) !== scalars(imitation))
        diffs.push(`${file}: ${at}: real ${scalars(real)}, imitation ${scalars(imitation)}`);
    if (!!real.list !== !!imitation.list)
        diffs.push(`${file}: ${at}: a list only in ${real.list ? "real" : "the imitation"}`);
    else if (real.list && imitation.list) {
        const [r, i] = [real.list.item, imitation.list.item];
        if (r && i) diffs.push(...compareShapes(r, i, file, `${at}[]`));
        else if (r || i) diffs.push(`${file}: ${at}: an empty list in ${r ? "the imitation" : "real"}`);
    }
    if (!!real.map !== !!imitation.map)
        diffs.push(`${file}: ${at}: a map only in ${real.map ? "real" : "the imitation"}`);
    else if (real.map && imitation.map) {
        for (const k of Object.keys(real.map))
            if (!(k in imitation.map)) diffs.push(`${file}: ${at}.${k}: only in real`);
        for (const k of Object.keys(imitation.map))
            if (!(k in real.map)) diffs.push(`${file}: ${at}.${k}: only in the imitation`);
            else diffs.push(...compareShapes(real.map[k], imitation.map[k], file, `${at}.${k}`));
    }
    return diffs;
}

/** The shape differences of one file (relative path) between two homes; a missing file is one too. */
export function compareFiles(realHome: string, imitationHome: string, rel: string): string[] {
    const [a, b] = [path.join(realHome, rel), path.join(imitationHome, rel)];
    if (!fs.existsSync(a) || !fs.existsSync(b))
        return fs.existsSync(a) || fs.existsSync(b)
            ? [`${rel}: written only by ${fs.existsSync(a) ? "real" : "the imitation"}`]
            : [];
    return compareShapes(shapeOf(fs.readFileSync(a, "utf8")), shapeOf(fs.readFileSync(b, "utf8")), rel);
}

// ---- malformed command lines ----

export interface Variant {
    kind: CommandKind;
    /** What is wrong with it. */
    what: string;
    argv: string[];
}

/**
 * One command line of each kind the recording holds (its first), plus `extra` ones for kinds it
 * does not hold yet (e.g. `node unprovision` and `delete` before a site is removed).
 */
export function commandsByKind(
    entries: ReadonlyArray<{ argv: string[] }>,
    extra: readonly string[][] = [],
): Map<CommandKind, string[]> {
    const byKind = new Map<CommandKind, string[]>();
    for (const argv of [...entries.map((e) => e.argv), ...extra]) {
        const k = kindOf(argv);
        if (k && !byKind.has(k)) byKind.set(k, argv);
    }
    return byKind;
}

/** Options of tripleoclient's commands that take a value (`-f` is one only for `status`). */
const VALUE_OPTS = new Set([
    "-o",
    "--output",
    "--output-file",
    "--output-dir",
    "--roles-path",
    "--templates",
    "--stack",
    "--concurrency",
    "--timeout",
    "-t",
    "-r",
    "--roles-file",
    "-n",
    "--networks-file",
    "-e",
    "--environment-file",
    "--libvirt-type",
    "--heat-type",
    "--container-image-prepare",
    "--network-data",
    "--roles-data",
    "--cluster",
    "--ansible-extra-vars",
    "--ceph-client-key",
    "--ceph-client-username",
    "--cephx-key-client-name",
    "-k",
    "--config-download-dir",
    "--working-dir",
    "--mon-ip",
    "-c",
    "--column",
    "--format",
]);

/** Index of the first word after `openstack overcloud <kind>`. */
const argStart = (kind: CommandKind) => 2 + kind.split(" ").length;

/** Indexes of the positional arguments of a command line of `kind`. */
function positionalIndexes(argv: readonly string[], kind: CommandKind): number[] {
    const idx: number[] = [];
    for (let i = argStart(kind); i < argv.length; i++) {
        const a = argv[i];
        if (a.startsWith("-") && a.length > 1) {
            if (!a.includes("=") && (VALUE_OPTS.has(a) || (a === "-f" && kind === "status"))) i++;
        } else idx.push(i);
    }
    return idx;
}

function withoutOpt(argv: readonly string[], names: string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        if (names.includes(argv[i])) {
            if (VALUE_OPTS.has(argv[i])) i++;
            continue;
        }
        if (names.some((n) => argv[i].startsWith(n + "="))) continue;
        out.push(argv[i]);
    }
    return out;
}

function withOpt(argv: readonly string[], names: string[], value: string): string[] {
    const out = withoutOpt(argv, names);
    return [...out, names[names.length - 1], value];
}

const replaceAt = (argv: readonly string[], i: number, v: string) => argv.map((a, j) => (j === i ? v : a));
const withoutAt = (argv: readonly string[], drop: number[]) => argv.filter((_, j) => !drop.includes(j));

/**
 * Malformed variants of one of the program's command lines: ones the real tripleoclient refuses,
 * by its argument parser (exit 2) or its own checks before it changes anything (exit 1), so they are
 * safe to run on a deployed real lab. Their outputs go to `scratch` (a dir under the session home),
 * never over the program's files; `home` is the lab's session home (seeded `~/pools_template.yml`).
 */
export function malformedVariants(argv: readonly string[], home: string, scratch: string): Variant[] {
    const kind = kindOf(argv);
    if (!kind) return [];
    // Outputs to scratch: nothing a variant does can touch the program's files.
    let base = [...argv];
    for (const o of ["-o", "--output", "--output-file"])
        if (base.includes(o)) base = replaceAt(base, base.indexOf(o) + 1, `${scratch}/${kind.replace(/ /g, "-")}.yaml`);
    const missing = `${scratch}/no-such-file.yaml`;
    const pos = positionalIndexes(base, kind);
    const v: Variant[] = [{ kind, what: "an unknown option", argv: [...base, "--no-such-option"] }];
    const add = (what: string, a: string[]) => v.push({ kind, what, argv: a });
    switch (kind) {
        case "roles generate":
            add("no role", withoutAt(base, pos));
            add("a role that does not exist", [...withoutAt(base, pos), "NoSuchRole"]);
            add("a roles path that does not exist", withOpt(base, ["--roles-path"], `${scratch}/no-such-dir`));
            break;
        case "network provision":
            add("no <network_data.yaml>", withoutAt(base, pos));
            add("no --output", withoutOpt(base, ["-o", "--output"]));
            add("a <network_data.yaml> that does not exist", replaceAt(base, pos[0], missing));
            break;
        case "network vip provision":
            add("no <vip_data.yaml>", withoutAt(base, pos));
            add("no --stack", withoutOpt(base, ["--stack"]));
            add("no --output", withoutOpt(base, ["-o", "--output"]));
            add("a <vip_data.yaml> that does not exist", replaceAt(base, pos[0], missing));
            break;
        case "node provision":
            add("no <baremetal_deployment.yaml>", withoutAt(base, pos));
            add("a <baremetal_deployment.yaml> that does not exist", replaceAt(base, pos[0], missing));
            add("a --concurrency that is no number", withOpt(base, ["--concurrency"], "two"));
            break;
        case "node unprovision":
            add("no <baremetal_deployment.yaml>", withoutAt(base, pos));
            add("a <baremetal_deployment.yaml> that does not exist", replaceAt(base, pos[0], missing));
            break;
        case "ceph deploy":
            add("no --output", withoutOpt(base, ["-o", "--output"]));
            add("a <deployed_baremetal.yaml> that does not exist", replaceAt(base, pos[0], missing));
            add("a --roles-data that does not exist", withOpt(base, ["--roles-data"], missing));
            add("a --mon-ip that is no address", withOpt(base, ["--mon-ip"], "not-an-ip"));
            add("--ansible-extra-vars without --force", withoutOpt(base, ["--force"]));
            // The seeded pools file: pools and no tripleo_cephadm_keys, so the key is checked (with
            // keys in the file tripleoclient ignores --ceph-client-key).
            add(
                "--ceph-client-key not-a-key (with --force and pools)",
                withOpt(
                    withOpt(
                        base.includes("--force") ? base : [...base, "--force"],
                        ["--ansible-extra-vars"],
                        `${home}/pools_template.yml`,
                    ),
                    ["--ceph-client-key"],
                    "not-a-key",
                ),
            );
            break;
        case "export ceph":
            add("a stack that does not exist", withOpt(base, ["--stack"], "no-such-stack"));
            add(
                "a --config-download-dir that does not exist",
                withOpt(base, ["--config-download-dir"], `${scratch}/no-such-dir`),
            );
            break;
        case "export":
            add("a stack that does not exist", withOpt(base, ["--stack"], "no-such-stack"));
            break;
        case "deploy":
            add("an -e file that does not exist", [...base, "-e", missing]);
            add("a -n file that does not exist", withOpt(base, ["-n", "--networks-file"], missing));
            add("a --heat-type that is no choice", withOpt(base, ["--heat-type"], "bogus"));
            add("a --libvirt-type that is no choice", withOpt(base, ["--libvirt-type"], "bogus"));
            add("a --timeout that is no number", withOpt(base, ["-t", "--timeout"], "ninety"));
            break;
        case "delete": {
            // A stack that does not exist for the checks past argparse: a refusal is the point.
            const none = replaceAt(base, pos[0], "no-such-stack");
            add("no stack", withoutAt(base, pos));
            add("no --yes (no terminal to confirm)", withoutOpt(none, ["-y", "--yes"]));
            add("a --heat-type that is no choice", withOpt(base, ["--heat-type"], "bogus"));
            break;
        }
        case "status":
            add("-f/-c (not a cliff lister)", [...base, "-f", "value", "-c", "Deployment Status"]);
            break;
    }
    return v;
}
