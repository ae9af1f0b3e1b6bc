// Entry point of the simulated undercloud CLIs (`openstack`, `metalsmith`), run by the shims in
// <LAB_DIR>/bin from a login shell over the lab's SSH. Logs every command (redacted), applies
// injected faults, survives the SSH session dying (SIGHUP ignored, EPIPE swallowed).
import * as fs from "node:fs";
import * as path from "node:path";
import { Fault, faultMatches, logEnd, logStart, readFaults, redactText, writeFaults } from "../journal";
import { paths, readConfig } from "../paths";
import { SIMULATED_PLAYBOOKS } from "../tripleo/playbooks";
import { runRealOpenstack } from "../tripleo/real";
import { ansiblePlaybook } from "../tripleo/seam";
import { acquireLock } from "../state";
import { cephDeploy, exportCeph } from "./ceph";
import { glanceCli } from "./glance";
import {
    aggregateList,
    aggregateShow,
    authenticate,
    deploy,
    overcloudDelete,
    overcloudStatus,
    stackExport,
    tokenIssue,
} from "./deploy";
import {
    Handler,
    baremetalNodeClean,
    baremetalNodeList,
    baremetalNodeManage,
    baremetalNodeProvide,
    baremetalNodeShow,
    metalsmithList,
    metalsmithShow,
    metalsmithUndeploy,
    networkProvision,
    nodeDelete,
    nodeProvision,
    nodeUnprovision,
    rolesGenerate,
    rolesList,
    vipProvision,
} from "./metal";
import { neutronServe } from "./neutron";
import { nodeSsh } from "./nodes";
import {
    flavorCreate,
    flavorDelete,
    flavorList,
    flavorShow,
    novaReap,
    serverCreate,
    serverDelete,
    serverList,
    serverShow,
} from "./nova";
import {
    aggregateDelete,
    aggregateRemoveHost,
    computeServiceDelete,
    computeServiceList,
    computeServiceSet,
    volumeCreate,
    volumeDelete,
    volumeList,
    volumeServiceList,
    volumeServiceSet,
    volumeShow,
} from "./services";
import { CommandError, err, out, simMs, sleep } from "./util";

interface Cmd {
    handler: Handler;
    mutating: boolean;
    /** Commands that act on a stack default to `overcloud`, as tripleoclient does. */
    stackDefault?: boolean;
}

const OPENSTACK: Record<string, Cmd> = {
    "overcloud network provision": { handler: networkProvision, mutating: true },
    "overcloud network vip provision": { handler: vipProvision, mutating: true, stackDefault: true },
    "overcloud node provision": { handler: nodeProvision, mutating: true, stackDefault: true },
    "overcloud node unprovision": { handler: nodeUnprovision, mutating: true, stackDefault: true },
    "overcloud node delete": { handler: nodeDelete, mutating: true, stackDefault: true },
    "overcloud ceph deploy": { handler: cephDeploy, mutating: true, stackDefault: true },
    "overcloud export ceph": { handler: exportCeph, mutating: true },
    "overcloud export": { handler: stackExport, mutating: true, stackDefault: true },
    "overcloud deploy": { handler: deploy, mutating: true, stackDefault: true },
    "overcloud delete": { handler: overcloudDelete, mutating: true },
    "overcloud status": { handler: overcloudStatus, mutating: false, stackDefault: true },
    "overcloud roles generate": { handler: rolesGenerate, mutating: true },
    "overcloud roles list": { handler: rolesList, mutating: false },
    "baremetal node list": { handler: baremetalNodeList, mutating: false },
    "baremetal node show": { handler: baremetalNodeShow, mutating: false },
    "baremetal node manage": { handler: baremetalNodeManage, mutating: true },
    "baremetal node provide": { handler: baremetalNodeProvide, mutating: true },
    "baremetal node clean": { handler: baremetalNodeClean, mutating: true },
    "token issue": { handler: tokenIssue, mutating: false },
    "aggregate show": { handler: aggregateShow, mutating: false },
    "aggregate list": { handler: aggregateList, mutating: false },
    "aggregate remove host": { handler: aggregateRemoveHost, mutating: true },
    "aggregate delete": { handler: aggregateDelete, mutating: true },
    "compute service list": { handler: computeServiceList, mutating: false },
    "compute service set": { handler: computeServiceSet, mutating: true },
    "compute service delete": { handler: computeServiceDelete, mutating: true },
    "volume service list": { handler: volumeServiceList, mutating: false },
    "volume service set": { handler: volumeServiceSet, mutating: true },
    "volume create": { handler: volumeCreate, mutating: true },
    "volume list": { handler: volumeList, mutating: false },
    "volume show": { handler: volumeShow, mutating: false },
    "volume delete": { handler: volumeDelete, mutating: true },
    "server create": { handler: serverCreate, mutating: true },
    "server show": { handler: serverShow, mutating: false },
    "server list": { handler: serverList, mutating: false },
    "server delete": { handler: serverDelete, mutating: true },
    "flavor create": { handler: flavorCreate, mutating: true },
    "flavor show": { handler: flavorShow, mutating: false },
    "flavor list": { handler: flavorList, mutating: false },
    "flavor delete": { handler: flavorDelete, mutating: true },
};
const METALSMITH: Record<string, Cmd> = {
    list: { handler: metalsmithList, mutating: false },
    show: { handler: metalsmithShow, mutating: false },
    undeploy: { handler: metalsmithUndeploy, mutating: true },
};

function resolve(tool: string, args: string[]): { key: string; cmd: Cmd; rest: string[] } | undefined {
    const table = tool === "metalsmith" ? METALSMITH : OPENSTACK;
    const words: string[] = [];
    for (const a of args) {
        if (a.startsWith("-")) break;
        words.push(a);
    }
    for (let n = words.length; n > 0; n--) {
        const key = words.slice(0, n).join(" ");
        if (table[key]) return { key, cmd: table[key], rest: args.slice(n) };
    }
    return undefined;
}

function stackOf(key: string, cmd: Cmd, rest: string[]): string | null {
    for (let i = 0; i < rest.length; i++) {
        if (rest[i] === "--stack" && i + 1 < rest.length) return rest[i + 1];
        if (rest[i].startsWith("--stack=")) return rest[i].slice(8);
    }
    if (key === "overcloud delete") return rest.find((x) => !x.startsWith("-")) ?? null;
    return cmd.stackDefault ? "overcloud" : null;
}

function takeFault(command: string, stack: string | null): Fault | undefined {
    const release = acquireLock();
    try {
        const faults = readFaults();
        const known = (words: string) =>
            words in OPENSTACK || (words.startsWith("metalsmith ") && words.slice(11) in METALSMITH);
        const i = faults.findIndex((f) => faultMatches(f, command, stack, known));
        if (i < 0) return undefined;
        const [f] = faults.splice(i, 1);
        writeFaults(faults);
        return f;
    } finally {
        release();
    }
}

/**
 * Cuts this command's SSH connection: kills the sshd session processes above us (never the
 * listener). A command detached from its session (nohup/setsid) has none; then every open
 * connection of the lab is cut, as a network outage would (children of the listener).
 */
function dropConnection(): void {
    let listener = -1;
    try {
        listener = Number(fs.readFileSync(path.join(paths().ssh, "sshd.pid"), "utf8").trim());
    } catch {
        /* no listener pid */
    }
    const stat = (pid: number): { comm: string; ppid: number } | undefined => {
        try {
            const st = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const comm = st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"));
            return { comm, ppid: Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]) };
        } catch {
            return undefined;
        }
    };
    const victims: number[] = [];
    let pid = process.ppid;
    for (let guard = 0; pid > 1 && guard < 20; guard++) {
        const st = stat(pid);
        if (!st) break;
        if (st.comm.startsWith("sshd") && pid !== listener) victims.push(pid);
        pid = st.ppid;
    }
    if (!victims.length && listener > 0) {
        for (const d of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(d)) continue;
            const st = stat(Number(d));
            if (st && st.ppid === listener && st.comm.startsWith("sshd")) victims.push(Number(d));
        }
    }
    for (const v of victims) {
        try {
            process.kill(v, "SIGKILL");
        } catch {
            /* gone */
        }
    }
}

/** Non-mutating `openstack overcloud …` commands (for the log's `mutating` flag). */
const READ_ONLY = new Set(["overcloud status", "overcloud roles list", "overcloud roles show"]);

/**
 * In `real` mode every `openstack overcloud …` command is the real tripleoclient's (its own
 * parsing, errors and exit codes, `--help` included); the lab only logs it and applies faults.
 */
function resolveReal(tool: string, args: string[]): { key: string; cmd: Cmd; rest: string[] } | undefined {
    if (tool !== "openstack" || args[0] !== "overcloud" || readConfig().tripleo !== "real") return undefined;
    const known = resolve(tool, args);
    const words: string[] = [];
    for (const a of args) {
        if (a.startsWith("-")) break;
        words.push(a);
    }
    const key = known?.key ?? words.slice(0, 3).join(" ");
    const help = args.includes("-h") || args.includes("--help");
    return {
        key,
        rest: known?.rest ?? args.slice(words.length),
        cmd: {
            handler: () => runRealOpenstack(args),
            mutating: !help && !READ_ONLY.has(key),
            stackDefault: known?.cmd.stackDefault ?? key !== "overcloud delete",
        },
    };
}

async function main(): Promise<number> {
    const [tool, ...args] = process.argv.slice(2);
    if (!process.env.LAB_DIR) {
        err("lab undercloud: LAB_DIR is not set (run through the lab's SSH)");
        return 1;
    }
    process.on("SIGHUP", () => {
        /* the operator's SSH session died: the command goes on, like a real deploy */
    });
    // Real tripleoclient's playbooks come back here through the hardware seam (not logged: the
    // operator's command that ran them is).
    if (tool === "ansible-playbook") return ansiblePlaybook(args, SIMULATED_PLAYBOOKS);
    if (tool === "glance") {
        try {
            return await glanceCli(args, authenticate);
        } catch (e) {
            err(redactText(e instanceof Error ? e.message : String(e)));
            return 1;
        }
    }
    // The overcloud nodes' SSH surface (lab/undercloud/nodes.ts); other destinations: the real ssh.
    if (tool === "ssh") return nodeSsh(args);
    // The end of a `server delete` the CLI did not wait for (lab/undercloud/nova.ts).
    if (tool === "nova-reap") return novaReap(args[0]);
    if (tool === "neutron-serve") {
        await neutronServe();
        return new Promise<number>(() => undefined); // serves until SIGTERM
    }
    const r = resolveReal(tool, args) ?? resolve(tool, args);
    if (!r) {
        err(
            `${tool}: '${args
                .filter((a) => !a.startsWith("-"))
                .slice(0, 3)
                .join(" ")}' is not a ${tool} command. See '${tool} --help'.`,
        );
        return 2;
    }
    const argvFull = [tool, ...args];
    const stack = stackOf(r.key, r.cmd, r.rest);
    const id = `${Date.now()}-${process.pid}`;
    logStart(id, { start: new Date().toISOString(), argv: argvFull, stack, mutating: r.cmd.mutating });
    let finished = false;
    const finish = (code: number) => {
        if (!finished) {
            finished = true;
            logEnd(id, code);
        }
    };
    for (const [sig, code] of [
        ["SIGTERM", 143],
        ["SIGINT", 130],
    ] as const) {
        process.on(sig, () => {
            finish(code);
            process.exit(code);
        });
    }
    const prog = `${tool} ${r.key}`;
    let code: number;
    try {
        const fault = takeFault(`${tool === "metalsmith" ? "metalsmith " : ""}${r.key}`, stack);
        if (fault?.kind === "fail") {
            await sleep(simMs(1));
            throw new CommandError(fault.message ?? `ERROR: ${prog} failed (injected fault)`);
        }
        if (fault?.kind === "hang") {
            out(`TASK [${r.key}] ${"*".repeat(40)}`);
            setInterval(() => undefined, 1 << 30);
            await new Promise(() => undefined);
        }
        if (fault?.kind === "drop") setTimeout(dropConnection, Math.max(150, simMs(2))).unref();
        code = await r.cmd.handler(prog, r.rest);
    } catch (e) {
        if (e instanceof CommandError) {
            err(redactText(e.message));
            code = e.exitCode;
        } else {
            err(redactText(`ERROR: ${(e as Error).stack ?? String(e)}`));
            code = 1;
        }
    }
    finish(code);
    return code;
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (e) => {
        err(String(e));
        process.exitCode = 1;
    },
);
