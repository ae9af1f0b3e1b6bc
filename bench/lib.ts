/**
 * Plumbing of the benchmarks: private labs (own LAB_DIR, port, Ceph net), a private build of the
 * program, Pulumi workspaces (tests/support/pulumi.ts), process-tree memory sampling and the
 * sshd connection count. Nothing here touches the shared tree's bin/ or .lab/.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { PulumiWorkspace, projectRoot, pulumiWorkspace } from "../tests/support/pulumi";
import { LogEntry } from "./critical-path";

export { projectRoot };

export async function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

export const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

export class Lab {
    readonly env: NodeJS.ProcessEnv;
    constructor(
        readonly dir: string,
        readonly port: number,
        timeScale: number,
        spares?: number,
    ) {
        this.env = {
            ...process.env,
            LAB_DIR: dir,
            LAB_SSH_PORT: String(port),
            // 127.1.x is what the tests and `npm start` use: a second octet of our own avoids their mons.
            LAB_CEPH_NET: `127.77.${port % 250}`,
            LAB_TIME_SCALE: String(timeScale),
            // Benchmarks that deploy dozens of times use the lab's fast imitation; `bench real` sets real.
            LAB_TRIPLEO: process.env.LAB_TRIPLEO ?? "imitation",
            ...(spares !== undefined ? { LAB_SPARES: String(spares) } : {}),
        };
    }

    static async create(root: string, name: string, timeScale: number, spares?: number): Promise<Lab> {
        const lab = new Lab(path.join(root, name), await freePort(), timeScale, spares);
        lab.run("start");
        lab.enableConnectionLog();
        return lab;
    }

    run(...args: string[]): string {
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(projectRoot, "lab", "cli.ts"), ...args], {
            cwd: projectRoot,
            env: this.env,
            encoding: "utf8",
            maxBuffer: 256 * 1024 * 1024,
        });
        if (r.status !== 0) throw new Error(`lab ${args.join(" ")} failed (${r.status}): ${r.stdout}\n${r.stderr}`);
        return r.stdout;
    }

    /** Runs one shell command on the undercloud through `lab ssh`; returns its exit code. */
    ssh(command: string): { code: number; out: string } {
        const r = spawnSync(
            process.execPath,
            ["--import", "tsx", path.join(projectRoot, "lab", "cli.ts"), "ssh", "--", command],
            { cwd: projectRoot, env: this.env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
        );
        return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}` };
    }

    log(): LogEntry[] {
        return this.run("log", "--json")
            .split("\n")
            .filter((l) => l.trim().startsWith("{"))
            .map((l) => JSON.parse(l) as LogEntry);
    }

    get home(): string {
        return path.join(this.dir, "home");
    }
    get sshdLog(): string {
        return path.join(this.dir, "ssh", "sshd.log");
    }

    /**
     * The lab's sshd logs at ERROR (lab/sshd.ts); for P4 this private lab's config is switched to
     * INFO (one "Accepted publickey" line per connection) and sshd re-reads it on SIGHUP.
     */
    enableConnectionLog(): void {
        const conf = path.join(this.dir, "ssh", "sshd_config");
        fs.writeFileSync(conf, fs.readFileSync(conf, "utf8").replace(/^LogLevel .*$/m, "LogLevel INFO"));
        const pid = Number(fs.readFileSync(path.join(this.dir, "ssh", "sshd.pid"), "utf8").trim());
        process.kill(pid, "SIGHUP");
        // sshd re-execs; wait until it listens again.
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
            const r = spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${this.port}`]);
            if (r.status === 0) return;
            execFileSync("sleep", ["0.05"]);
        }
    }

    /** Number of accepted SSH connections logged so far. */
    connections(): number {
        if (!fs.existsSync(this.sshdLog)) return 0;
        return (fs.readFileSync(this.sshdLog, "utf8").match(/Accepted publickey/g) ?? []).length;
    }

    stop(): void {
        try {
            this.run("stop");
        } catch (e) {
            log(`lab stop: ${(e as Error).message}`);
        }
    }
}

/** Compiles the program into a private dir (never the shared bin/). */
export function buildProgram(outRoot: string): string {
    const out = path.join(outRoot, "bin");
    execFileSync(
        "npx",
        [
            "--no-install",
            "tsc",
            "-p",
            "tsconfig.json",
            "--outDir",
            out,
            "--tsBuildInfoFile",
            path.join(out, ".tsbuildinfo"),
        ],
        { cwd: projectRoot, stdio: "inherit" },
    );
    return out;
}

export interface SiteCfg {
    name: string;
    kind: "central" | "dcn";
    cephCluster: string;
    [k: string]: unknown;
}

/**
 * The seed's stack config (Pulumi.dev.yaml) pointed at a lab's connection.json. BENCH_VALIDATION=0
 * turns the post-deploy multistore validation off (settings.validation.enabled), to time the
 * deploy steps alone.
 */
export function seedStackYaml(labDir: string): string {
    const yaml = fs
        .readFileSync(path.join(projectRoot, "Pulumi.dev.yaml"), "utf8")
        .replace("connectionFile: .lab/connection.json", `connectionFile: ${path.join(labDir, "connection.json")}`)
        .replace(/^\s+(knownHostsFile|privateKeyFile): .*\n/gm, "")
        // The dev stack's salt is for its own passphrase; the bench's stacks get theirs at `stack init`.
        .replace(/^encryptionsalt: .*\n/m, "");
    return process.env.BENCH_VALIDATION === "0"
        ? yaml.replace(/(\n\s+validation:\n\s+enabled:) true/, "$1 false")
        : yaml;
}

/** The seed's config with `n` DCN sites of one DistributedComputeHCI node each (oc0-spare-i). */
export function scaledStackYaml(labDir: string, n: number): string {
    const seed = seedStackYaml(labDir);
    // Keep everything up to the sites list, regenerate the sites.
    const head = seed.slice(0, seed.indexOf("  dcn-storage:sites:"));
    const sites: unknown[] = [
        {
            name: "control-plane",
            kind: "central",
            cephCluster: "central",
            az: "central",
            glanceStore: "central",
            glanceDescription: "central rbd glance store",
            roles: [
                { name: "Controller", instances: ["oc0-controller-0", "oc0-controller-1", "oc0-controller-2"] },
                { name: "ComputeHCI", instances: ["oc0-ceph-0"] },
            ],
        },
    ];
    for (let i = 0; i < n; i++) {
        sites.push({
            name: `dcn${i}`,
            kind: "dcn",
            cephCluster: `dcn${i}`,
            roles: [{ name: "DistributedComputeHCI", instances: [`oc0-spare-${i}`] }],
        });
    }
    return head + stringify({ "dcn-storage:sites": sites }, { indent: 2 }).replace(/^/gm, "  ").replace(/\s+$/, "\n");
}

/** A Pulumi workspace of the privately built program with one stack config. */
export async function workspace(
    root: string,
    binDir: string,
    stack: string,
    stackYaml: string,
): Promise<PulumiWorkspace> {
    const fixture = fs.mkdtempSync(path.join(root, "fixture-"));
    fs.cpSync(binDir, path.join(fixture, "bin"), { recursive: true });
    fs.copyFileSync(path.join(projectRoot, "Pulumi.yaml"), path.join(fixture, "Pulumi.yaml"));
    fs.copyFileSync(path.join(projectRoot, "package.json"), path.join(fixture, "package.json"));
    fs.writeFileSync(path.join(fixture, `Pulumi.${stack}.yaml`), stackYaml);
    return pulumiWorkspace(fixture, stack);
}

export interface Measured {
    code: number;
    stdout: string;
    stderr: string;
    wall_s: number;
    /** Peak of the summed RSS of the whole process tree (MiB), sampled every 100 ms. */
    peak_rss_mb: number;
    /**
     * CPU seconds (user + system) of the whole process tree (bash's `times` for its reaped
     * children): less sensitive to other work on the machine than the wall time.
     */
    cpu_s: number;
    /** Largest single process RSS seen (MiB) and its command. */
    peak_proc_rss_mb: number;
    peak_proc: string;
    /** Distinct processes of the tree by executable name. */
    procs: Record<string, number>;
    /** With `sshPort`: distinct TCP connections to it seen (sampled), by owning process name. */
    sshConnsByProcess?: Record<string, number>;
}

/** Established TCP connections to 127.0.0.1:<port>: local port → owning process name (`ss -tnp`). */
function sshConns(port: number): Map<string, string> {
    const r = spawnSync("ss", ["-Htnp", "state", "established", "dst", `127.0.0.1:${port}`], { encoding: "utf8" });
    const m = new Map<string, string>();
    for (const line of (r.stdout ?? "").split("\n")) {
        const f = line.trim().split(/\s+/);
        if (f.length < 4) continue;
        const local = f[2];
        const proc = /users:\(\("([^"]+)",pid=(\d+)/.exec(line);
        let who = "?";
        if (proc) {
            let cmd = "";
            try {
                cmd = fs.readFileSync(`/proc/${proc[2]}/cmdline`, "utf8").split("\0").join(" ");
            } catch {
                // gone
            }
            // e.g. "node[123] …/pulumi-resource-pulumi-nodejs …" (the pid tells processes apart).
            who = `${proc[1]}[${proc[2]}] ${cmd.replace(/.*\/(node_modules|\.pulumi)\//, "…/").slice(0, 90)}`;
        }
        m.set(local, who);
    }
    return m;
}

function children(): Map<number, number[]> {
    const m = new Map<number, number[]>();
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            m.set(ppid, [...(m.get(ppid) ?? []), Number(d)]);
        } catch {
            // gone
        }
    }
    return m;
}

function rssKb(pid: number): number {
    try {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Number(m[1]) : 0;
    } catch {
        return 0;
    }
}

function comm(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
        return "?";
    }
}

/** Runs `pulumi <args>` in the workspace, sampling the memory of its process tree. */
export function measurePulumi(
    ws: PulumiWorkspace,
    args: string[],
    extraEnv: NodeJS.ProcessEnv = {},
    opts: { sshPort?: number } = {},
): Promise<Measured> {
    return new Promise((resolve, reject) => {
        const began = process.hrtime.bigint();
        const timesFile = path.join(os.tmpdir(), `dcn-bench-times-${process.pid}-${began}`);
        const child = spawn("bash", ["-c", 'pulumi "$@"; rc=$?; times > "$0"; exit $rc', timesFile, ...args], {
            cwd: ws.projectDir,
            env: { ...ws.env, ...extraEnv },
            stdio: "pipe",
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        let peak = 0;
        let peakProc = 0;
        let peakProcName = "";
        const seen = new Map<number, string>();
        const sample = () => {
            if (child.pid === undefined) return;
            const kids = children();
            const tree: number[] = [];
            const stack = [child.pid];
            while (stack.length) {
                const p = stack.pop()!;
                tree.push(p);
                stack.push(...(kids.get(p) ?? []));
            }
            let sum = 0;
            for (const p of tree) {
                const kb = rssKb(p);
                sum += kb;
                if (!seen.has(p)) seen.set(p, comm(p));
                if (kb > peakProc) {
                    peakProc = kb;
                    peakProcName = seen.get(p)!;
                }
            }
            peak = Math.max(peak, sum);
        };
        const conns = new Map<string, string>();
        const timer = setInterval(() => {
            sample();
            // Keep the fullest label seen: an exiting process's /proc/<pid>/cmdline reads empty.
            if (opts.sshPort)
                for (const [k, v] of sshConns(opts.sshPort))
                    if ((conns.get(k)?.length ?? 0) < v.length) conns.set(k, v);
        }, 100);
        child.on("error", reject);
        child.on("close", (code) => {
            clearInterval(timer);
            const procs: Record<string, number> = {};
            for (const name of seen.values()) procs[name] = (procs[name] ?? 0) + 1;
            delete procs.bash; // the wrapper that reports the tree's CPU time
            let cpu = NaN;
            try {
                // Second line of `times`: the children's user and system time, e.g. "0m1.199s 0m0.009s".
                const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(
                    fs.readFileSync(timesFile, "utf8").split("\n")[1] ?? "",
                );
                if (m) cpu = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
                fs.rmSync(timesFile, { force: true });
            } catch {
                // no times file (pulumi did not start)
            }
            resolve({
                code: code ?? -1,
                stdout,
                stderr,
                wall_s: Number(process.hrtime.bigint() - began) / 1e9,
                peak_rss_mb: Math.round(peak / 1024),
                cpu_s: cpu,
                peak_proc_rss_mb: Math.round(peakProc / 1024),
                peak_proc: peakProcName,
                procs,
                ...(opts.sshPort
                    ? {
                          sshConnsByProcess: [...conns.values()].reduce<Record<string, number>>(
                              (a, p) => ({ ...a, [p]: (a[p] ?? 0) + 1 }),
                              {},
                          ),
                      }
                    : {}),
            });
        });
        child.stdin.end();
    });
}

export function mustSucceed(m: Measured, what: string): Measured {
    if (m.code !== 0) throw new Error(`${what} exited ${m.code}\n${m.stdout.slice(-4000)}\n${m.stderr.slice(-4000)}`);
    return m;
}

export function tmpRoot(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "dcn-bench-"));
}

export const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
