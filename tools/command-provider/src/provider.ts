// The command provider: command:local:Command, command:remote:Command and the command:local:run invoke,
// served by @pulumi/pulumi/provider's gRPC host. Mirrors pulumi-command 1.2.1 (Go, pulumi-go-provider/infer).
import { randomBytes } from "node:crypto";
import type * as provider from "@pulumi/pulumi/provider";
import { globToRegExp } from "./assets";
import { engineLogger, type EngineLogger } from "./engineLog";
import { LOGGING_VALUES, type Logging, type RunResult } from "./logging";
import { runLocal, type LocalInputs } from "./local";
import {
    CONNECTION_DEFAULTS,
    parseHostKey,
    runRemote,
    type Connection,
    type RemoteInputs,
    type RemoteLog,
} from "./remote";
import {
    compact,
    containsSecret,
    containsUnknown,
    deepEqual,
    goQuote,
    isSecret,
    parseUrn,
    reveal,
    secret,
    UNKNOWN,
} from "./values";

export const PROVIDER_VERSION = "1.2.1";
export const LOCAL_COMMAND = "command:local:Command";
export const REMOTE_COMMAND = "command:remote:Command";
export const LOCAL_RUN = "command:local:run";

const COMMON_INPUTS = [
    "triggers",
    "create",
    "update",
    "delete",
    "stdin",
    "logging",
    "environment",
    "addPreviousOutputInEnv",
];
export const INPUT_KEYS: Record<string, readonly string[]> = {
    [LOCAL_COMMAND]: [...COMMON_INPUTS, "interpreter", "dir", "assetPaths", "archivePaths"],
    [REMOTE_COMMAND]: [...COMMON_INPUTS, "connection"],
};
const RUN_INPUT_KEYS = [
    "command",
    "interpreter",
    "dir",
    "environment",
    "stdin",
    "assetPaths",
    "archivePaths",
    "addPreviousOutputInEnv",
    "logging",
];
const CONNECTION_KEYS = [
    "host",
    "port",
    "user",
    "password",
    "privateKey",
    "privateKeyPassword",
    "agentSocketPath",
    "dialErrorLimit",
    "perDialTimeout",
    "hostKey",
];
const UNSUPPORTED_TYPES = ["command:remote:CopyFile", "command:remote:CopyToRemote"];

type Props = Record<string, unknown>;
type Failure = provider.CheckFailure;

const known = (v: unknown) => v !== undefined && v !== null && !containsUnknown(v);

function checkString(props: Props, key: string, failures: Failure[], path = key): void {
    const v = props[key];
    if (known(v) && typeof v !== "string") failures.push({ property: path, reason: `${path} must be a string` });
}

function checkStringList(props: Props, key: string, failures: Failure[]): void {
    const v = props[key];
    if (!known(v)) return;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
        failures.push({ property: key, reason: `${key} must be a list of strings` });
    }
}

function checkCommon(p: Props, failures: Failure[]): void {
    for (const k of ["create", "update", "delete", "stdin"]) checkString(p, k, failures);
    const env = p.environment;
    if (
        known(env) &&
        (typeof env !== "object" ||
            Array.isArray(env) ||
            Object.values(env as object).some((x) => typeof x !== "string"))
    ) {
        failures.push({ property: "environment", reason: "environment must be a map of strings to strings" });
    }
    const logging = p.logging;
    if (known(logging) && !LOGGING_VALUES.includes(logging as Logging)) {
        failures.push({
            property: "logging",
            reason: `logging must be one of ${LOGGING_VALUES.map((x) => `"${x}"`).join(", ")}`,
        });
    }
    const add = p.addPreviousOutputInEnv;
    if (known(add) && typeof add !== "boolean") {
        failures.push({ property: "addPreviousOutputInEnv", reason: "addPreviousOutputInEnv must be a boolean" });
    }
    if (known(p.triggers) && !Array.isArray(p.triggers)) {
        failures.push({ property: "triggers", reason: "triggers must be a list" });
    }
}

function checkLocalOnly(p: Props, failures: Failure[]): void {
    checkString(p, "dir", failures);
    checkStringList(p, "interpreter", failures);
    for (const k of ["assetPaths", "archivePaths"]) {
        checkStringList(p, k, failures);
        const globs = p[k];
        if (!Array.isArray(globs)) continue;
        for (const g of globs) {
            if (typeof g !== "string" || containsUnknown(g)) continue;
            try {
                globToRegExp(g.startsWith("!") ? g.slice(1) : g);
            } catch (e) {
                failures.push({ property: k, reason: (e as Error).message });
            }
        }
    }
}

function checkConnection(c: unknown, path: string, failures: Failure[], allowProxy: boolean): void {
    if (c === UNKNOWN) return; // not known during preview
    if (c === undefined || c === null || typeof c !== "object" || Array.isArray(c)) {
        failures.push({ property: path, reason: `${path} is required and must be an object` });
        return;
    }
    const con = c as Props;
    for (const k of Object.keys(con)) {
        if (!CONNECTION_KEYS.includes(k) && !(allowProxy && k === "proxy")) {
            failures.push({ property: `${path}.${k}`, reason: `unknown property ${path}.${k}` });
        }
    }
    if (con.host === undefined || con.host === null || con.host === "") {
        failures.push({ property: `${path}.host`, reason: `${path}.host is required` });
    }
    for (const k of ["host", "user", "password", "privateKey", "privateKeyPassword", "agentSocketPath", "hostKey"]) {
        checkString(con, k, failures, `${path}.${k}`);
    }
    const port = con.port;
    if (known(port) && (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)) {
        failures.push({ property: `${path}.port`, reason: `${path}.port must be an integer between 1 and 65535` });
    }
    const limit = con.dialErrorLimit;
    if (known(limit) && (typeof limit !== "number" || !Number.isInteger(limit) || limit < -1)) {
        failures.push({
            property: `${path}.dialErrorLimit`,
            reason: `${path}.dialErrorLimit must be an integer >= -1 (-1: unlimited)`,
        });
    }
    const timeout = con.perDialTimeout;
    if (known(timeout) && (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0)) {
        failures.push({
            property: `${path}.perDialTimeout`,
            reason: `${path}.perDialTimeout must be an integer >= 0 (seconds; 0: no maximum)`,
        });
    }
    if (known(con.hostKey) && typeof con.hostKey === "string" && con.hostKey !== "") {
        try {
            parseHostKey(con.hostKey);
        } catch (e) {
            failures.push({ property: `${path}.hostKey`, reason: (e as Error).message });
        }
    }
    if (allowProxy && con.proxy !== undefined && con.proxy !== null)
        checkConnection(con.proxy, `${path}.proxy`, failures, false);
}

function withConnectionDefaults(c: Props, allowProxy: boolean): Props {
    const out: Props = { ...c };
    for (const [k, v] of Object.entries(CONNECTION_DEFAULTS)) if (out[k] === undefined || out[k] === null) out[k] = v;
    if (
        allowProxy &&
        out.proxy !== undefined &&
        out.proxy !== null &&
        typeof out.proxy === "object" &&
        !containsUnknown(out.proxy)
    ) {
        out.proxy = withConnectionDefaults(out.proxy as Props, false);
    }
    return out;
}

/** Values as the user gave them (secret markers kept), limited to the type's inputs. */
function pickInputs(type: string, props: Props): Props {
    const out: Props = {};
    for (const k of INPUT_KEYS[type] ?? []) if (props[k] !== undefined && props[k] !== null) out[k] = props[k];
    return out;
}

function unsupportedType(type: string): Error {
    return new Error(
        UNSUPPORTED_TYPES.includes(type)
            ? `${type} is not supported by this TypeScript command provider (only command:local:Command and command:remote:Command)`
            : `unknown resource type ${type}`,
    );
}

/** State = inputs (connection forced secret) + stdout/stderr, secret when any input is (infer's default wiring). */
export function makeOutputs(type: string, inputs: Props, result: RunResult): Props {
    const outs = pickInputs(type, inputs);
    if (outs.connection !== undefined) outs.connection = secret(outs.connection);
    const anySecret = containsSecret(inputs);
    const mark = (v: unknown) => (anySecret && v !== undefined ? secret(v) : v);
    outs.stdout = mark(result.stdout);
    outs.stderr = mark(result.stderr);
    outs.assets = mark(result.assets);
    outs.archive = mark(result.archive);
    return compact(outs);
}

export function checkInputs(type: string, news: Props): provider.CheckResult {
    const failures: Failure[] = [];
    const keys = INPUT_KEYS[type];
    if (!keys) return { inputs: news, failures: [{ property: "", reason: unsupportedType(type).message }] };
    const plain = reveal(news) as Props;
    for (const k of Object.keys(plain)) {
        if (!keys.includes(k)) failures.push({ property: k, reason: `unknown property ${k} for ${type}` });
    }
    checkCommon(plain, failures);
    const inputs: Props = { ...news };
    if (inputs.addPreviousOutputInEnv === undefined || inputs.addPreviousOutputInEnv === null)
        inputs.addPreviousOutputInEnv = true;
    if (type === LOCAL_COMMAND) checkLocalOnly(plain, failures);
    if (type === REMOTE_COMMAND) {
        checkConnection(plain.connection, "connection", failures, true);
        const c = plain.connection;
        if (c !== undefined && c !== null && typeof c === "object" && !Array.isArray(c)) {
            inputs.connection = secret(withConnectionDefaults(c as Props, true));
        } else if (c !== undefined) {
            inputs.connection = secret(c);
        }
    }
    return { inputs: compact(inputs), failures };
}

export function diffInputs(type: string, olds: Props, news: Props): provider.DiffResult {
    const keys = INPUT_KEYS[type] ?? [];
    const changed: string[] = [];
    for (const k of keys) {
        const n = news[k];
        if (containsUnknown(n)) {
            changed.push(k);
            continue;
        }
        let a = reveal(olds[k]);
        let b = reveal(n);
        if (k === "addPreviousOutputInEnv") {
            a = a ?? true;
            b = b ?? true;
        }
        if (!deepEqual(a, b)) changed.push(k);
    }
    return {
        changes: changed.length > 0,
        replaces: changed.includes("triggers") ? ["triggers"] : [],
        deleteBeforeReplace: false,
    };
}

/**
 * A failed command's error names the command (as the Go provider does); when the command itself is a
 * secret, it is named "[secret]" instead so the error does not print it.
 */
export async function redactSecretCommand<T>(p: Promise<T>, command: string, props: Props): Promise<T> {
    const secretCommand = ["create", "update", "delete", "command"].some(
        (k) => isSecret(props[k]) && reveal(props[k]) === command,
    );
    try {
        return await p;
    } catch (e) {
        if (secretCommand && e instanceof Error)
            e.message = e.message.split(`running ${goQuote(command)}`).join('running "[secret]"');
        throw e;
    }
}

export interface Runner {
    local(
        command: string,
        inputs: LocalInputs,
        prev: Partial<RunResult> | undefined,
        logLine: (l: string) => void,
    ): Promise<RunResult>;
    remote(
        command: string,
        inputs: RemoteInputs,
        prev: Partial<RunResult> | undefined,
        logLine: (l: string) => void,
        log: RemoteLog,
    ): Promise<RunResult>;
}

const defaultRunner: Runner = { local: runLocal, remote: runRemote };

export function makeProvider(runner: Runner = defaultRunner, logger: EngineLogger = engineLogger): provider.Provider {
    const run = (type: string, urn: string, command: string, props: Props, prev?: Partial<RunResult>) =>
        redactSecretCommand(runUnredacted(type, urn, command, props, prev), command, props);
    const runUnredacted = (type: string, urn: string, command: string, props: Props, prev?: Partial<RunResult>) => {
        const plain = reveal(props) as Props;
        const logLine = (line: string) => logger.log("info", urn, line, true);
        if (type === LOCAL_COMMAND) return runner.local(command, plain as LocalInputs, prev, logLine);
        if (type === REMOTE_COMMAND) {
            // Dial progress is an ephemeral status line; setenv refusals are kept, as in the Go provider.
            const log: RemoteLog = (severity, m) => logger.log(severity, urn, m, severity === "info");
            return runner.remote(
                command,
                { ...(plain as unknown as RemoteInputs), connection: plain.connection as Connection },
                prev,
                logLine,
                log,
            );
        }
        throw unsupportedType(type);
    };
    const previous = (props: Props): Partial<RunResult> => {
        const str = (v: unknown) => (typeof v === "string" ? v : undefined);
        const obj = (v: unknown) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined);
        return {
            stdout: str(reveal(props.stdout)),
            stderr: str(reveal(props.stderr)),
            assets: obj(reveal(props.assets)),
            archive: obj(reveal(props.archive)),
        };
    };

    return {
        version: PROVIDER_VERSION,
        getSchema: async () => JSON.stringify(minimalSchema()),

        async check(urn, _olds, news) {
            return checkInputs(parseUrn(urn).type, (news ?? {}) as Props);
        },

        async diff(_id, urn, olds, news) {
            return diffInputs(parseUrn(urn).type, (olds ?? {}) as Props, (news ?? {}) as Props);
        },

        async create(urn, inputs) {
            const { type, name } = parseUrn(urn);
            if (!INPUT_KEYS[type]) throw unsupportedType(type);
            const id = name + randomBytes(4).toString("hex");
            const create = reveal((inputs as Props).create);
            let result: RunResult = { stdout: "", stderr: "" };
            if (typeof create === "string") result = await run(type, urn, create, inputs as Props);
            return { id, outs: makeOutputs(type, inputs as Props, result) };
        },

        async update(_id, urn, olds, news) {
            const { type } = parseUrn(urn);
            const prev = previous(olds as Props);
            const n = reveal(news) as Props;
            const cmd = typeof n.update === "string" ? n.update : typeof n.create === "string" ? n.create : undefined;
            let result: RunResult = { ...prev, stdout: prev.stdout ?? "", stderr: prev.stderr ?? "" };
            // Like the Go provider, outputs the command does not produce (assets/archive) keep their old values.
            if (cmd !== undefined) result = { ...result, ...(await run(type, urn, cmd, news as Props, prev)) };
            return { outs: makeOutputs(type, news as Props, result) };
        },

        async delete(_id, urn, props) {
            const { type } = parseUrn(urn);
            const del = reveal((props as Props).delete);
            if (typeof del !== "string") return;
            await run(type, urn, del, props as Props, previous(props as Props));
        },

        async read(id, urn, props) {
            const { type } = parseUrn(urn);
            // Like infer without a Read: state is what it is; the inputs are the input part of the state.
            return { id, props, inputs: pickInputs(type, (props ?? {}) as Props) };
        },

        async invoke(token, args) {
            if (token !== LOCAL_RUN) {
                throw new Error(
                    `function ${token} is not supported by this TypeScript command provider (only ${LOCAL_RUN})`,
                );
            }
            const a = (args ?? {}) as Props;
            const plain = reveal(a) as Props;
            const failures: Failure[] = [];
            if (typeof plain.command !== "string")
                failures.push({ property: "command", reason: "command is required and must be a string" });
            for (const k of Object.keys(plain))
                if (!RUN_INPUT_KEYS.includes(k)) failures.push({ property: k, reason: `unknown property ${k}` });
            checkCommon(plain, failures);
            checkLocalOnly(plain, failures);
            if (failures.length > 0) return { failures };
            const logLine = (line: string) => logger.log("info", "", line, true);
            const result = await redactSecretCommand(
                runner.local(plain.command as string, plain as LocalInputs, undefined, logLine),
                plain.command as string,
                { command: a.command },
            );
            const outs: Props = {};
            for (const k of RUN_INPUT_KEYS) if (a[k] !== undefined && a[k] !== null) outs[k] = a[k];
            const anySecret = containsSecret(a);
            const mark = (v: unknown) => (anySecret && v !== undefined ? secret(v) : v);
            outs.stdout = mark(result.stdout);
            outs.stderr = mark(result.stderr);
            if (result.assets) outs.assets = mark(result.assets);
            if (result.archive) outs.archive = mark(result.archive);
            return { outputs: outs };
        },
    };
}

/** Enough schema for tools that ask (the engine does not need it for Node programs). */
export function minimalSchema(): object {
    const str = { type: "string" };
    const strMap = { type: "object", additionalProperties: str };
    const strList = { type: "array", items: str };
    const logging = { $ref: "#/types/command:local:Logging" };
    const common = {
        create: str,
        update: str,
        delete: str,
        stdin: str,
        environment: strMap,
        addPreviousOutputInEnv: { type: "boolean", default: true },
        triggers: { type: "array", items: { $ref: "pulumi.json#/Any" } },
    };
    const conn = {
        host: str,
        port: { type: "number", default: 22 },
        user: { ...str, default: "root" },
        password: { ...str, secret: true },
        privateKey: { ...str, secret: true },
        privateKeyPassword: { ...str, secret: true },
        agentSocketPath: str,
        dialErrorLimit: { type: "integer", default: 10 },
        perDialTimeout: { type: "integer", default: 15 },
        hostKey: str,
    };
    const local = { ...common, interpreter: strList, dir: str, logging, assetPaths: strList, archivePaths: strList };
    const remote = {
        ...common,
        logging: { $ref: "#/types/command:remote:Logging" },
        connection: { $ref: "#/types/command:remote:Connection", secret: true },
    };
    const outs = { stdout: str, stderr: str };
    const assetOuts = {
        assets: { type: "object", additionalProperties: { $ref: "pulumi.json#/AssetOrArchive" } },
        archive: { $ref: "pulumi.json#/Archive" },
    };
    const loggingEnum = {
        type: "string",
        enum: LOGGING_VALUES.map((v) => ({ name: v, value: v })),
    };
    return {
        name: "command",
        version: PROVIDER_VERSION,
        resources: {
            [LOCAL_COMMAND]: {
                inputProperties: local,
                properties: { ...local, ...outs, ...assetOuts },
                required: ["stdout", "stderr"],
            },
            [REMOTE_COMMAND]: {
                inputProperties: remote,
                requiredInputs: ["connection"],
                properties: { ...remote, ...outs },
                required: ["connection", "stdout", "stderr"],
            },
        },
        types: {
            "command:local:Logging": loggingEnum,
            "command:remote:Logging": loggingEnum,
            "command:remote:ProxyConnection": { type: "object", properties: conn, required: ["host"] },
            "command:remote:Connection": {
                type: "object",
                properties: { ...conn, proxy: { $ref: "#/types/command:remote:ProxyConnection" } },
                required: ["host"],
            },
        },
        functions: {
            [LOCAL_RUN]: {
                inputs: {
                    properties: {
                        command: str,
                        interpreter: strList,
                        dir: str,
                        environment: strMap,
                        stdin: str,
                        logging,
                    },
                    required: ["command"],
                },
                outputs: { properties: { command: str, ...outs }, required: ["command", "stdout", "stderr"] },
            },
        },
    };
}

export { isSecret };
