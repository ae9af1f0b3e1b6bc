// A private lab (own LAB_DIR, SSH port and Ceph loopback net) and a copy of the compiled program
// to run the real Pulumi CLI against it: the pattern of tests/integration/program.test.ts, shared.
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { type LogEntry, readLog } from "../../lab/journal";
import { type Connection } from "../../lab/sshd";
import { PulumiWorkspace, projectRoot, pulumiWorkspace } from "./pulumi";

/** An entry of the lab's command log and the lab's connection file, as the lab defines them. */
export type LabLogEntry = LogEntry;
export type LabConnection = Connection;

export interface PrivateLab {
    dir: string;
    env: NodeJS.ProcessEnv;
    /** Runs `npm run lab -- <args>` for this lab; throws with the output on a non-zero exit. */
    lab(...args: string[]): string;
    /** The lab's command log (what `lab log --json` prints). */
    log(): LabLogEntry[];
    connection(): LabConnection;
    /** Stops the lab (never throws). */
    stop(): void;
}

export async function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

/**
 * Compiles the program (bin/) the way npm run pulumi does; not again when `npm test` already has
 * (DCN_PROGRAM_BUILT): test files run side by side there, and a rewrite of bin/ under another
 * file's running `pulumi up` could hand it a half-written module.
 */
export function buildProgram(): void {
    if (process.env.DCN_PROGRAM_BUILT === "1") return;
    execFileSync("npx", ["--no-install", "tsc", "-p", "tsconfig.json"], { cwd: projectRoot, stdio: "inherit" });
}

/** First three octets of every IPv4 address something listens on right now (/proc/net/tcp). */
function listeningNets(): Set<string> {
    const nets = new Set<string>();
    try {
        for (const line of fs.readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
            const local = line.trim().split(/\s+/)[1];
            if (!local) {
                continue;
            }
            const hex = local.split(":")[0];
            // Little-endian: "0100007F" is 127.0.0.1.
            const octets = [6, 4, 2].map((i) => parseInt(hex.slice(i, i + 2), 16));
            nets.add(octets.join("."));
        }
    } catch {
        // no procfs: take the chance
    }
    return nets;
}

/**
 * A loopback /24 for a lab's Ceph mons that nothing listens on: deriving it from
 * the SSH port would make two labs running side by side (other test files, benchmarks, another
 * checkout) collide one time in 50 (`CephPortInUseError`). Any 127/8 address is loopback on Linux;
 * this picks from 127.100-199.x.
 */
export function freeCephNet(): string {
    const used = listeningNets();
    for (;;) {
        const net = `127.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`;
        if (!used.has(net)) {
            return net;
        }
    }
}

/**
 * Starts a lab in `dir` on a free port; `timeScale` is LAB_TIME_SCALE (real s per simulated minute);
 * `tripleo`: the lab's fast imitation of the TripleO CLI (default, for suites that deploy many
 * times) or real tripleoclient + THT + Heat (lab/tripleo/README.md).
 */
export async function startPrivateLab(
    dir: string,
    timeScale = "0.05",
    tripleo: "real" | "imitation" = "imitation",
): Promise<PrivateLab> {
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        LAB_DIR: dir,
        LAB_SSH_PORT: String(port),
        LAB_CEPH_NET: freeCephNet(),
        LAB_TIME_SCALE: timeScale,
        LAB_TRIPLEO: tripleo,
    };
    const lab = (...args: string[]): string => {
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(projectRoot, "lab", "cli.ts"), ...args], {
            cwd: projectRoot,
            env,
            encoding: "utf8",
        });
        if (r.status !== 0) {
            throw new Error(`lab ${args.join(" ")} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
        }
        return r.stdout;
    };
    lab("start");
    return {
        dir,
        env,
        lab,
        log: () => readLog(dir),
        connection: () => JSON.parse(fs.readFileSync(path.join(dir, "connection.json"), "utf8")) as LabConnection,
        stop: () => {
            try {
                lab("stop");
            } catch {
                // already stopped
            }
        },
    };
}

/** The `config:` map of the repo's Pulumi.dev.yaml (the seed topology), parsed. */
export function devConfig(): Record<string, unknown> {
    return parse(fs.readFileSync(path.join(projectRoot, "Pulumi.dev.yaml"), "utf8")).config;
}

/**
 * A project dir with the compiled program (bin/, Pulumi.yaml, package.json) in `dir`, whose `.lab`
 * is a symlink to the lab's dir: the dev config's relative `.lab/...` paths then name that lab.
 */
export function programFixture(dir: string, labDir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    fs.cpSync(path.join(projectRoot, "bin"), path.join(dir, "bin"), { recursive: true });
    fs.copyFileSync(path.join(projectRoot, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.copyFileSync(path.join(projectRoot, "package.json"), path.join(dir, "package.json"));
    fs.symlinkSync(labDir, path.join(dir, ".lab"));
    return dir;
}

/** Writes `Pulumi.<stack>.yaml` in the project dir with the given config map. */
export function writeStackConfig(projectDir: string, stack: string, config: Record<string, unknown>): void {
    fs.writeFileSync(path.join(projectDir, `Pulumi.${stack}.yaml`), stringify({ config }));
}

/** A private imitation lab and a Pulumi workspace of the compiled program on it (see `programOnLab`). */
export interface ProgramOnLab {
    root: string;
    lab: PrivateLab;
    ws: PulumiWorkspace;
    /** Writes the workspace's stack config. */
    write(config: Record<string, unknown>): void;
    /** Stops the lab, removes the workspace and every file of the test. */
    dispose(): void;
}

/**
 * The setup most program tests share: a temp root named after the test, a private lab there
 * (imitation TripleO, time scale 0.05), the compiled program (`bin`: another build, e.g. an older
 * commit's) in a workspace whose stack `stack` has `config`.
 */
export async function programOnLab(
    name: string,
    stack: string,
    config: Record<string, unknown>,
    bin?: string,
): Promise<ProgramOnLab> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `dcn-${name}-`));
    buildProgram();
    const lab = await startPrivateLab(path.join(root, "lab"), "0.05", "imitation");
    const fixture = programFixture(path.join(root, "project"), lab.dir);
    if (bin) {
        fs.rmSync(path.join(fixture, "bin"), { recursive: true });
        fs.cpSync(bin, path.join(fixture, "bin"), { recursive: true });
    }
    const ws = await pulumiWorkspace(fixture, stack);
    const write = (c: Record<string, unknown>) => writeStackConfig(ws.projectDir, stack, c);
    write(config);
    return {
        root,
        lab,
        ws,
        write,
        dispose: () => {
            lab.stop();
            ws.dispose();
            fs.rmSync(root, { recursive: true, force: true });
        },
    };
}
