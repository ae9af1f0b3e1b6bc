/**
 * The program: reads and validates the stack config (before any resource exists), then builds the
 * whole DCN deployment. See components/config.ts for the keys.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, checkProjectKeys, parseUndercloud, planTopology } from "./components/config";
import { resolveUndercloud } from "./components/connection";
import { Deployment } from "./components/deployment";
import { runPreflight } from "./components/preflight";

/**
 * Stack traces the SDK takes for its own bookkeeping skip the source maps (bench/results.md, P3).
 * Pulumi's run.js installs source-map-support, whose Error.prepareStackTrace maps every frame of
 * every stack through the `.js.map` files. The SDK reads `new Error().stack` for every promise it
 * creates (`debuggablePromise`: kept only for its report of leaked promises) and once per resource
 * (`Resource.callsites`, the source position sent with RegisterResource): at 100 DCN sites that
 * mapping was a quarter of a preview. Those two stacks get V8's own formatting (bin/*.js
 * positions); every other error (the program's, a config error, an SDK RunError) is still mapped
 * to its .ts position. DCN_SOURCE_MAPPED_STACKS=1 maps everything again (debugging a leak report).
 */
function sdkStacksWithoutSourceMaps(): void {
    const mapped = Error.prepareStackTrace;
    if (!mapped || process.env.DCN_SOURCE_MAPPED_STACKS === "1") {
        return;
    }
    const sdkFrames = new Set(["debuggablePromise", "callsites"]);
    Error.prepareStackTrace = (err, frames) => {
        if (!sdkFrames.has(frames[0]?.getFunctionName() ?? "")) {
            return mapped(err, frames);
        }
        let head: string;
        try {
            head = Error.prototype.toString.call(err);
        } catch {
            head = "Error";
        }
        return head + frames.map((f) => `\n    at ${String(f)}`).join("");
    };
}
sdkStacksWithoutSourceMaps();

const config = new pulumi.Config();

/**
 * The project directory (where Pulumi.yaml is): relative paths of the config resolve against it.
 * Not process.cwd(): with `main: bin/index.js` the program runs inside bin/.
 */
function projectDir(): string {
    for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
        if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) {
            return dir;
        }
        if (path.dirname(dir) === dir) {
            return process.cwd();
        }
    }
}

function load() {
    try {
        checkProjectKeys(Object.keys(pulumi.runtime.allConfig()));
        const undercloudCfg = parseUndercloud(config.getObject<unknown>("undercloud"));
        const plan = planTopology(config.getObject<unknown>("sites"), config.getObject<unknown>("settings"));
        const secretKey = config.getSecret("undercloudPrivateKey");
        const resolved = resolveUndercloud(undercloudCfg, projectDir(), secretKey !== undefined);
        for (const note of resolved.notes) {
            void pulumi.log.warn(note);
        }
        const fileKey = secretKey ? undefined : fs.readFileSync(resolved.privateKeyFile!, "utf8");
        const privateKey = secretKey ?? pulumi.secret(fileKey!);
        // The preflight's own copy (it runs in the program, before any resource exists).
        const keyText = secretKey
            ? new Promise<string>((resolve) => secretKey.apply((k) => resolve(k)))
            : Promise.resolve(fileKey!);
        return { plan, connection: resolved.connection, privateKey, keyText };
    } catch (e) {
        if (e instanceof ConfigError) {
            // A plain Error without stack: the CLI shows the message naming the key.
            throw new pulumi.RunError(e.message);
        }
        throw e;
    }
}

/**
 * The undercloud files preflight (components/preflight.ts): one read-only command, before any
 * resource is registered, so nothing mutating runs with a wrong file. `up` fails when the
 * undercloud cannot be read; a preview warns and goes on (a runner without access).
 */
async function preflight(
    plan: ReturnType<typeof load>["plan"],
    u: ReturnType<typeof load>["connection"],
    key: Promise<string>,
) {
    const id = `${u.user}@${u.host}:${u.port}`;
    const r = await runPreflight(
        { host: u.host, port: u.port, user: u.user, hostKey: u.hostKey, privateKey: await key },
        plan,
    );
    if (r.problems.length > 0) {
        throw new pulumi.RunError(
            `invalid stack config: undercloud files (read-only preflight on ${id}, nothing was run):\n` +
                r.problems.map((p) => `  ${p}`).join("\n"),
        );
    }
    if (r.unreachable !== undefined) {
        if (!pulumi.runtime.isDryRun()) {
            throw new pulumi.RunError(`cannot check the undercloud files on ${id} before deploying: ${r.unreachable}`);
        }
        void pulumi.log.warn(`the undercloud files were not checked (${id} not reachable): ${r.unreachable}`);
    }
}

export = async () => {
    const { plan, connection, privateKey, keyText } = load();
    // An update registers nothing before the files passed; a preview (nothing to protect) checks
    // them beside its own work, so a plan costs no extra round trip time, and fails all the same.
    const checked = preflight(plan, connection, keyText);
    checked.catch(() => undefined);
    if (!pulumi.runtime.isDryRun()) {
        await checked;
    }

    const deployment = new Deployment("dcn", { plan, undercloud: connection, privateKey });
    await checked;
    return {
        /** Per site: stack status, Ceph fsid, AZ, Glance store ids, nodes. */
        sites: deployment.sites,
        /** Central endpoints (from the central stack export's EndpointMapOverride). */
        centralEndpoints: deployment.centralEndpoints,
        /**
         * The multistore validation (settings.validation.enabled): image id, stores, per DCN site
         * {copied, snapProtected, cowBoot}; absent when disabled.
         */
        validation: deployment.validationSummary,
        /** The undercloud this stack deploys through (no credentials). */
        undercloud: `${connection.user}@${connection.host}:${connection.port}`,
    };
};
