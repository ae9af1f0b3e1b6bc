// assetPaths / archivePaths of command:local:Command and command:local:run: after the command ran,
// files under its directory matching the globs become `assets` (a map of path assets) and `archive`
// (an asset archive of the same files). Glob rules are gobwas/glob's with '/' as separator, as in
// the Go provider: `*` and `?` stay within a path segment, `**` crosses segments, `[...]`/`[!...]`
// classes, `{a,b}` alternatives, `\` escapes; a leading `!` makes the rule an exclusion; rules apply
// in order; only files (not directories) are returned, paths relative to the directory.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { SPECIAL_SIG } from "./values";

export const ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17";
export const ARCHIVE_SIG = "0def7320c3a5731c473e5ecbe6d01bc7";

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Compiles a gobwas/glob pattern (separator '/') to an anchored RegExp; throws on a malformed one. */
export function globToRegExp(glob: string): RegExp {
    let re = "";
    let i = 0;
    let braces = 0;
    while (i < glob.length) {
        const c = glob[i]!;
        if (c === "\\") {
            if (i + 1 >= glob.length) throw new Error(`malformed glob ${JSON.stringify(glob)}: trailing \\`);
            re += escapeRe(glob[i + 1]!);
            i += 2;
        } else if (c === "*") {
            if (glob[i + 1] === "*") {
                re += ".*";
                i += 2;
            } else {
                re += "[^/]*";
                i += 1;
            }
        } else if (c === "?") {
            re += "[^/]";
            i += 1;
        } else if (c === "[") {
            const end = glob.indexOf("]", i + 2);
            if (end < 0) throw new Error(`malformed glob ${JSON.stringify(glob)}: unclosed [`);
            let body = glob.slice(i + 1, end);
            const negate = body.startsWith("!");
            if (negate) body = body.slice(1);
            const cls = body.replace(/[\]\\^]/g, "\\$&");
            re += negate ? `[^/${cls}]` : `[${cls}]`;
            i = end + 1;
        } else if (c === "{") {
            re += "(?:";
            braces++;
            i += 1;
        } else if (c === "}" && braces > 0) {
            re += ")";
            braces--;
            i += 1;
        } else if (c === "," && braces > 0) {
            re += "|";
            i += 1;
        } else {
            re += escapeRe(c);
            i += 1;
        }
    }
    if (braces > 0) throw new Error(`malformed glob ${JSON.stringify(glob)}: unclosed {`);
    return new RegExp(`^${re}$`);
}

/** Walks `dir` (not following symlinked directories) and returns the matching files in order. */
export function globFiles(dir: string, globs: string[]): Map<string, string> {
    const rules = globs.map((g) => {
        const exclude = g.startsWith("!");
        return { exclude, re: globToRegExp(exclude ? g.slice(1) : g) };
    });
    const found = new Map<string, string>();
    const walk = (rel: string) => {
        const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
        entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        for (const e of entries) {
            const p = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) {
                walk(p);
                continue;
            }
            for (const r of rules) {
                if (!r.re.test(p)) continue;
                if (r.exclude) found.delete(p);
                else found.set(p, path.join(dir, p));
            }
        }
    };
    walk("");
    return found;
}

export function fileAsset(file: string): Record<string, unknown> {
    const hash = createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    return { [SPECIAL_SIG]: ASSET_SIG, hash, path: file };
}

export function assetArchive(assets: Record<string, unknown>): Record<string, unknown> {
    return { [SPECIAL_SIG]: ARCHIVE_SIG, assets };
}

export interface AssetOutputs {
    assets?: Record<string, unknown>;
    archive?: Record<string, unknown>;
}

export function collectAssets(dir: string, assetPaths?: string[], archivePaths?: string[]): AssetOutputs {
    const out: AssetOutputs = {};
    if (assetPaths) {
        out.assets = {};
        for (const [rel, abs] of globFiles(dir, assetPaths)) out.assets[rel] = fileAsset(abs);
    }
    if (archivePaths) {
        const assets: Record<string, unknown> = {};
        for (const [rel, abs] of globFiles(dir, archivePaths)) assets[rel] = fileAsset(abs);
        out.archive = assetArchive(assets);
    }
    return out;
}
