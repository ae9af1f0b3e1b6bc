// The ONE ephemeral Heat of the undercloud (python-tripleoclient heat_launcher.py HeatPodLauncher):
// pod `ephemeral-heat`, API on the fixed port 8006, one `heat` database, no locks. A second deploy
// whose Heat phase starts while the pod runs logs "pod already running, skipping launch" and uses
// it; whichever run reaches its cleanup first kills the pod and drops the database, which breaks
// the other one mid-stack. The lab keeps the pod in <LAB_DIR>/heat.json under the lab lock.
import * as fs from "node:fs";
import * as path from "node:path";
import { paths, writeFileAtomic } from "../paths";
import { acquireLock } from "../state";
import { CommandError, out } from "./util";

interface Pod {
    generation: number;
    launchedBy: string;
    users: Array<{ stack: string; pid: number }>;
    /** True once two deploys used the pod at the same time. */
    shared: boolean;
}
interface HeatFile {
    generation: number;
    pod: Pod | null;
}

const file = () => path.join(paths().dir, "heat.json");

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function withHeat<T>(fn: (h: HeatFile) => T): T {
    const release = acquireLock();
    try {
        const h: HeatFile = fs.existsSync(file())
            ? JSON.parse(fs.readFileSync(file(), "utf8"))
            : { generation: 0, pod: null };
        // A pod whose users all died (killed commands) is a leftover container: still running.
        const r = fn(h);
        writeFileAtomic(file(), JSON.stringify(h, null, 2) + "\n");
        return r;
    } finally {
        release();
    }
}

export interface HeatSession {
    stack: string;
    generation: number;
}

/** Launches the pod, or joins the running one (silently, as the real code does). */
export function launchHeat(stack: string, workingDir: string, rmHeat: boolean): HeatSession {
    fs.mkdirSync(path.join(workingDir, "heat-launcher"), { recursive: true });
    return withHeat((h) => {
        if (h.pod && rmHeat) {
            out(`Killing ephemeral heat pod ephemeral-heat (--rm-heat)`);
            h.pod = null;
        }
        if (h.pod && h.pod.users.some((u) => alive(u.pid))) {
            out(`pod already running, skipping launch`);
            h.pod.users = h.pod.users.filter((u) => alive(u.pid));
            h.pod.users.push({ stack, pid: process.pid });
            h.pod.shared = true;
            return { stack, generation: h.pod.generation };
        }
        h.generation += 1;
        h.pod = { generation: h.generation, launchedBy: stack, users: [{ stack, pid: process.pid }], shared: false };
        out(`Using ephemeral heat for stack operation`);
        out(`Launching ephemeral heat pod ephemeral-heat (heat-all, API on 0.0.0.0:8006, database heat)`);
        return { stack, generation: h.generation };
    });
}

/** Throws what the operator would see if the pod this session uses is gone or was shared. */
export function checkHeat(s: HeatSession): void {
    const h: HeatFile = fs.existsSync(file())
        ? JSON.parse(fs.readFileSync(file(), "utf8"))
        : { generation: 0, pod: null };
    if (!h.pod || h.pod.generation !== s.generation) {
        throw new CommandError(
            `ERROR: Unable to establish connection to http://127.0.0.1:8006/v1/admin/stacks/${s.stack}: ` +
                `('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))\n` +
                `Heat Stack create failed.\nERROR: Exception occured while running the command\n` +
                `tripleoclient.exceptions.DeploymentError: Heat Stack create failed.`,
        );
    }
}

/**
 * End of the Heat phase: kill the pod, dump and drop the `heat` database. Returns the other stacks
 * that were using the pod (their runs are now broken) and whether this run shared it.
 */
export function killHeat(s: HeatSession, workingDir: string): { shared: boolean; others: string[] } {
    return withHeat((h) => {
        if (!h.pod || h.pod.generation !== s.generation) return { shared: true, others: [] };
        const shared = h.pod.shared;
        const others = h.pod.users.filter((u) => u.pid !== process.pid && alive(u.pid)).map((u) => u.stack);
        out(`Killing ephemeral heat pod ephemeral-heat`);
        out(`Dumping heat database to ${path.join(workingDir, "heat-launcher", "heat-db.sql")}`);
        out(`Dropping heat database and removing pod ephemeral-heat`);
        fs.writeFileSync(
            path.join(workingDir, "heat-launcher", "heat-db.sql"),
            `-- heat database dump (lab) for ${s.stack}\n`,
        );
        h.pod = null;
        return { shared, others };
    });
}

/** Wallaby/Zed kill Heat once more at the very end of a full deploy: breaks whoever uses it now. */
export function finalHeatKill(stack: string): void {
    withHeat((h) => {
        if (h.pod && h.pod.users.some((u) => u.pid !== process.pid && alive(u.pid))) {
            out(`Killing ephemeral heat pod ephemeral-heat (end of deployment of ${stack})`);
            h.pod = null;
        }
    });
}

/** Is this session's pod shared with another deploy right now? */
export function heatShared(s: HeatSession): boolean {
    const h: HeatFile = fs.existsSync(file())
        ? JSON.parse(fs.readFileSync(file(), "utf8"))
        : { generation: 0, pod: null };
    return !!h.pod && h.pod.generation === s.generation && h.pod.shared;
}
