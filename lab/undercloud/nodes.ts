// The overcloud nodes as an operator reaches them from the undercloud: `ssh tripleo-admin@<ctlplane
// ip> sudo cephadm shell [--config F] [--keyring K] [--fsid X] -- ceph|rbd|rados …`. The lab
// session's PATH puts this `ssh` first (<LAB_DIR>/bin/ssh). A destination that is the ctlplane
// address of a provisioned lab node runs the command "on that node"; any other destination is the
// real /usr/bin/ssh with the same arguments. (Not lab/tripleo/shims/ssh: inside real tripleoclient's
// namespace that one keeps failing every Ansible run that would reach a node.)
//
// On a node: the remote command line is split as a shell would (quotes and backslashes); anything a
// simple command cannot hold (`;`, `|`, `&`, `$`, backquotes, redirections, globs) is refused. Only
// `sudo cephadm shell …` and `hostname` are simulated. Inside the shell, `ceph orch …` and
// `ceph osd tree` are the orchestrator's view (lab/undercloud/orch.ts); every other `ceph`, `rbd`
// and `rados` command runs against the site's real mini cluster as client.admin. A node holds
// `/etc/ceph/<cluster>.conf` and `<cluster>.client.admin.keyring` when cephadm lists it with the
// `_admin` label (TripleO's mon hosts), as deployed Ceph leaves them.
import { spawnSync } from "node:child_process";
import { cephClusterInfo } from "../ceph";
import { logEnd, logStart } from "../journal";
import { type BaremetalNode, type CephClusterState, readState, withState } from "../state";
import { CTLPLANE } from "./metal";
import { isOrchCommand, orchCommand, settleOrch } from "./orch";
import { cinderManageServiceRemove } from "./services";
import { err, out } from "./util";

/** The real OpenSSH client, for every destination that is not a lab node. */
export const REAL_SSH = "/usr/bin/ssh";

/** OpenSSH client options that take a value (ssh(1)). */
const WITH_VALUE = new Set("BbcDEeFIiJLlmOoPpQRSWw".split(""));

export interface SshInvocation {
    user?: string;
    host?: string;
    /** The remote command words, as ssh joins them (with spaces). */
    command: string[];
}

/** Parses an OpenSSH client command line (`ssh [options] destination [command [argument …]]`). */
export function parseSshArgv(argv: string[]): SshInvocation {
    let user: string | undefined;
    let i = 0;
    for (; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--") {
            i++;
            break;
        }
        if (!a.startsWith("-") || a === "-") break;
        // Grouped flags (-qT), and an option's value attached (-p22) or next.
        for (let j = 1; j < a.length; j++) {
            const f = a[j];
            if (WITH_VALUE.has(f)) {
                const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
                if (f === "l") user = v;
                break;
            }
        }
    }
    const dest = argv[i];
    if (dest === undefined) return { command: [] };
    let host = dest;
    const at = dest.lastIndexOf("@");
    if (at >= 0) {
        user = dest.slice(0, at);
        host = dest.slice(at + 1);
    }
    if (host.startsWith("ssh://")) host = host.slice(6);
    return { user, host, command: argv.slice(i + 1) };
}

/** Splits a command line into words as POSIX sh would, refusing what a simple command cannot be. */
export function shellWords(line: string): string[] {
    const words: string[] = [];
    let cur = "";
    let inWord = false;
    for (let i = 0; i < line.length; i++) {
        const ch = line[i];
        if (ch === "'") {
            const end = line.indexOf("'", i + 1);
            if (end < 0) throw new Error("unterminated single quote");
            cur += line.slice(i + 1, end);
            i = end;
            inWord = true;
        } else if (ch === '"') {
            let j = i + 1;
            for (; j < line.length && line[j] !== '"'; j++) {
                if (line[j] === "\\" && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1])) {
                    cur += line[++j];
                } else if (line[j] === "$" || line[j] === "`") {
                    throw new Error(`expansion (${line[j]}) inside double quotes`);
                } else cur += line[j];
            }
            if (j >= line.length) throw new Error("unterminated double quote");
            i = j;
            inWord = true;
        } else if (ch === "\\") {
            if (i + 1 >= line.length) throw new Error("trailing backslash");
            cur += line[++i];
            inWord = true;
        } else if (ch === " " || ch === "\t") {
            if (inWord) words.push(cur);
            cur = "";
            inWord = false;
        } else if (";&|<>()$`\n*?[#~{}".includes(ch) && !(ch === "#" && inWord) && !(ch === "~" && inWord)) {
            throw new Error(`unquoted ${JSON.stringify(ch)}`);
        } else {
            cur += ch;
            inWord = true;
        }
    }
    if (inWord) words.push(cur);
    return words;
}

/** The provisioned lab node whose ctlplane address is `host`. */
function nodeAt(host: string): BaremetalNode | undefined {
    return readState().nodes.find((n) => n.ctlplaneIp === host && n.stack !== null && n.provisionState === "active");
}

function inCtlplane(host: string): boolean {
    const net = CTLPLANE.cidr.split("/")[0].split(".").slice(0, 3).join(".");
    return host.startsWith(`${net}.`);
}

/** The lab's `ssh`: a lab node's surface, else the real client. */
export async function nodeSsh(argv: string[]): Promise<number> {
    const inv = parseSshArgv(argv);
    const node = inv.host ? nodeAt(inv.host) : undefined;
    if (!node) {
        if (inv.host && inCtlplane(inv.host)) {
            err(`ssh: connect to host ${inv.host} port 22: No route to host`);
            return 255;
        }
        const r = spawnSync(REAL_SSH, argv, { stdio: "inherit" });
        return r.status ?? 255;
    }
    const user = inv.user ?? process.env.USER ?? "root";
    if (user !== "tripleo-admin") {
        err(`${user}@${inv.host}: Permission denied (publickey).`);
        return 255;
    }
    const line = inv.command.join(" ");
    const hostname = node.hostname ?? node.name;
    if (line.trim() === "") {
        err(`lab node ${hostname}: no interactive shell; the lab's nodes run one command per ssh`);
        return 255;
    }
    let words: string[];
    try {
        words = shellWords(line);
    } catch (e) {
        err(
            `lab node ${hostname}: only simple commands are simulated (${(e as Error).message}); ` +
                `quote every argument (got: ${line})`,
        );
        return 126;
    }
    const mutating =
        /\bceph orch (osd rm(?! status)|host (rm|drain|label))/.test(words.join(" ")) ||
        /\bcinder-manage service remove\b/.test(words.join(" "));
    const id = `${Date.now()}-${process.pid}`;
    logStart(id, {
        start: new Date().toISOString(),
        argv: ["ssh", `${user}@${inv.host}`, ...words],
        stack: node.stack,
        mutating,
    });
    const code = await onNode(node, hostname, words);
    logEnd(id, code);
    return code;
}

async function onNode(node: BaremetalNode, hostname: string, words: string[]): Promise<number> {
    if (words[0] === "hostname" && words.length === 1) {
        out(hostname);
        return 0;
    }
    if (words[0] === "cephadm") {
        err("ERROR: cephadm should be run as root");
        return 1;
    }
    let w = words;
    if (w[0] === "sudo") {
        w = w.slice(1);
        while (w[0] === "-n" || w[0] === "-E") w = w.slice(1);
    }
    if (w[0] === "podman" && w[1] === "exec") {
        if (words[0] !== "sudo") {
            err("Error: cannot re-exec process: permission denied (podman of tripleo-admin has no containers)");
            return 125;
        }
        return podmanExec(node, hostname, w.slice(2));
    }
    if (words[0] !== "sudo" || w[0] !== "cephadm" || w[1] !== "shell") {
        err(
            `lab node ${hostname}: '${words.join(" ")}' is not simulated; the lab's nodes answer ` +
                `'sudo cephadm shell [--config F] [--keyring K] [--fsid X] -- ceph|rbd|rados …', ` +
                `'sudo podman exec cinder_api|cinder_scheduler cinder-manage service remove <binary> <host>' and 'hostname'`,
        );
        return 127;
    }
    return cephadmShell(node, hostname, w.slice(2));
}

/**
 * `sudo podman exec <container> cinder-manage service remove <binary> <host>` on a central
 * controller: TripleO's Cinder containers (cinder_api, cinder_scheduler) carry cinder.conf with the
 * database, which is where a volume service is removed (there is no API for it).
 */
function podmanExec(node: BaremetalNode, hostname: string, argv: string[]): number {
    const containers = ["cinder_api", "cinder_scheduler"];
    const rest = argv.filter((a) => a !== "-i" && a !== "-t" && a !== "-it");
    const [container, tool, ...args] = rest;
    const st = readState();
    const stack = st.stacks.find((x) => x.name === node.stack);
    const runsCinder = stack?.central && node.role === "Controller";
    if (!container || !runsCinder || !containers.includes(container)) {
        err(`Error: no container with name or ID "${container ?? ""}" found: no such container`);
        return 125;
    }
    if (tool !== "cinder-manage") {
        err(`lab node ${hostname}: only cinder-manage is simulated in ${container}`);
        return 127;
    }
    if (args[0] !== "service" || args[1] !== "remove" || args.length !== 4) {
        err(
            "usage: cinder-manage service remove [-h] binary host_name\n" +
                "cinder-manage: error: only 'service remove <binary> <host>' is simulated by the lab",
        );
        return 2;
    }
    return cinderManageServiceRemove(stack!.name, args[2], args[3]);
}

async function cephadmShell(node: BaremetalNode, hostname: string, argv: string[]): Promise<number> {
    let config: string | undefined;
    let keyring: string | undefined;
    let fsid: string | undefined;
    let i = 0;
    for (; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--") {
            i++;
            break;
        }
        const eq = a.startsWith("--") ? a.indexOf("=") : -1;
        const name = eq > 0 ? a.slice(0, eq) : a;
        const value = () => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
        if (name === "--config" || name === "-c") config = value();
        else if (name === "--keyring" || name === "-k") keyring = value();
        else if (name === "--fsid") fsid = value();
        else if (a.startsWith("-")) {
            err(`cephadm shell: option ${a} is not simulated by the lab (it takes --config, --keyring, --fsid)`);
            return 2;
        } else break;
    }
    const cmd = argv.slice(i);
    const s = readState();
    const c = s.cephClusters.find((x) => x.stack === node.stack && x.fsid);
    const member = c?.orch?.hosts.find((h) => h.hostname === hostname);
    if (!c || !member) {
        err("ERROR: Cannot infer an fsid, one must be specified (using --fsid)");
        return 1;
    }
    if (fsid !== undefined && fsid !== c.fsid) {
        err(`ERROR: fsid does not match ceph.conf (${fsid} given, this host belongs to ${c.fsid})`);
        return 1;
    }
    const admin = member.labels.includes("_admin");
    const files = admin ? [`/etc/ceph/${c.name}.conf`, `/etc/ceph/${c.name}.client.admin.keyring`] : [];
    for (const f of [config, keyring]) {
        if (f !== undefined && !files.includes(f)) {
            err(`Error: statfs ${f}: no such file or directory`);
            return 125;
        }
    }
    if (cmd.length === 0) {
        err(`lab node ${hostname}: an interactive cephadm shell is not simulated; give the command after --`);
        return 2;
    }
    if (fsid === undefined) err(`Inferring fsid ${c.fsid}`);
    if (config === undefined) err(`Inferring config /var/lib/ceph/${c.fsid}/mon.${hostname}/config`);
    const tool = cmd[0];
    if (!["ceph", "rbd", "rados"].includes(tool)) {
        err(`lab node ${hostname}: '${tool}' inside cephadm shell is not simulated (ceph, rbd and rados are)`);
        return 127;
    }
    const own = cmd.slice(1).find((a) => /^(-c|--conf|-k|--keyring|--cluster|--id|-n|--name|--user)(=|$)/.test(a));
    if (own) {
        err(
            `lab node ${hostname}: ${own} inside cephadm shell: the shell's cluster is its mounted /etc/ceph/ceph.conf ` +
                `(from --config) and its user client.admin (from --keyring); the lab takes no other`,
        );
        return 2;
    }
    const runsMon = member.labels.includes("mon");
    if (config === undefined && !runsMon) {
        err(`ERROR: no config file found: give --config (this host runs no mon to infer it from)`);
        return 1;
    }
    if (keyring === undefined) {
        // cephadm mounts /etc/ceph/ceph.client.admin.keyring only; a TripleO cluster's is <cluster>.client.admin.keyring.
        err("[errno 2] RADOS object not found (error connecting to the cluster)");
        return 1;
    }
    if (tool === "ceph" && isOrchCommand(cmd.slice(1))) {
        const a = withState((st) => {
            const cl = st.cephClusters.find((x) => x.stack === c.stack && x.name === c.name)!;
            return orchCommand(st, cl, cmd.slice(1));
        });
        if (a.stdout) process.stdout.write(a.stdout);
        if (a.stderr) err(a.stderr);
        return a.code;
    }
    return realCeph(c, tool, cmd.slice(1));
}

/** A ceph/rbd/rados command against the site's real mini cluster, as client.admin. */
async function realCeph(c: CephClusterState, tool: string, args: string[]): Promise<number> {
    withState((st) => {
        const cl = st.cephClusters.find((x) => x.stack === c.stack && x.name === c.name);
        if (cl) settleOrch(st, cl);
    });
    const info = await cephClusterInfo(c.dir);
    if (!info?.running) {
        err(`[errno 110] RADOS timed out (error connecting to the cluster)`);
        return 1;
    }
    const extra = tool === "ceph" ? ["--connect-timeout", "15"] : [];
    const r = spawnSync(tool, ["-c", info.confPath, ...extra, ...args], { stdio: "inherit", timeout: 120_000 });
    return r.status ?? 1;
}
