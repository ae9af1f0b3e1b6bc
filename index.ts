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
        const privateKey = secretKey ?? pulumi.secret(fs.readFileSync(resolved.privateKeyFile!, "utf8"));
        return { plan, connection: resolved.connection, privateKey };
    } catch (e) {
        if (e instanceof ConfigError) {
            // A plain Error without stack: the CLI shows the message naming the key.
            throw new pulumi.RunError(e.message);
        }
        throw e;
    }
}

const { plan, connection, privateKey } = load();

const deployment = new Deployment("dcn", { plan, undercloud: connection, privateKey });

/** Per site: stack status, Ceph fsid, AZ, Glance store ids, nodes. */
export const sites = deployment.sites;
/** Central endpoints (from the central stack export's EndpointMapOverride). */
export const centralEndpoints = deployment.centralEndpoints;
/**
 * The multistore validation (settings.validation.enabled): image id, stores, per DCN site
 * {copied, snapProtected, cowBoot}; absent when disabled.
 */
export const validation = deployment.validationSummary;
/** The undercloud this stack deploys through (no credentials). */
export const undercloud = `${connection.user}@${connection.host}:${connection.port}`;
