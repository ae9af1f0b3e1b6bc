// Where the lab lives and how it is tuned. Shared by the control CLI (lab/cli.ts) and the
// simulated undercloud (lab/undercloud/main.ts), which finds the lab through LAB_DIR baked into
// its shims at `lab start`.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const REPO_ROOT = path.resolve(__dirname, "..");

export interface LabConfig {
    /** Real seconds per simulated minute (reference §9 durations are in minutes). */
    timeScale: number;
    /** Number of spare virtual baremetal nodes `oc0-spare-N` beyond the seed's eight. */
    spares: number;
    /** SSH port the lab's sshd listens on (127.0.0.1). */
    port: number;
    /** Prefix of the loopback addresses of the sites' Ceph mons: `<prefix>.<11+k>`. */
    cephNet: string;
    /**
     * `real`: `openstack overcloud …` is the real tripleoclient + THT + ephemeral Heat
     * (.tripleo, lab/tripleo/README.md), hardware simulated at its playbook seam; `imitation`: the
     * lab's own TypeScript stand-in for the whole CLI (fast: the fault matrix, interrupts, benchmarks).
     */
    tripleo: TripleoMode;
}

export type TripleoMode = "real" | "imitation";

/** Where `npm run setup` installs real TripleO (scripts/setup/tripleo.sh). */
export function tripleoDir(): string {
    return path.resolve(process.env.TRIPLEO_DIR ?? path.join(REPO_ROOT, ".tripleo"));
}

export function labDir(): string {
    return path.resolve(process.env.LAB_DIR ?? path.join(REPO_ROOT, ".lab"));
}

export const DEFAULT_PORT = 2222;
export const DEFAULT_TIME_SCALE = 0.05;
export const DEFAULT_SPARES = 24;

export function paths(dir = labDir()) {
    return {
        dir,
        home: path.join(dir, "home"),
        /**
         * $HOME of the undercloud user's SSH sessions: a link to `home` at a path without a dot.
         * tripleo-common writes config-download with the wrong file names when its path has one
         * (utils/config.py: `if '.' not in conf_path: conf_path += ".yaml"` tests the whole path),
         * and the lab's own dir is `.lab`; a real undercloud's /home/stack has none.
         */
        sessionHome: path.join(
            os.tmpdir().includes(".") ? "/tmp" : os.tmpdir(),
            `dcn-lab-${createHash("sha256").update(dir).digest("hex").slice(0, 10)}`,
        ),
        ssh: path.join(dir, "ssh"),
        bin: path.join(dir, "bin"),
        ceph: path.join(dir, "ceph"),
        state: path.join(dir, "state.json"),
        lock: path.join(dir, "state.lock"),
        log: path.join(dir, "commands.jsonl"),
        faults: path.join(dir, "faults.json"),
        config: path.join(dir, "config.json"),
        connection: path.join(dir, "connection.json"),
        bundle: path.join(dir, "bin", "undercloud.cjs"),
        /** The hardware seam's executables, first on real tripleoclient's PATH (lab/tripleo). */
        seamBin: path.join(dir, "bin", "seam"),
        /** /var/lib/tripleo of the lab undercloud (tripleoclient's `sudo cp` of deploy archives lands here). */
        varLibTripleo: path.join(dir, "var-lib-tripleo"),
    };
}

export function readConfig(dir = labDir()): LabConfig {
    const p = paths(dir).config;
    const saved = fs.existsSync(p) ? (JSON.parse(fs.readFileSync(p, "utf8")) as Partial<LabConfig>) : {};
    const port = Number(process.env.LAB_SSH_PORT ?? saved.port ?? DEFAULT_PORT);
    return {
        timeScale: Number(process.env.LAB_TIME_SCALE ?? saved.timeScale ?? DEFAULT_TIME_SCALE),
        spares: Number(process.env.LAB_SPARES ?? saved.spares ?? DEFAULT_SPARES),
        port,
        cephNet: process.env.LAB_CEPH_NET ?? saved.cephNet ?? `127.1.${port % 250}`,
        tripleo: tripleoMode(process.env.LAB_TRIPLEO ?? saved.tripleo ?? "real"),
    };
}

function tripleoMode(v: string): TripleoMode {
    if (v !== "real" && v !== "imitation")
        throw new Error(`LAB_TRIPLEO must be real or imitation (got ${JSON.stringify(v)})`);
    return v;
}

/** Writes a file atomically (temp file + rename), so readers never see half a file. */
export function writeFileAtomic(file: string, data: string, mode = 0o644): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(tmp, data, { mode });
    fs.renameSync(tmp, file);
}
