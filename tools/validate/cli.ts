// `npm run validate` (tsx tools/validate/cli.ts): the seed's multistore validation against the
// undercloud. Progress on stderr; the last stdout line is ONE JSON object
// {"image", "stores", "sites": {<site>: {"copied", "snapProtected", "cowBoot", "error"?}}, ...};
// exit 1 when any site (or the flow) fails, 2 on bad usage.
//
//   --stack-config <Pulumi.<stack>.yaml>   sites (kind dcn: name, cephCluster, az, glanceStore) and
//                                          undercloud connection (connectionFile, host/port/user, hostKey or
//                                          knownHostsFile, privateKeyFile), resolved as the program resolves it
//   --connection <connection.json>         default <repo>/.lab/connection.json (the lab)
//   --sites dcn0,dcn1                      only these sites (default: all DCN sites / all non-default stores)
//   --rc <file>                            central rc on the undercloud (default ~/control-planerc)
//   --keep                                 keep the image and the servers
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import type { SshTarget } from "../../providers/remote/ssh";
import { connectUndercloud, readConnectionFile, targetFromConfig } from "./ssh";
import { type ValidationSite, validateMultistore } from "./validate";

const REPO = path.resolve(__dirname, "..", "..");
const USAGE =
    "usage: tsx tools/validate/cli.ts [--stack-config Pulumi.<stack>.yaml] [--connection connection.json] [--sites a,b] [--rc ~/control-planerc] [--keep]";

interface StackConfigSite {
    name: string;
    kind?: string;
    cephCluster?: string;
    az?: string;
    glanceStore?: string;
}

export function readStackConfig(
    file: string,
    withConnection = true,
): { sites?: ValidationSite[]; connection?: SshTarget } {
    const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const cfg = doc.config ?? {};
    const key = (k: string) => Object.keys(cfg).find((x) => x.endsWith(`:${k}`) || x === k);
    const sitesKey = key("sites");
    const sites = sitesKey
        ? (cfg[sitesKey] as StackConfigSite[])
              .filter((s) => s.kind !== "central")
              .map((s) => ({
                  name: s.name,
                  stack: s.name,
                  store: s.glanceStore ?? s.name,
                  az: s.az ?? s.name,
                  cephCluster: s.cephCluster,
              }))
        : undefined;
    const ucKey = key("undercloud");
    // The same resolution as the program's (components/connection.ts): host key pin, key file.
    const connection = ucKey && withConnection ? targetFromConfig(cfg[ucKey], REPO) : undefined;
    return { sites, connection };
}

async function main(argv: string[]): Promise<number> {
    const opt: Record<string, string | boolean> = {};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--keep") opt.keep = true;
        else if (["--stack-config", "--connection", "--sites", "--rc"].includes(a) && i + 1 < argv.length)
            opt[a.slice(2)] = argv[++i];
        else {
            console.error(USAGE);
            return 2;
        }
    }
    const stackCfg =
        typeof opt["stack-config"] === "string"
            ? readStackConfig(opt["stack-config"], typeof opt.connection !== "string")
            : {};
    const connection =
        typeof opt.connection === "string"
            ? readConnectionFile(opt.connection)
            : (stackCfg.connection ?? readConnectionFile(path.join(REPO, ".lab", "connection.json")));
    let sites = stackCfg.sites;
    if (typeof opt.sites === "string") {
        const names = opt.sites.split(",").filter((x) => x);
        sites = names.map((n) => stackCfg.sites?.find((s) => s.name === n) ?? { name: n });
    }
    const uc = await connectUndercloud(connection);
    try {
        const report = await validateMultistore({
            exec: uc.exec,
            sites,
            rcFile: typeof opt.rc === "string" ? opt.rc : undefined,
            keep: opt.keep === true,
            log: (l) => console.error(`validate: ${l}`),
        });
        if (report.error) console.error(`validate: FAILED: ${report.error}`);
        for (const [site, r] of Object.entries(report.sites))
            if (r.error) console.error(`validate: site ${site} FAILED: ${r.error}`);
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
