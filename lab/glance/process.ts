// Life cycle of one site's real glance-api (Debian's glance 25.1.0): render into the site's
// directory, db_sync a local sqlite database, start the API detached (it outlives the lab command
// that started it), record PID + kernel start time, and stop exactly that process.
import { spawn } from "node:child_process";
import { closeSync, promises as fs, openSync, readFileSync } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";

import { runCommand } from "../ceph/commands";
import { parseProcStat, waitFor } from "../ceph/processes";
import {
    type GlanceSiteParams,
    type LabToken,
    glancePaths,
    labTokens,
    renderGlanceApiConf,
    renderPasteIni,
    renderTokensFile,
    validateGlanceSiteParams,
} from "./config";

/** Debian's interpreter, never a pyenv shim first on PATH (the glance modules live in dist-packages). */
const PYTHON = "/usr/bin/python3";
const GLANCE_API = "/usr/bin/glance-api";
const GLANCE_MANAGE = "/usr/bin/glance-manage";
const READY_MS = 60_000;
const STOP_GRACE_MS = 10_000;

/** What `<dir>/glance-api.json` records about the running process. */
interface GlanceProcessRecord {
    pid: number;
    /** Field 22 of /proc/<pid>/stat: tells a reused PID apart. */
    startTime: string;
    url: string;
    stack: string;
}

/** Start options: where the API listens, and the tokens it accepts (default: kept from the last start, else labTokens()). */
export interface StartGlanceOptions {
    addr: string;
    port: number;
    tokens?: Record<string, LabToken>;
    /**
     * Directory of the central site's Glance whose database this one shares: an edge Glance
     * (GlanceApiEdge) uses the central database, so image ids and `stores` are the same everywhere.
     * The central Glance must have been started first. Default: a database of its own.
     */
    sharedDatabaseOf?: string;
}

function procStartTime(pid: number): { state: string; startTime: string } | undefined {
    try {
        return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
        return undefined;
    }
}

function isAlive(record: GlanceProcessRecord): boolean {
    const stat = procStartTime(record.pid);
    return stat !== undefined && stat.startTime === record.startTime && stat.state !== "Z" && stat.state !== "X";
}

async function readRecord(dir: string): Promise<GlanceProcessRecord | undefined> {
    try {
        return JSON.parse(await fs.readFile(glancePaths(dir).pid, "utf8")) as GlanceProcessRecord;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
    }
}

async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, text, { mode });
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, file);
}

async function logTail(file: string, lines = 8): Promise<string> {
    try {
        return (await fs.readFile(file, "utf8")).trim().split("\n").slice(-lines).join("\n");
    } catch {
        return "(no log)";
    }
}

/** GET `url` and resolve with the status code, or undefined when nothing answers. */
function httpStatus(url: string, timeoutMs = 2000): Promise<number | undefined> {
    return new Promise((resolve) => {
        const req = http.get(url, { timeout: timeoutMs }, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on("timeout", () => req.destroy());
        req.on("error", () => resolve(undefined));
    });
}

/** Env for glance-api/glance-manage: Debian's python, the lab filter on PYTHONPATH, HOME inside dir. */
function glanceEnv(dir: string): NodeJS.ProcessEnv {
    const p = glancePaths(dir);
    return { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: dir, PYTHONPATH: p.pylib };
}

/** The tokens a site's glance-api accepts, by name (`admin`, `member`, ...), as written at start. */
export async function glanceTokens(dir: string): Promise<Record<string, LabToken>> {
    const text = await fs.readFile(glancePaths(dir).tokens, "utf8");
    return (JSON.parse(text) as { named: Record<string, LabToken> }).named;
}

/**
 * Replaces the tokens a running (or future) glance-api of `dir` accepts; the filter rereads the
 * file when it changes, so no restart is needed (e.g. after a simulated `openstack token issue`).
 */
export async function writeGlanceTokens(dir: string, tokens: Record<string, LabToken>): Promise<void> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await writeAtomic(glancePaths(dir).tokens, renderTokensFile(tokens), 0o600);
}

/**
 * Renders the site's Glance into `dir` (config, paste pipeline, policy, its own /etc/ceph, tokens),
 * creates the sqlite database (glance-manage db_sync) on first start, and starts glance-api
 * detached; resolves once `/versions` answers. A running glance-api of the same dir is stopped
 * first (a redeploy restarts it with the new config). Throws on Heat-level parameter errors.
 */
export async function startGlanceApi(
    dir: string,
    params: GlanceSiteParams,
    opts: StartGlanceOptions,
): Promise<{ url: string; pid: number; problems: string[] }> {
    const errors = validateGlanceSiteParams(params);
    if (errors.length > 0)
        throw new Error(`Glance of stack ${params.stack} cannot be configured: ${errors.join("; ")}`);
    const p = glancePaths(dir);
    await stopGlanceApi(dir);

    const database = opts.sharedDatabaseOf ? glancePaths(opts.sharedDatabaseOf).db : p.db;
    const rendered = renderGlanceApiConf(params, { dir, bindHost: opts.addr, bindPort: opts.port, database });
    for (const sub of [dir, p.confDir, p.staging, p.tasks, p.lock, p.log, p.pylib]) {
        await fs.mkdir(sub, { recursive: true, mode: 0o700 });
    }
    // /etc/ceph is rewritten whole: a keyring dropped from the parameters must not linger.
    await fs.rm(p.ceph, { recursive: true, force: true });
    await fs.mkdir(p.ceph, { mode: 0o700 });
    for (const [name, text] of Object.entries(rendered.cephFiles)) {
        await writeAtomic(path.join(p.ceph, name), text, name.endsWith(".keyring") ? 0o600 : 0o644);
    }
    await writeAtomic(p.conf, rendered.conf, 0o600);
    await writeAtomic(p.paste, renderPasteIni(dir));
    await writeAtomic(p.policy, "# Glance's default (Zed) policy: copy_image is role:admin.\n{}\n");
    await fs.copyFile(path.join(__dirname, "labauth.py"), path.join(p.pylib, "labauth.py"));
    let tokens = opts.tokens;
    if (!tokens) tokens = await glanceTokens(dir).catch(() => labTokens());
    await writeGlanceTokens(dir, tokens);
    await writeAtomic(p.problems, JSON.stringify({ stack: params.stack, problems: rendered.problems }, null, 2) + "\n");

    const configArgs = ["--config-file", p.conf, "--config-dir", p.confDir];
    const dbExists = await fs.access(database).then(
        () => true,
        () => false,
    );
    if (opts.sharedDatabaseOf && !dbExists) {
        throw new Error(
            `Glance of ${params.stack} shares the database of ${opts.sharedDatabaseOf}, which has none yet (central Glance not started)`,
        );
    }
    if (!dbExists) {
        await runCommand(PYTHON, [GLANCE_MANAGE, ...configArgs, "db_sync"], {
            env: glanceEnv(dir),
            timeoutMs: 120_000,
        });
    }

    const out = openSync(p.stdout, "a", 0o600);
    let pid: number | undefined;
    try {
        const child = spawn(PYTHON, [GLANCE_API, ...configArgs], {
            cwd: dir,
            env: glanceEnv(dir),
            detached: true,
            stdio: ["ignore", out, out],
        });
        await new Promise<void>((resolve, reject) => {
            child.once("spawn", resolve);
            child.once("error", reject);
        });
        child.unref();
        pid = child.pid;
    } finally {
        closeSync(out);
    }
    const stat = pid === undefined ? undefined : procStartTime(pid);
    if (pid === undefined || stat === undefined)
        throw new Error(`glance-api of ${params.stack} exited at once; see ${p.stdout}`);
    const url = `http://${opts.addr}:${opts.port}`;
    const record: GlanceProcessRecord = { pid, startTime: stat.startTime, url, stack: params.stack };
    await writeAtomic(p.pid, JSON.stringify(record, null, 2) + "\n");

    const ready = await waitFor(
        async () => !isAlive(record) || (await httpStatus(`${url}/versions`)) === 200,
        READY_MS,
        100,
    );
    if (!isAlive(record)) {
        throw new Error(
            `glance-api of ${params.stack} exited during start-up: ${await logTail(p.logFile)}\n${await logTail(p.stdout)}`,
        );
    }
    if (!ready) {
        await stopGlanceApi(dir);
        throw new Error(
            `glance-api of ${params.stack} did not answer on ${url} within ${READY_MS} ms: ${await logTail(p.logFile)}`,
        );
    }
    return { url, pid, problems: rendered.problems };
}

/** Stops the recorded glance-api (SIGTERM, SIGKILL after 10 s) by its PID only and waits for it; no-op when stopped. */
export async function stopGlanceApi(dir: string): Promise<void> {
    const record = await readRecord(dir);
    if (!record) return;
    if (isAlive(record)) {
        try {
            process.kill(record.pid, "SIGTERM");
        } catch {
            // exited between the check and the signal
        }
        if (!(await waitFor(() => !isAlive(record), STOP_GRACE_MS))) {
            try {
                process.kill(record.pid, "SIGKILL");
            } catch {
                // gone
            }
            if (!(await waitFor(() => !isAlive(record), 5_000))) {
                throw new Error(`glance-api pid ${record.pid} (${dir}) would not stop`);
            }
        }
    }
    await fs.rm(glancePaths(dir).pid, { force: true });
}

/** Whether the recorded glance-api process lives, and its URL. */
export async function glanceApiStatus(dir: string): Promise<{ running: boolean; url?: string; pid?: number }> {
    const record = await readRecord(dir);
    if (!record || !isAlive(record)) return { running: false };
    return { running: true, url: record.url, pid: record.pid };
}

/** Current and peak RSS (KiB) of the running glance-api, or undefined when it is not running. */
export async function glanceApiMemoryKiB(dir: string): Promise<{ rssKiB: number; peakRssKiB: number } | undefined> {
    const record = await readRecord(dir);
    if (!record || !isAlive(record)) return undefined;
    try {
        const status = readFileSync(`/proc/${record.pid}/status`, "utf8");
        const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
        return { rssKiB: field("VmRSS"), peakRssKiB: field("VmHWM") };
    } catch {
        return undefined;
    }
}

/** Stops the site's glance-api and deletes its directory (what `overcloud delete` leaves behind of it: nothing). */
export async function wipeGlanceApi(dir: string): Promise<void> {
    await stopGlanceApi(dir);
    await fs.rm(dir, { recursive: true, force: true });
}
