// `npm run validate` (tsx tools/validate/cli.ts): the seed's multistore validation against the
// undercloud, the same flow the MultistoreValidation resource runs (tools/validate/validate.ts)
// over the program's one SSH transport, pinned as the program pins it (./ssh.ts). Progress on
// stderr; the last stdout line is ONE JSON object {"image", "stores", "sites": {<site>: {"copied",
// "snapProtected", "cowBoot", "error"?}}, "cleanup"?, ...}; exit 1 when any site, the flow or the
// cleanup fails, 2 on bad usage or a config the program's schema refuses.
//
//   --stack-config <Pulumi.<stack>.yaml>   the stack config, validated as the program validates it
//                                          (components/config.ts): the DCN sites, settings.validation
//                                          and the undercloud connection (files, not the secret key)
//   --connection <connection.json>         the undercloud instead (the lab's; default <repo>/.lab/connection.json
//                                          without --stack-config)
//   --sites dcn0,dcn1                      only these sites (default: every DCN site / every non-default store)
//   --rc <file>                            central rc on the undercloud (default: the central stack's
//                                          ~/overcloud-deploy/<stack>/<stack>rc, else ~/control-planerc)
//   --network none|auto|<net>              NIC of the test servers (default settings.validation.network, else none)
//   --keep                                 keep the image, the servers and the flavor
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
    ConfigError,
    PROJECT,
    TopologyPlan,
    centralRcFile,
    planTopology,
    validationTargets,
} from "../../components/config";
import type { SshTarget } from "../../providers/remote/ssh";
import { NETWORK_CHOICE, STACK_NAME, isRemotePath } from "../../providers/remote/shell";
import { connectUndercloud, readConnectionFile, targetFromConfig, targetFromConnection } from "./ssh";
import { type ValidationSite, validateMultistore } from "./validate";

const REPO = path.resolve(__dirname, "..", "..");
const USAGE =
    "usage: tsx tools/validate/cli.ts [--stack-config Pulumi.<stack>.yaml] [--connection connection.json] " +
    "[--sites a,b] [--rc ~/control-planerc] [--network none|auto|<net>] [--keep]";

/** Bad usage or a refused config: exit 2 with this message. */
export class UsageError extends Error {}

export interface CliPlan {
    target: SshTarget;
    sites?: ValidationSite[];
    rcFile: string;
    network: string;
    keep: boolean;
    copyTimeoutMs?: number;
    bootTimeoutMs?: number;
}

/** The stack config's `config:` map, read and validated with the program's schema. */
export function readStackConfig(file: string): { plan: TopologyPlan; undercloud: unknown } {
    let doc: { config?: Record<string, unknown> };
    try {
        doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    } catch (e) {
        throw new UsageError(`--stack-config ${file}: ${(e as Error).message.split("\n")[0]}`);
    }
    const cfg = doc.config ?? {};
    const get = (k: string) => cfg[`${PROJECT}:${k}`] ?? cfg[k];
    return { plan: planTopology(get("sites"), get("settings")), undercloud: get("undercloud") };
}

/** Parses and validates the command line (and the files it names) into what the flow needs. */
export function planCli(argv: string[]): CliPlan {
    const opt: Record<string, string | boolean> = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--keep") opt.keep = true;
        else if (["--stack-config", "--connection", "--sites", "--rc", "--network"].includes(a) && i + 1 < argv.length)
            opt[a.slice(2)] = argv[++i];
        else throw new UsageError(USAGE);
    }
    try {
        const stackCfg = typeof opt["stack-config"] === "string" ? readStackConfig(opt["stack-config"]) : undefined;
        const projectDir =
            typeof opt["stack-config"] === "string" ? path.dirname(path.resolve(opt["stack-config"])) : REPO;
        // Resolved and pinned as the program does (components/connection.ts).
        const target =
            typeof opt.connection === "string"
                ? targetFromConnection(readConnectionFile(opt.connection))
                : stackCfg
                  ? targetFromConfig(stackCfg.undercloud, projectDir)
                  : targetFromConnection(readConnectionFile(path.join(REPO, ".lab", "connection.json")));

        let sites: ValidationSite[] | undefined = stackCfg ? validationTargets(stackCfg.plan) : undefined;
        if (typeof opt.sites === "string") {
            const names = opt.sites.split(",").filter((x) => x);
            const bad = names.filter((n) => !STACK_NAME.test(n));
            if (bad.length)
                throw new UsageError(
                    `--sites: ${bad.map((b) => JSON.stringify(b)).join(", ")} not a stack name (${STACK_NAME})`,
                );
            if (stackCfg) {
                const unknown = names.filter((n) => !sites!.some((s) => s.name === n));
                if (unknown.length)
                    throw new UsageError(`--sites: ${unknown.join(", ")} not a DCN site of ${opt["stack-config"]}`);
                sites = sites!.filter((s) => names.includes(s.name));
            } else sites = names.map((name) => ({ name }));
        }
        const rcFile =
            typeof opt.rc === "string" ? opt.rc : stackCfg ? centralRcFile(stackCfg.plan) : "~/control-planerc";
        if (!isRemotePath(rcFile))
            throw new UsageError(`--rc: ${JSON.stringify(rcFile)} is not an absolute or ~/ path of safe characters`);
        const v = stackCfg?.plan.settings.validation;
        const network = typeof opt.network === "string" ? opt.network : (v?.network ?? "none");
        if (!NETWORK_CHOICE.test(network))
            throw new UsageError(`--network: ${JSON.stringify(network)} is not none, auto or a network name`);
        return {
            target,
            sites,
            rcFile,
            network,
            keep: opt.keep === true || v?.keep === true,
            copyTimeoutMs: v ? v.copyTimeoutMinutes * 60000 : undefined,
            bootTimeoutMs: v ? v.bootTimeoutMinutes * 60000 : undefined,
        };
    } catch (e) {
        if (e instanceof ConfigError || e instanceof UsageError) throw new UsageError(e.message);
        throw e;
    }
}

async function main(argv: string[]): Promise<number> {
    let p: CliPlan;
    try {
        p = planCli(argv);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        console.error(`validate: ${e.message}`);
        return 2;
    }
    const uc = await connectUndercloud(p.target);
    try {
        const report = await validateMultistore({
            exec: uc.exec,
            sites: p.sites,
            rcFile: p.rcFile,
            keep: p.keep,
            network: p.network,
            copyTimeoutMs: p.copyTimeoutMs,
            bootTimeoutMs: p.bootTimeoutMs,
            log: (l) => console.error(`validate: ${l}`),
        });
        if (report.error) console.error(`validate: FAILED: ${report.error}`);
        for (const [site, r] of Object.entries(report.sites))
            if (r.error) console.error(`validate: site ${site} FAILED: ${r.error}`);
        for (const c of report.cleanup ?? []) console.error(`validate: cleanup FAILED: ${c}`);
        console.error(`validate: ${report.ok ? "passed" : "FAILED"} in ${report.seconds} s`);
        console.log(JSON.stringify(report));
        return report.ok ? 0 : 1;
    } finally {
        uc.close();
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => {
            process.exitCode = code;
        },
        (e) => {
            console.error(`validate: ${(e as Error).message}`);
            console.log(JSON.stringify({ image: null, stores: [], sites: {}, ok: false, error: (e as Error).message }));
            process.exitCode = 1;
        },
    );
}
