// `npm run logs -- <site> [step]` (tsx tools/logs.ts): the full output of the steps `pulumi up` ran,
// as the providers keep it locally (providers/remote/report.ts): `logs/<pulumi stack>/<site>/<step>.log`,
// redacted, 0600. The progress printed during `up` is only phase changes and heartbeats; this is
// everything the undercloud's job printed (its own copy: `~/.dcn-jobs/done/<job>/out.log`).
//
//   npm run logs                       list every step log (stack, site, step, lines, last written)
//   npm run logs -- dcn0               print every step log of site dcn0, oldest first
//   npm run logs -- dcn0 deploy        print dcn0's deploy log (`--prev`: the run before)
//   --stack <name>                     the Pulumi stack (default: $PULUMI_STACK, else the only one, else dev)
//   --tail <n>                         only the last n lines of each log
//
// A site matches its own directory and a multi-stack step's (`dcn0+dcn1`, the DCN Ceph export).
// Environment: DCN_LOG_DIR (default <repo>/logs), as the providers.
import * as fs from "node:fs";
import * as path from "node:path";

const USAGE = "usage: npm run logs -- [<site> [step]] [--stack <name>] [--tail <n>] [--prev]";

interface Args {
    site?: string;
    step?: string;
    stack?: string;
    tail?: number;
    prev: boolean;
}

export function parseArgs(argv: string[]): Args {
    const a: Args = { prev: false };
    const pos: string[] = [];
    for (let i = 0; i < argv.length; i++) {
        const v = argv[i];
        if (v === "--stack") {
            a.stack = argv[++i];
        } else if (v === "--tail") {
            a.tail = Number(argv[++i]);
            if (!Number.isInteger(a.tail) || a.tail < 1) {
                throw new Error(`--tail needs a positive number\n${USAGE}`);
            }
        } else if (v === "--prev") {
            a.prev = true;
        } else if (v === "-h" || v === "--help") {
            throw new Error(USAGE);
        } else if (v.startsWith("-")) {
            throw new Error(`unknown option ${v}\n${USAGE}`);
        } else {
            pos.push(v);
        }
    }
    if (pos.length > 2) {
        throw new Error(USAGE);
    }
    [a.site, a.step] = pos;
    return a;
}

/** The step logs of a stack's directory: site dir, step, path (previous runs' copies left out). */
export function stepLogs(stackDir: string): Array<{ site: string; step: string; file: string }> {
    if (!fs.existsSync(stackDir)) {
        return [];
    }
    const out: Array<{ site: string; step: string; file: string }> = [];
    for (const site of fs.readdirSync(stackDir).sort()) {
        const dir = path.join(stackDir, site);
        if (!fs.statSync(dir).isDirectory()) {
            continue;
        }
        for (const f of fs.readdirSync(dir).sort()) {
            if (f.endsWith(".log") && !f.endsWith(".prev.log")) {
                out.push({ site, step: f.slice(0, -".log".length), file: path.join(dir, f) });
            }
        }
    }
    return out;
}

/** True when a site directory (`dcn0`, or a multi-stack step's `dcn0+dcn1`) belongs to `site`. */
export function siteMatches(dir: string, site: string): boolean {
    return dir === site || dir.split("+").includes(site);
}

function main(): number {
    let args: Args;
    try {
        args = parseArgs(process.argv.slice(2));
    } catch (err) {
        console.error((err as Error).message);
        return 2;
    }
    const root = process.env.DCN_LOG_DIR ?? path.resolve(__dirname, "..", "logs");
    const stacks = fs.existsSync(root) ? fs.readdirSync(root).filter((s) => !s.startsWith(".")) : [];
    const stack = args.stack ?? process.env.PULUMI_STACK ?? (stacks.length === 1 ? stacks[0] : "dev");
    const logs = stepLogs(path.join(root, stack));
    if (logs.length === 0) {
        console.error(
            `no step logs under ${path.join(root, stack)} (stacks with logs: ${stacks.join(", ") || "none"})`,
        );
        return 1;
    }
    if (!args.site) {
        for (const l of logs) {
            const st = fs.statSync(l.file);
            const lines = fs.readFileSync(l.file, "utf8").split("\n").length - 1;
            console.log(
                `${l.site.padEnd(20)} ${l.step.padEnd(14)} ${String(lines).padStart(7)} lines  ${st.mtime.toISOString()}  ${path.relative(process.cwd(), l.file)}`,
            );
        }
        return 0;
    }
    const chosen = logs
        .filter((l) => siteMatches(l.site, args.site!) && (!args.step || l.step === args.step))
        .map((l) => ({ ...l, file: args.prev ? l.file.replace(/\.log$/, ".prev.log") : l.file }))
        .filter((l) => fs.existsSync(l.file))
        .sort((a, b) => fs.statSync(a.file).mtimeMs - fs.statSync(b.file).mtimeMs);
    if (chosen.length === 0) {
        const have = logs.filter((l) => siteMatches(l.site, args.site!)).map((l) => l.step);
        console.error(
            `no ${args.prev ? "previous " : ""}log of ${args.site}${args.step ? ` ${args.step}` : ""} in stack ${stack}` +
                (have.length
                    ? ` (steps: ${have.join(", ")})`
                    : ` (sites: ${[...new Set(logs.map((l) => l.site))].join(", ")})`),
        );
        return 1;
    }
    for (const l of chosen) {
        const text = fs.readFileSync(l.file, "utf8");
        const lines = text.split("\n");
        const shown = args.tail ? lines.slice(-args.tail - 1).join("\n") : text;
        if (chosen.length > 1 || args.tail) {
            console.log(`==> ${path.relative(process.cwd(), l.file)} <==`);
        }
        process.stdout.write(shown.endsWith("\n") || shown === "" ? shown : shown + "\n");
    }
    return 0;
}

if (require.main === module) {
    process.exitCode = main();
}
