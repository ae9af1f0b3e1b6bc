// Small pieces every simulated command uses: an argparse-like parser (unknown options are errors,
// exit 2, as python-tripleoclient's argparse does), cliff-style output, simulated time and
// Ansible-style progress lines.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { readConfig } from "../paths";

/** A failure the user sees: message on stderr, non-zero exit. */
export class CommandError extends Error {
    constructor(
        message: string,
        readonly exitCode = 1,
    ) {
        super(message);
    }
}

export interface OptSpec {
    /** Option names, e.g. ["-o", "--output"]. The key used in results is the first long name without dashes. */
    names: string[];
    value?: boolean;
    multiple?: boolean;
    /** Value may be omitted (e.g. `--wait [timeout]`). */
    optionalValue?: boolean;
    default?: string;
    /** argparse `type=int`: a value that is no integer is a usage error (exit 2). */
    int?: boolean;
    /** argparse `choices`: any other value is a usage error (exit 2). */
    choices?: string[];
    /** argparse `required=True` (exit 2 when missing). */
    required?: boolean;
}

export interface Parsed {
    opts: Record<string, string | boolean | string[] | undefined>;
    positionals: string[];
}

export function keyOf(spec: OptSpec): string {
    const long = spec.names.find((n) => n.startsWith("--")) ?? spec.names[0];
    return long.replace(/^-+/, "").replace(/-/g, "_");
}

export const COMMON_OPTS: OptSpec[] = [
    { names: ["-f", "--format"], value: true },
    { names: ["-c", "--column"], value: true, multiple: true },
    { names: ["--max-width"], value: true },
    { names: ["--noindent"] },
    { names: ["--fit-width"] },
    { names: ["--print-empty"] },
    { names: ["--sort-column"], value: true, multiple: true },
];

/** Parses argv against specs; `prog` is used in argparse-style errors. */
export function parseArgs(
    prog: string,
    argv: string[],
    specs: OptSpec[],
    maxPositionals = Infinity,
    minPositionals = 0,
): Parsed {
    const opts: Parsed["opts"] = {};
    const positionals: string[] = [];
    for (const s of specs) {
        if (s.default !== undefined) opts[keyOf(s)] = s.default;
    }
    const find = (name: string) => specs.find((s) => s.names.includes(name));
    const usageErr = (msg: string) => new CommandError(`usage: ${prog} [-h] ...\n${prog}: error: ${msg}`, 2);
    const unknown: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--") {
            positionals.push(...argv.slice(i + 1));
            break;
        }
        if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
            let name = a;
            let inline: string | undefined;
            const eq = a.indexOf("=");
            if (a.startsWith("--") && eq > 0) {
                name = a.slice(0, eq);
                inline = a.slice(eq + 1);
            }
            const s = find(name);
            if (!s) {
                unknown.push(a);
                continue;
            }
            const k = keyOf(s);
            let v: string | boolean;
            if (s.value) {
                if (inline !== undefined) v = inline;
                else if (i + 1 < argv.length && !(s.optionalValue && argv[i + 1].startsWith("-"))) v = argv[++i];
                else if (s.optionalValue) v = true;
                else throw usageErr(`argument ${s.names.join("/")}: expected one argument`);
            } else v = true;
            const arg = `argument ${s.names.join("/")}`;
            if (typeof v === "string" && s.int && !/^[-+]?\d+$/.test(v.trim()))
                throw usageErr(`${arg}: invalid int value: '${v}'`);
            if (typeof v === "string" && s.choices && !s.choices.includes(v))
                throw usageErr(
                    `${arg}: invalid choice: '${v}' (choose from ${s.choices.map((c) => `'${c}'`).join(", ")})`,
                );
            if (s.multiple) opts[k] = [...((opts[k] as string[] | undefined) ?? []), String(v)];
            else opts[k] = v;
        } else positionals.push(a);
    }
    if (positionals.length > maxPositionals) unknown.push(...positionals.slice(maxPositionals));
    // argparse's order: required arguments first, then what it did not recognise.
    const missing = specs.filter((s) => s.required && opts[keyOf(s)] === undefined).map((s) => s.names.join("/"));
    if (positionals.length < minPositionals) missing.unshift("positional");
    if (missing.length) throw usageErr(`the following arguments are required: ${missing.join(", ")}`);
    if (unknown.length) throw usageErr(`unrecognized arguments: ${unknown.join(" ")}`);
    return { opts, positionals };
}

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

// ---- output ----

let stdoutBroken = false;
process.stdout.on("error", () => {
    stdoutBroken = true;
});
process.stderr.on("error", () => {
    /* the SSH session is gone; the command goes on */
});

export function out(line = ""): void {
    if (stdoutBroken) return;
    try {
        process.stdout.write(line + "\n");
    } catch {
        stdoutBroken = true;
    }
}

export function err(line: string): void {
    try {
        process.stderr.write(line + "\n");
    } catch {
        /* ignore */
    }
}

function cliffTable(headers: string[], rows: string[][]): string {
    const w = headers.map((h, i) =>
        Math.max(h.length, ...rows.map((r) => (r[i] ?? "").split("\n").reduce((m, l) => Math.max(m, l.length), 0))),
    );
    const sep = "+" + w.map((x) => "-".repeat(x + 2)).join("+") + "+";
    const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(w[i])).join(" | ") + " |";
    const lines = [sep, line(headers), sep];
    for (const r of rows) {
        const parts = r.map((c) => (c ?? "").split("\n"));
        const h = Math.max(1, ...parts.map((p) => p.length));
        for (let j = 0; j < h; j++) lines.push(line(parts.map((p) => p[j] ?? "")));
    }
    lines.push(sep);
    return lines.join("\n");
}

/** A PrettyTable (prettytable 3.6 defaults: centred, one space of padding), as tripleoclient prints some. */
export function prettyTable(headers: string[], rows: string[][]): string {
    const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const centre = (t: string, width: number) => {
        const excess = width - t.length;
        // prettytable's _justify: the odd space goes right of odd-length text, left of even-length.
        const left = Math.floor(excess / 2) + (excess % 2 && t.length % 2 === 0 ? 1 : 0);
        return " ".repeat(left) + t + " ".repeat(excess - left);
    };
    const sep = "+" + w.map((x) => "-".repeat(x + 2)).join("+") + "+";
    const line = (cells: string[]) => "| " + cells.map((c, i) => centre(c, w[i])).join(" | ") + " |";
    return [sep, line(headers), sep, ...rows.map(line), sep].join("\n");
}

type Cell = string | number | boolean | null | string[] | Record<string, unknown>;
const cellText = (v: Cell): string =>
    v === null ? "None" : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v);

/** Prints a list the way cliff does for `-f table|value|json|yaml|csv` and `-c`. */
export function printList(parsed: Parsed, headers: string[], rows: Cell[][]): void {
    const cols = (parsed.opts.column as string[] | undefined) ?? headers;
    const idx = cols.map((c) => headers.indexOf(c)).filter((i) => i >= 0);
    const fmt = str(parsed.opts.format) ?? "table";
    const sel = rows.map((r) => idx.map((i) => r[i]));
    const hs = idx.map((i) => headers[i]);
    if (fmt === "value") for (const r of sel) out(r.map(cellText).join(" "));
    else if (fmt === "json")
        out(
            JSON.stringify(
                sel.map((r) => Object.fromEntries(hs.map((h, j) => [h, r[j]]))),
                null,
                2,
            ),
        );
    else if (fmt === "yaml")
        out(sel.map((r) => "- " + hs.map((h, j) => `${h}: ${JSON.stringify(r[j])}`).join("\n  ")).join("\n"));
    else if (fmt === "csv") {
        out(hs.map((h) => `"${h}"`).join(","));
        for (const r of sel) out(r.map((c) => `"${cellText(c)}"`).join(","));
    } else
        out(
            cliffTable(
                hs,
                sel.map((r) => r.map(cellText)),
            ),
        );
}

/** Prints one object the way cliff's ShowOne does. */
export function printShow(parsed: Parsed, obj: Record<string, Cell>): void {
    const cols = (parsed.opts.column as string[] | undefined) ?? Object.keys(obj).sort();
    const fmt = str(parsed.opts.format) ?? "table";
    const keys = cols.filter((c) => c in obj);
    if (fmt === "value") for (const k of keys) out(cellText(obj[k]));
    else if (fmt === "json") out(JSON.stringify(Object.fromEntries(keys.map((k) => [k, obj[k]])), null, 2));
    else if (fmt === "yaml" || fmt === "shell")
        for (const k of keys) out(fmt === "shell" ? `${k}="${cellText(obj[k])}"` : `${k}: ${JSON.stringify(obj[k])}`);
    else
        out(
            cliffTable(
                ["Field", "Value"],
                keys.map((k) => [k, cellText(obj[k])]),
            ),
        );
}

// ---- time and progress ----

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Real milliseconds for a simulated duration in minutes. */
export function simMs(minutes: number): number {
    return Math.max(0, minutes * readConfig().timeScale * 1000);
}

function stamp(): string {
    return new Date().toISOString().replace("T", " ").replace("Z", "");
}

/**
 * Streams Ansible-style progress for `minutes` of simulated time: a PLAY line, then for each task
 * a TASK banner and one result line per host. `onTick(fraction)` runs between tasks and may throw
 * to abort (e.g. the ephemeral Heat went away).
 */
export async function ansible(
    play: string,
    minutes: number,
    tasks: string[],
    hosts: string[],
    onTick?: (fraction: number) => void | Promise<void>,
): Promise<void> {
    const total = simMs(minutes);
    const t0 = Date.now();
    out(`\nPLAY [${play}] ${"*".repeat(Math.max(3, 60 - play.length))}`);
    for (let i = 0; i < tasks.length; i++) {
        out(`\nTASK [${tasks[i]}] ${"*".repeat(Math.max(3, 60 - tasks[i].length))}`);
        out(`${stamp()} | ${fmtElapsed(Date.now() - t0)} | ${tasks[i]}`);
        const until = t0 + (total * (i + 1)) / tasks.length;
        const wait = until - Date.now();
        if (wait > 0) await sleep(wait);
        for (const h of hosts) out(`${i % 3 === 1 ? "changed" : "ok"}: [${h}]`);
        if (onTick) await onTick((i + 1) / tasks.length);
    }
    out(`\nPLAY RECAP ${"*".repeat(50)}`);
    for (const h of hosts)
        out(
            `${h.padEnd(28)}: ok=${tasks.length}   changed=${Math.floor(tasks.length / 3)}    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0`,
        );
}

function fmtElapsed(ms: number): string {
    const s = ms / 1000;
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return `${String(h).padStart(1, "0")}:${String(m).padStart(2, "0")}:${(s % 60).toFixed(3).padStart(6, "0")}`;
}

// ---- files ----

export function home(): string {
    return process.env.HOME ?? "/home/stack";
}

/** Expands `~` and makes the path absolute against the current directory. */
export function absPath(p: string): string {
    if (p === "~" || p.startsWith("~/")) p = path.join(home(), p.slice(1));
    return path.resolve(process.cwd(), p);
}

export function workingDir(stack: string, override?: string): string {
    return override ? absPath(override) : path.join(home(), "overcloud-deploy", stack);
}

/** Reads a YAML file, with the error text tripleoclient prints when it cannot. */
export function readYamlFile(p: string, what: string): unknown {
    if (!fs.existsSync(p))
        throw new CommandError(`ERROR: ${what} file not found: ${p}\n[Errno 2] No such file or directory: '${p}'`);
    try {
        return parse(fs.readFileSync(p, "utf8"));
    } catch (e) {
        throw new CommandError(`ERROR: Unable to parse ${what} file ${p}: ${(e as Error).message.split("\n")[0]}`);
    }
}

export function writeOut(p: string, text: string, mode = 0o644): void {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text, { mode });
    fs.chmodSync(p, mode);
}

/** Rewrites /usr/share/openstack-tripleo-heat-templates to the undercloud's ~/templates. */
export function thtPath(rel: string): string {
    return path.join(home(), "templates", rel);
}

export function randomPassword(len = 25): string {
    const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    return Array.from(randomBytes(len), (b) => chars[b % chars.length]).join("");
}

/** Prompts like tripleoclient; without a terminal (ssh without -t) the answer is "no". */
export function confirm(question: string): boolean {
    out(`${question} [y/N]: `);
    if (!process.stdin.isTTY) return false;
    const buf = Buffer.alloc(16);
    try {
        const n = fs.readSync(0, buf, 0, 16, null);
        return /^y(es)?$/i.test(buf.subarray(0, n).toString().trim());
    } catch {
        return false;
    }
}
