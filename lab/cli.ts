// The lab's control CLI (`npm run lab -- <command>`): start|stop|reboot|status|reset, ssh -- <command>,
// log [--json], state [--json], fault add|list|clear. See lab/README.md for the contract.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { cephClusterInfo, startCephCluster, stopCephCluster, wipeCephCluster } from "./ceph";
import { parse, stringify } from "yaml";
import { seedHome } from "./home";
import { readNeutron } from "./undercloud/neutron";
import { checkInstalled } from "./tripleo/real";
import { Fault, FaultKind, readFaults, readLog, writeFaults } from "./journal";
import { REPO_ROOT, paths, readConfig, tripleoDir, writeFileAtomic } from "./paths";
import { connection, prepareSsh, sshArgs, sshdPid, startSshd, stopSshd, writeConnectionJson } from "./sshd";
import { initialState, readState, withState, withStateAsync } from "./state";
import { connectionProcesses, describe, killAll, undercloudProcesses } from "./power";
import { glanceView, startAllGlance, stopAllGlance, wipeAllGlance } from "./undercloud/glance";
import { ServicesLabState } from "./undercloud/services";

const USAGE = `usage: npm run lab -- <command>
  start                 start sshd (and the sites' Ceph clusters); prints how to connect
  stop                  stop sshd and every Ceph daemon of the lab (by recorded PID)
  reboot                power-cycle: stop, kill every SSH connection, command and detached job, start
  status                running or not, connection, clusters
  reset                 stop, wipe the lab's world (nodes, stacks, clusters, files), keep keys
  ssh -- <command>      run <command> on the lab undercloud over its SSH; exit code passed through
  log [--json]          undercloud command log
  state [--json]        nodes, stacks, Ceph clusters
  fault add --command "<cmd>" [--stack S] --kind fail|hang|drop [--message M]
  fault list | fault clear
env: LAB_DIR (default <repo>/.lab), LAB_SSH_PORT (2222), LAB_TIME_SCALE (s per simulated minute, 0.1), LAB_SPARES (24)`;

function buildUndercloud(): void {
    const p = paths();
    fs.mkdirSync(p.bin, { recursive: true });
    const esbuild = path.join(REPO_ROOT, "node_modules", ".bin", "esbuild");
    const r = spawnSync(
        esbuild,
        [
            path.join(REPO_ROOT, "lab", "undercloud", "main.ts"),
            "--bundle",
            "--platform=node",
            "--target=node20",
            "--log-level=warning",
            `--outfile=${p.bundle}`,
        ],
        { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`building the undercloud CLI failed: ${r.stderr}`);
    // lab/glance copies its paste filter from next to its code: in the bundle that is bin/.
    fs.copyFileSync(path.join(REPO_ROOT, "lab", "glance", "labauth.py"), path.join(p.bin, "labauth.py"));
    const node = process.execPath;
    const env = `LAB_DIR='${p.dir}' TRIPLEO_DIR='${tripleoDir()}'`;
    // `ssh`: the overcloud nodes' surface for their ctlplane addresses, the real ssh for any other.
    for (const tool of ["openstack", "metalsmith", "glance", "ssh"]) {
        const shim = `#!/bin/sh\n# lab undercloud: ${tool}\n${env} exec '${node}' '${p.bundle}' ${tool} "$@"\n`;
        fs.writeFileSync(path.join(p.bin, tool), shim, { mode: 0o755 });
    }
    // Real TripleO (lab/tripleo): its namespace runner, and the hardware seam first on its PATH.
    fs.copyFileSync(path.join(REPO_ROOT, "lab", "tripleo", "run.sh"), path.join(p.bin, "tripleo-run.sh"));
    fs.copyFileSync(path.join(REPO_ROOT, "lab", "tripleo", "expand_roles.py"), path.join(p.bin, "expand_roles.py"));
    fs.chmodSync(path.join(p.bin, "tripleo-run.sh"), 0o755);
    fs.mkdirSync(p.seamBin, { recursive: true });
    for (const f of fs.readdirSync(path.join(REPO_ROOT, "lab", "tripleo", "shims"))) {
        const text = fs
            .readFileSync(path.join(REPO_ROOT, "lab", "tripleo", "shims", f), "utf8")
            .replaceAll("@LAB_ENV@", env)
            .replaceAll("@NODE@", node)
            .replaceAll("@BUNDLE@", p.bundle)
            .replaceAll("@VAR_LIB_TRIPLEO@", p.varLibTripleo);
        fs.writeFileSync(path.join(p.seamBin, f), text, { mode: 0o755 });
    }
    const session = `#!/bin/bash
# ForceCommand of the lab's sshd: the undercloud user's login shell with $HOME = the lab home.
export HOME='${p.sessionHome}' LAB_DIR='${p.dir}'
export PATH='${p.bin}':/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd "$HOME" || exit 1
case "\${SSH_ORIGINAL_COMMAND:-}" in
  "") exec bash -l ;;
  internal-sftp|sftp|/usr/lib/openssh/sftp-server*) exec /usr/lib/openssh/sftp-server -d "$HOME" ;;
esac
exec bash -l -c "$SSH_ORIGINAL_COMMAND"
`;
    fs.writeFileSync(path.join(p.bin, "lab-session"), session, { mode: 0o755 });
}

/**
 * The undercloud's Neutron (lab/undercloud/neutron.ts), detached, and the `undercloud` cloud of the
 * undercloud user's clouds.yaml pointing at it (what tripleoclient's get_ctlplane_attrs uses).
 */
async function startNeutron(): Promise<void> {
    const p = paths();
    const running = readNeutron();
    if (!(running?.pid && alive(running.pid))) {
        if (running) writeFileAtomic(path.join(p.dir, "neutron.json"), JSON.stringify({ port: running.port }) + "\n");
        const log = fs.openSync(path.join(p.dir, "neutron.log"), "a");
        const child = spawn(process.execPath, [p.bundle, "neutron-serve"], {
            detached: true,
            stdio: ["ignore", log, log],
            env: { ...process.env, LAB_DIR: p.dir },
        });
        child.unref();
        const t0 = Date.now();
        while (readNeutron()?.pid !== child.pid) {
            if (Date.now() - t0 > 10_000) throw new Error(`the lab's Neutron did not start (see ${p.dir}/neutron.log)`);
            await new Promise((r) => setTimeout(r, 50));
        }
    }
    const port = readNeutron()!.port;
    const cloudsFile = path.join(p.home, ".config", "openstack", "clouds.yaml");
    const doc = fs.existsSync(cloudsFile)
        ? ((parse(fs.readFileSync(cloudsFile, "utf8")) ?? {}) as { clouds?: Record<string, unknown> })
        : {};
    doc.clouds = {
        ...(doc.clouds ?? {}),
        // No Keystone on the lab undercloud: Neutron's endpoint directly (like the ephemeral Heat's).
        undercloud: {
            auth_type: "none",
            auth: { endpoint: `http://127.0.0.1:${port}` },
            network_endpoint_override: `http://127.0.0.1:${port}/`,
            region_name: "regionOne",
        },
    };
    fs.mkdirSync(path.dirname(cloudsFile), { recursive: true });
    writeFileAtomic(cloudsFile, stringify(doc), 0o600);
}

async function stopNeutron(): Promise<void> {
    const pid = readNeutron()?.pid;
    if (pid && alive(pid)) {
        process.kill(pid, "SIGTERM");
        for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    }
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
    } catch {
        return false;
    }
}

/** The dot-free $HOME of the lab's sessions (paths().sessionHome), a link to the lab home. */
function linkSessionHome(home: string, link: string): void {
    let target: string | undefined;
    try {
        target = fs.readlinkSync(link);
    } catch {
        target = undefined;
    }
    if (target === home) return;
    fs.rmSync(link, { force: true });
    fs.symlinkSync(home, link);
}

function printConnection(): void {
    const c = writeConnectionJson();
    console.log(`lab undercloud running`);
    console.log(`  host:        ${c.host}`);
    console.log(`  port:        ${c.port}`);
    console.log(`  user:        ${c.user}`);
    console.log(`  key file:    ${c.privateKeyPath}`);
    console.log(`  known_hosts: ${c.knownHostsPath}`);
    for (const line of fs.readFileSync(c.knownHostsPath, "utf8").trim().split("\n"))
        console.log(`  known_hosts line: ${line}`);
    console.log(`  home:        ${c.home}`);
    console.log(`  connection:  ${paths().connection}`);
    console.log(
        `  try: ssh -i ${c.privateKeyPath} -p ${c.port} -o UserKnownHostsFile=${c.knownHostsPath} ${c.user}@${c.host} openstack baremetal node list`,
    );
}

async function start(): Promise<void> {
    const p = paths();
    fs.mkdirSync(p.dir, { recursive: true });
    const cfg = readConfig();
    if (cfg.tripleo === "real") {
        const missing = checkInstalled();
        if (missing) throw new Error(missing);
        if (process.getuid?.() !== 0)
            throw new Error(
                "the real-TripleO lab needs root (a private mount namespace gives tripleoclient its /usr/share paths); run as root, or start the lab with LAB_TRIPLEO=imitation",
            );
    }
    writeFileAtomic(p.config, JSON.stringify(cfg, null, 2) + "\n");
    if (!fs.existsSync(p.state)) withStateInit(cfg.spares);
    buildUndercloud();
    seedHome(p.home, p.bin, p.dir, cfg.tripleo);
    linkSessionHome(p.home, p.sessionHome);
    prepareSsh();
    if (!fs.existsSync(p.log)) fs.writeFileSync(p.log, "");
    await startSshd();
    if (cfg.tripleo === "real") await startNeutron();
    // Restart the clusters that were running (never re-create: a lost cluster stays lost).
    const st = readState();
    for (const c of st.cephClusters) {
        if (!c.fsid || c.lost) continue;
        const info = await cephClusterInfo(c.dir).catch(() => undefined);
        if (info?.running) continue;
        if (!c.running && !(c as { resume?: boolean }).resume) continue;
        try {
            await startCephCluster(c.dir);
            await withStateAsync(async (s) => {
                const x = s.cephClusters.find((y) => y.dir === c.dir)!;
                x.running = true;
                delete (x as { resume?: boolean }).resume;
            });
        } catch (e) {
            console.error(
                `Ceph cluster ${c.name} of stack ${c.stack} could not be restarted: ${(e as Error).message}; marked lost`,
            );
            withState((s) => {
                const x = s.cephClusters.find((y) => y.dir === c.dir)!;
                x.running = false;
                x.lost = true;
            });
        }
    }
    // Then the sites' glance-api processes (after their clusters: a store whose cluster is down at
    // start-up stays disabled until the next restart).
    await startAllGlance((line) => console.error(line));
    printConnection();
}

function withStateInit(spares: number): void {
    writeFileAtomic(paths().state, JSON.stringify(initialState(spares), null, 2) + "\n");
}

async function stop(): Promise<void> {
    const p = paths();
    if (fs.existsSync(p.state)) {
        await stopAllGlance();
        const st = readState();
        for (const c of st.cephClusters) {
            if (!c.fsid) continue;
            await stopCephCluster(c.dir);
            if (c.running) {
                withState((s) => {
                    const x = s.cephClusters.find((y) => y.dir === c.dir)!;
                    x.running = false;
                    (x as { resume?: boolean }).resume = true;
                });
            }
        }
    }
    await stopNeutron();
    const was = await stopSshd();
    console.log(was ? "lab stopped" : "lab was not running");
}

/** A power cycle: what `stop` leaves running (connections, commands, detached jobs) dies too. */
async function reboot(): Promise<void> {
    const p = paths();
    const listener = sshdPid();
    // Taken before the listener goes: its connection processes are re-parented after that.
    const connections = listener ? connectionProcesses(listener) : [];
    await stop();
    const victims = [...new Set([...connections, ...undercloudProcesses(p.dir)])];
    const described = new Map(victims.map((pid) => [pid, describe(pid)]));
    const killed = await killAll(victims);
    console.log(`power cycle: killed ${killed.length} process(es) still running on the undercloud`);
    for (const pid of killed) console.log(`  ${described.get(pid)}`);
    await new Promise((r) => setTimeout(r, 1000)); // down for a moment: clients see it unreachable
    await start();
}

async function reset(): Promise<void> {
    const p = paths();
    const running = !!sshdPid();
    await stop();
    await wipeAllGlance();
    if (fs.existsSync(p.state)) {
        for (const c of readState().cephClusters) if (c.fsid) await wipeCephCluster(c.dir).catch(() => undefined);
    }
    for (const f of ["home", "ceph", "state.json", "state.lock", "commands.jsonl", "faults.json", "heat.json"])
        fs.rmSync(path.join(p.dir, f), { recursive: true, force: true });
    console.log("lab reset");
    if (running) await start();
}

async function status(): Promise<number> {
    const pid = sshdPid();
    if (!pid) {
        console.log("lab: stopped");
        return 3;
    }
    console.log(`lab: running (sshd PID ${pid})`);
    printConnection();
    return 0;
}

async function stateCmd(json: boolean): Promise<void> {
    const s = readState();
    const clusters = await Promise.all(
        s.cephClusters
            .filter((c) => c.fsid)
            .map(async (c) => {
                const info = await cephClusterInfo(c.dir).catch(() => undefined);
                return {
                    name: c.name,
                    stack: c.stack,
                    fsid: c.fsid,
                    running: !!info?.running,
                    lost: c.lost,
                    addr: c.addr,
                    monHost: c.monHost,
                    hosts: c.hosts,
                    pools: c.pools,
                };
            }),
    );
    const view = {
        nodes: s.nodes.map((n) => ({
            name: n.name,
            uuid: n.uuid,
            stack: n.stack,
            state: n.provisionState,
            hostname: n.hostname,
            role: n.role,
            ctlplaneIp: n.ctlplaneIp,
            disksDirty: n.disksDirty,
            deployments: n.deployments ?? 0,
        })),
        stacks: s.stacks.map((x) => ({
            name: x.name,
            status: x.status,
            deployed: x.deployed,
            // Glance stores as last deployed (stale ones stay until the stack is updated, §8.12);
            // usable = the store's cluster exists here, runs, and has its pools and key.
            glanceStores: Object.entries(x.glanceStores ?? {}).map(([id, cluster]) => {
                const c = clusters.find((y) => y.name === cluster);
                return { id, cluster, usable: !!c && c.running && c.pools };
            }),
        })),
        cephClusters: clusters,
        glance: await glanceView(),
        aggregates: s.aggregates,
        // The central clouds' Nova and Cinder records (lab/undercloud/services.ts).
        computeServices: (s as ServicesLabState).computeServices ?? [],
        volumeServices: (s as ServicesLabState).volumeServices ?? [],
        volumes: (s as ServicesLabState).volumes ?? [],
        networks: s.network ? Object.keys(s.network.networks) : [],
    };
    if (json) {
        console.log(JSON.stringify(view));
        return;
    }
    console.log("nodes:");
    for (const n of view.nodes)
        console.log(`  ${n.name.padEnd(18)} ${n.state.padEnd(11)} ${n.stack ?? "-"} ${n.hostname ?? ""}`);
    console.log("stacks:");
    for (const x of view.stacks) console.log(`  ${x.name.padEnd(18)} ${x.status}`);
    console.log("ceph clusters:");
    for (const c of view.cephClusters)
        console.log(
            `  ${c.name.padEnd(10)} stack ${c.stack.padEnd(14)} fsid ${c.fsid} ${c.running ? "running" : c.lost ? "lost" : "stopped"} ${c.monHost}`,
        );
    console.log("glance:");
    for (const g of view.glance)
        console.log(
            `  ${g.stack.padEnd(18)} ${g.url.padEnd(24)} ${g.running ? "running" : "stopped"} stores ${g.stores.join(",")}`,
        );
}

function logCmd(json: boolean): void {
    for (const e of readLog()) {
        if (json)
            console.log(
                JSON.stringify({
                    start: e.start,
                    end: e.end,
                    argv: e.argv,
                    stack: e.stack,
                    exit: e.exit,
                    mutating: e.mutating,
                }),
            );
        else console.log(`${e.start} ${e.end ?? "(running)".padEnd(24)} exit=${e.exit ?? "-"} ${e.argv.join(" ")}`);
    }
}

function faultCmd(args: string[]): number {
    const [sub, ...rest] = args;
    const opt = (name: string) => {
        const i = rest.indexOf(name);
        return i >= 0 ? rest[i + 1] : undefined;
    };
    if (sub === "add") {
        const command = opt("--command");
        const kind = opt("--kind") as FaultKind | undefined;
        if (!command || !kind || !["fail", "hang", "drop"].includes(kind)) {
            console.error(
                `usage: npm run lab -- fault add --command "<e.g. overcloud deploy>" [--stack S] --kind fail|hang|drop [--message M]`,
            );
            return 2;
        }
        const faults = readFaults();
        const f: Fault = {
            id: Math.max(0, ...faults.map((x) => x.id)) + 1,
            command,
            stack: opt("--stack") ?? null,
            kind,
            message: opt("--message") ?? null,
        };
        writeFaults([...faults, f]);
        console.log(JSON.stringify(f));
        return 0;
    }
    if (sub === "list") {
        for (const f of readFaults()) console.log(JSON.stringify(f));
        return 0;
    }
    if (sub === "clear") {
        writeFaults([]);
        return 0;
    }
    console.error(USAGE);
    return 2;
}

async function main(argv: string[]): Promise<number> {
    const [cmd, ...rest] = argv;
    const needState = () => {
        if (!fs.existsSync(paths().state)) {
            console.error(`lab: no lab in ${paths().dir}; run 'npm run lab -- start'`);
            return false;
        }
        return true;
    };
    switch (cmd) {
        case "start":
            await start();
            return 0;
        case "stop":
            await stop();
            return 0;
        case "reboot":
            await reboot();
            return 0;
        case "reset":
            await reset();
            return 0;
        case "status":
            return status();
        case "ssh": {
            const words = rest[0] === "--" ? rest.slice(1) : rest;
            if (!words.length) {
                console.error("usage: npm run lab -- ssh -- <command>");
                return 2;
            }
            if (!sshdPid()) {
                console.error("lab: not running; run 'npm run lab -- start'");
                return 255;
            }
            const r = spawnSync("ssh", sshArgs(undefined, words.join(" ")), { stdio: "inherit" });
            return r.status ?? 255;
        }
        case "log":
            if (!needState()) return 1;
            logCmd(rest.includes("--json"));
            return 0;
        case "state":
            if (!needState()) return 1;
            await stateCmd(rest.includes("--json"));
            return 0;
        case "fault":
            if (!needState()) return 1;
            return faultCmd(rest);
        case "connection":
            console.log(JSON.stringify(connection()));
            return 0;
        default:
            console.error(USAGE);
            return cmd === "help" || cmd === "--help" ? 0 : 2;
    }
}

main(process.argv.slice(2)).then(
    (code) => {
        process.exitCode = code;
    },
    (e) => {
        console.error(`lab: ${(e as Error).message}`);
        process.exitCode = 1;
    },
);
