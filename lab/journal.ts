// The command log: one JSON line when an undercloud command starts and one when it ends
// (appends of a few hundred bytes with O_APPEND are atomic). `lab log --json` merges them into one
// object per command. Secrets never reach it: argv is redacted first.
import * as fs from "node:fs";
import { paths, writeFileAtomic } from "./paths";

export interface LogEntry {
    start: string;
    end: string | null;
    argv: string[];
    stack: string | null;
    exit: number | null;
    mutating: boolean;
}

const SECRET_FLAGS = new Set(["--ceph-client-key", "--password", "--os-password", "--admin-password", "--key"]);
const KEY_RE = /[A-Za-z0-9+/]{38}==/g;

/** Replaces secret values in argv (`--ceph-client-key X`, `--x=secret`, anything cephx-key shaped). */
export function redactArgv(argv: string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const eq = a.indexOf("=");
        if (eq > 0 && SECRET_FLAGS.has(a.slice(0, eq))) {
            out.push(`${a.slice(0, eq)}=<redacted>`);
            continue;
        }
        out.push(a.replace(KEY_RE, "<redacted>"));
        if (SECRET_FLAGS.has(a) && i + 1 < argv.length) {
            out.push("<redacted>");
            i++;
        }
    }
    return out;
}

export function redactText(text: string): string {
    return text.replace(KEY_RE, "<redacted>");
}

export function logStart(id: string, e: Omit<LogEntry, "end" | "exit">, dir?: string): void {
    fs.appendFileSync(paths(dir).log, JSON.stringify({ id, ...e, argv: redactArgv(e.argv) }) + "\n");
}

export function logEnd(id: string, exit: number, dir?: string): void {
    fs.appendFileSync(paths(dir).log, JSON.stringify({ id, end: new Date().toISOString(), exit }) + "\n");
}

export function readLog(dir?: string): LogEntry[] {
    const p = paths(dir).log;
    if (!fs.existsSync(p)) return [];
    const byId = new Map<string, LogEntry>();
    for (const line of fs.readFileSync(p, "utf8").split("\n")) {
        if (!line.trim()) continue;
        let r: {
            id: string;
            start?: string;
            end?: string;
            argv?: string[];
            stack?: string | null;
            exit?: number;
            mutating?: boolean;
        };
        try {
            r = JSON.parse(line);
        } catch {
            continue;
        }
        if (r.start !== undefined) {
            byId.set(r.id, {
                start: r.start,
                end: null,
                argv: r.argv ?? [],
                stack: r.stack ?? null,
                exit: null,
                mutating: r.mutating ?? true,
            });
        } else {
            const e = byId.get(r.id);
            if (e) {
                e.end = r.end ?? null;
                e.exit = r.exit ?? null;
            }
        }
    }
    return [...byId.values()];
}

// ---- faults ----

export type FaultKind = "fail" | "hang" | "drop";
export interface Fault {
    id: number;
    command: string;
    stack: string | null;
    kind: FaultKind;
    message: string | null;
}

export function readFaults(dir?: string): Fault[] {
    const p = paths(dir).faults;
    return fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, "utf8")) as Fault[]) : [];
}

export function writeFaults(f: Fault[], dir?: string): void {
    writeFileAtomic(paths(dir).faults, JSON.stringify(f, null, 2) + "\n");
}

/** Words of a command without the leading `openstack` (e.g. "overcloud deploy"). */
export function normaliseCommand(words: string[]): string {
    const w = words.filter((x) => x.length);
    if (w[0] === "openstack") w.shift();
    return w.join(" ");
}

/**
 * A fault matches a command by its name, or by a prefix of words that is not itself a command
 * (`overcloud` matches every overcloud command, `overcloud export` only the stack export, not
 * `overcloud export ceph`).
 */
export function faultMatches(
    f: Fault,
    commandWords: string,
    stack: string | null,
    isCommand: (words: string) => boolean = () => false,
): boolean {
    const want = normaliseCommand(f.command.split(/\s+/));
    if (!(commandWords === want || (commandWords.startsWith(want + " ") && !isCommand(want)))) return false;
    if (f.stack && !(stack ?? "").split(",").includes(f.stack)) return false;
    return true;
}
