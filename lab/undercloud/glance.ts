// The lab's side of real Glance (lab/glance): which glance-api each deployed stack gets, on which
// loopback port, with which tokens; started by a successful `overcloud deploy`, stopped and wiped
// by `overcloud delete`, stopped/restarted/wiped by `lab stop|start|reset`. Records live in the
// lab state (`glance`), each site's files in <LAB_DIR>/glance/<stack>/ (params.json is what the
// last deploy gave Glance, so `lab start` can restart it without the deploy's -e files).
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import {
    type GlanceSiteParams,
    type LabToken,
    glanceApiStatus,
    glanceSiteParamsFromHeat,
    labTokens,
    startGlanceApi,
    stopGlanceApi,
    wipeGlanceApi,
} from "../glance";
import { labDir, writeFileAtomic } from "../paths";
import { LabState, readState, withState } from "../state";

export const GLANCE_ADDR = "127.0.0.1";

/** One stack's glance-api as the lab records it in state.json (`glance[stack]`). */
export interface GlanceRecord {
    stack: string;
    dir: string;
    addr: string;
    port: number;
    url: string;
    /** Central Glance (GlanceApi) or edge (GlanceApiEdge, sharing the central database). */
    central: boolean;
    /** Stack whose Glance database this one uses (edge → its AuthCloudName). */
    sharedDatabaseOf?: string;
    /** Store ids in enabled_backends order. */
    stores: string[];
    /** Should run (false after a failed start); `lab stop` keeps it true so `lab start` restarts it. */
    wanted: boolean;
}

/** Server record of the lab's minimal Nova (`openstack server create|show|list|delete`). */
export interface ServerRecord {
    id: string;
    name: string;
    image: string;
    flavor: string;
    availabilityZone: string;
    stack: string;
    cloud: string;
    clusterDir: string;
    disk: string;
    parent: string;
    created: string;
    /** BUILD until then (`server create` without `--wait` returns before). */
    activeAt?: string;
    /** `server delete` without `--wait`: Nova is still removing it. */
    deleting?: boolean;
}

/** The lab state with the Glance/Nova additions (kept optional: older states have none). */
export type GlanceLabState = LabState & {
    glance?: Record<string, GlanceRecord>;
    servers?: ServerRecord[];
    /** Stack → Nova availability zone, as deployed (NovaComputeAvailabilityZone, default the stack name). */
    availabilityZones?: Record<string, string>;
};

export function glanceRoot(dir = labDir()): string {
    return path.join(dir, "glance");
}

function tokensFile(dir = labDir()): string {
    return path.join(glanceRoot(dir), "tokens.json");
}

/** The tokens every site's Glance accepts (one Keystone): created once per lab, mode 0600. */
export function labGlanceTokens(dir = labDir()): Record<string, LabToken> {
    const f = tokensFile(dir);
    if (fs.existsSync(f)) return JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, LabToken>;
    const tokens = labTokens();
    fs.mkdirSync(glanceRoot(dir), { recursive: true, mode: 0o700 });
    try {
        fs.writeFileSync(f, JSON.stringify(tokens, null, 2) + "\n", { mode: 0o600, flag: "wx" });
        return tokens;
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        return JSON.parse(fs.readFileSync(f, "utf8")) as Record<string, LabToken>;
    }
}

function freePort(addr: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, addr, () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

function portTaken(addr: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const srv = net.createServer();
        srv.once("error", () => resolve(true));
        srv.listen(port, addr, () => srv.close(() => resolve(false)));
    });
}

/** The stack's recorded port if there is one (kept across redeploys), else a free one not recorded for another stack. */
async function allocatePort(stack: string): Promise<number> {
    const s = readState() as GlanceLabState;
    const rec = s.glance?.[stack];
    if (rec) return rec.port;
    const used = new Set(Object.values(s.glance ?? {}).map((g) => g.port));
    for (;;) {
        const p = await freePort(GLANCE_ADDR);
        if (!used.has(p)) return p;
    }
}

/** What a deploy hands to the Glance step. */
export interface GlanceDeployInput {
    stack: string;
    /** The stack's parameter_defaults as Heat merged them (later -e files win). */
    params: Record<string, unknown>;
    central: boolean;
    /** The stack's roles include GlanceApi (central) or GlanceApiEdge. */
    hasGlance: boolean;
    /** AuthCloudName (central stack) for an edge Glance. */
    centralStack?: string;
    ownCluster?: GlanceSiteParams["ownCluster"];
}

/**
 * Renders and (re)starts the stack's glance-api from the deploy's -e files (Heat's merge of
 * parameter_defaults). Returns undefined when the stack has no Glance; throws with Glance's own
 * error (and the record marked not wanted) when it cannot start.
 */
export async function deployGlance(
    input: GlanceDeployInput,
): Promise<{ url: string; stores: string[]; problems: string[]; seconds: number } | undefined> {
    if (!input.hasGlance || !input.ownCluster) return undefined;
    const t0 = Date.now();
    const params = glanceSiteParamsFromHeat(input.stack, input.params, input.ownCluster);
    const dir = path.join(glanceRoot(), input.stack);
    const port = await allocatePort(input.stack);
    const s = readState() as GlanceLabState;
    const centralRec = input.central ? undefined : s.glance?.[input.centralStack ?? ""];
    const sharedDatabaseOf =
        centralRec && fs.existsSync(path.join(centralRec.dir, "glance.sqlite")) ? centralRec : undefined;
    const stores = [params.backendId, ...Object.keys(params.multistore)];
    const record: GlanceRecord = {
        stack: input.stack,
        dir,
        addr: GLANCE_ADDR,
        port,
        url: `http://${GLANCE_ADDR}:${port}`,
        central: input.central,
        sharedDatabaseOf: sharedDatabaseOf?.stack,
        stores,
        wanted: true,
    };
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path.join(dir, "params.json"), JSON.stringify(params, null, 2) + "\n", 0o600);
    const save = (wanted: boolean) =>
        withState((st) => {
            const g = ((st as GlanceLabState).glance ??= {});
            g[input.stack] = { ...record, wanted };
        });
    save(true);
    try {
        const r = await startGlanceApi(dir, params, {
            addr: GLANCE_ADDR,
            port,
            tokens: labGlanceTokens(),
            sharedDatabaseOf: sharedDatabaseOf?.dir,
        });
        return { url: r.url, stores, problems: r.problems, seconds: (Date.now() - t0) / 1000 };
    } catch (e) {
        save(false);
        throw e;
    }
}

/** Restarts a recorded glance-api from its saved params (lab start). */
async function restartGlance(rec: GlanceRecord): Promise<void> {
    const params = JSON.parse(fs.readFileSync(path.join(rec.dir, "params.json"), "utf8")) as GlanceSiteParams;
    const s = readState() as GlanceLabState;
    const shared = rec.sharedDatabaseOf ? s.glance?.[rec.sharedDatabaseOf] : undefined;
    await startGlanceApi(rec.dir, params, {
        addr: rec.addr,
        port: rec.port,
        tokens: labGlanceTokens(),
        sharedDatabaseOf: shared?.dir,
    });
}

function records(dir?: string): GlanceRecord[] {
    if (!fs.existsSync(path.join(dir ?? labDir(), "state.json"))) return [];
    return Object.values((readState(dir) as GlanceLabState).glance ?? {});
}

/** `lab stop`: stops every recorded glance-api (records stay wanted, so `lab start` restarts them). */
export async function stopAllGlance(): Promise<void> {
    await Promise.all(records().map((r) => stopGlanceApi(r.dir)));
}

/** `lab start`: restarts the wanted glance-apis, central ones first (edges use their database). */
export async function startAllGlance(log: (line: string) => void): Promise<void> {
    const recs = records().filter((r) => r.wanted);
    for (const group of [recs.filter((r) => r.central), recs.filter((r) => !r.central)]) {
        await Promise.all(
            group.map(async (r) => {
                if ((await glanceApiStatus(r.dir)).running) return;
                if (await portTaken(r.addr, r.port)) {
                    log(`glance-api of ${r.stack}: port ${r.port} is taken; not restarted`);
                    return;
                }
                try {
                    await restartGlance(r);
                } catch (e) {
                    log(`glance-api of ${r.stack} could not be restarted: ${(e as Error).message.split("\n")[0]}`);
                }
            }),
        );
    }
}

/** `lab reset`: stops and deletes every site's Glance (also directories without a record). */
export async function wipeAllGlance(): Promise<void> {
    const root = glanceRoot();
    await Promise.all(records().map((r) => wipeGlanceApi(r.dir).catch(() => undefined)));
    if (fs.existsSync(root)) {
        for (const d of fs.readdirSync(root)) {
            const full = path.join(root, d);
            if (fs.statSync(full).isDirectory()) await wipeGlanceApi(full).catch(() => undefined);
        }
    }
    fs.rmSync(root, { recursive: true, force: true });
}

/** `overcloud delete <stack>`: stops and wipes that stack's glance-api and forgets it. */
export async function deleteStackGlance(stack: string): Promise<void> {
    const rec = records().find((r) => r.stack === stack);
    await wipeGlanceApi(rec?.dir ?? path.join(glanceRoot(), stack));
    withState((s) => {
        delete (s as GlanceLabState).glance?.[stack];
    });
}

/** `state --json` entries: one per recorded Glance. */
export async function glanceView(
    dir?: string,
): Promise<Array<{ stack: string; url: string; running: boolean; stores: string[]; central: boolean }>> {
    return Promise.all(
        records(dir).map(async (r) => ({
            stack: r.stack,
            url: r.url,
            running: (await glanceApiStatus(r.dir)).running,
            stores: r.stores,
            central: r.central,
        })),
    );
}

/** The central Glance record of a cloud (the stack itself, or an edge stack's AuthCloudName). */
export function centralGlance(cloud: string): GlanceRecord | undefined {
    return (readState() as GlanceLabState).glance?.[cloud];
}

/** rc-file lines giving the image API to glanceclient (token + endpoint, no Keystone round trip). */
export function glanceRcLines(cloud: string): string[] {
    const g = centralGlance(cloud);
    if (!g) return [];
    return [
        `# Image API (lab: the central glance-api, admin token of the lab's token table)`,
        `export OS_IMAGE_URL=${g.url}`,
        `export OS_AUTH_TOKEN=${labGlanceTokens().admin.token}`,
        `export OS_IMAGE_API_VERSION=2`,
    ];
}

/** GET a Glance API path with a token; resolves with status and parsed JSON body (or undefined). */
export function glanceGet(url: string, token: string): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { headers: { "X-Auth-Token": token }, timeout: 30_000 }, (res) => {
            let text = "";
            res.on("data", (d) => (text += d));
            res.on("end", () => {
                let body: unknown;
                try {
                    body = JSON.parse(text);
                } catch {
                    body = undefined;
                }
                resolve({ status: res.statusCode ?? 0, body });
            });
        });
        req.on("timeout", () => req.destroy(new Error(`timeout contacting ${url}`)));
        req.on("error", reject);
    });
}

/**
 * The lab's `glance` (Debian's real glanceclient behind it): the lab has no Keystone, so a session
 * that sourced an overcloud rc (OS_AUTH_URL and the admin password of a deployed central stack, as
 * tripleoclient writes it) gets what Keystone's catalog and a token would give glanceclient: the
 * central glance-api's URL and the lab's admin token (never in argv or the log).
 */
export async function glanceCli(args: string[], authenticate: () => { name: string }): Promise<number> {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (!env.OS_IMAGE_URL && !args.some((a) => a.startsWith("--os-image-url"))) {
        const cloud = authenticate().name;
        const g = centralGlance(cloud);
        if (!g) {
            process.stderr.write(`public endpoint for image service in regionOne region not found\n`);
            return 1;
        }
        env.OS_IMAGE_URL = g.url;
        env.OS_AUTH_TOKEN = labGlanceTokens().admin.token;
        env.OS_IMAGE_API_VERSION = "2";
    }
    const { spawn } = await import("node:child_process");
    return new Promise((resolve) => {
        const child = spawn("/usr/bin/glance", args, { stdio: "inherit", env });
        child.on("error", (e) => {
            process.stderr.write(`glance: ${e.message}\n`);
            resolve(1);
        });
        child.on("exit", (code, signal) => resolve(code ?? (signal ? 143 : 1)));
    });
}
