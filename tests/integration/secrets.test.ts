// Secrets never leak (issue 6): a full `up`, `refresh` and `destroy` of the seed on a private lab,
// then the REAL secret values (every cephx key of the lab's Ceph clusters, every stack password
// from ~/overcloud-deploy/<stack>/<stack>-passwords.yaml, the operator's private key) are searched
// in `pulumi stack export` (without --show-secrets), the stdout/stderr of every Pulumi command,
// every file Pulumi wrote (PULUMI_HOME, including logs, and the file backend's checkpoints,
// history and backups) and the lab's command log. Values are compared, never printed.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { PulumiResult, PulumiWorkspace, pulumiWorkspace, toolchainBuilt } from "../support/pulumi";
import { PrivateLab, buildProgram, devConfig, programFixture, startPrivateLab, writeStackConfig } from "../support/lab";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-secrets-"));
const STACK = "sec";
/** A cephx secret: 40 base64 characters ending in `==` (the undercloud's own check), standing alone. */
const CEPHX = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{38}==(?![A-Za-z0-9+/=])/g;
let lab: PrivateLab;
let ws: PulumiWorkspace;

/** Everything we scan: name → text. */
const haystacks = new Map<string, string>();
/** The secret values: label (no value in it) → value. */
const secrets = new Map<string, string>();
let passwordsText = "";

function walk(dir: string, skip: (p: string) => boolean = () => false): string[] {
    if (!fs.existsSync(dir)) {
        return [];
    }
    const out: string[] = [];
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (skip(p)) {
            continue;
        }
        if (e.isDirectory()) {
            out.push(...walk(p, skip));
        } else if (e.isFile() && fs.statSync(p).size < 20_000_000) {
            out.push(p);
        }
    }
    return out;
}

async function step(name: string, args: string[]): Promise<PulumiResult> {
    const began = Date.now();
    const r = await ws.run(args);
    console.log(`pulumi ${args[0]}: ${((Date.now() - began) / 1000).toFixed(1)} s`);
    haystacks.set(`${name} stdout`, r.stdout);
    haystacks.set(`${name} stderr`, r.stderr);
    if (r.code !== 0) {
        // The output may hold what we look for: the failure is reported without it.
        throw new Error(`pulumi ${args[0]} exited ${r.code} (output kept for the scan)`);
    }
    return r;
}

/** Reads the real secrets from the lab while the cloud exists. */
function collectSecrets(): void {
    const labFiles = walk(lab.dir, (p) => p.endsWith("commands.jsonl") || p.includes(`${path.sep}bin${path.sep}`));
    const keys = new Set<string>();
    for (const f of labFiles) {
        for (const m of fs.readFileSync(f, "latin1").matchAll(CEPHX)) {
            keys.add(m[0]);
        }
    }
    [...keys].forEach((k, i) => secrets.set(`cephx key #${i + 1}`, k));
    const home = lab.connection().home;
    for (const stack of ["control-plane", "dcn0", "dcn1"]) {
        const f = path.join(home, "overcloud-deploy", stack, `${stack}-passwords.yaml`);
        assert.ok(fs.existsSync(f), `${stack}-passwords.yaml missing after up`);
        if (stack === "control-plane") {
            passwordsText = fs.readFileSync(f, "utf8");
        }
        const doc = parse(fs.readFileSync(f, "utf8")) as { parameter_defaults?: Record<string, unknown> };
        const values = Object.entries(doc.parameter_defaults ?? {}).filter(
            ([, v]) => typeof v === "string" && v.length >= 10,
        );
        assert.ok(values.length >= 5, `${stack}: only ${values.length} passwords found`);
        for (const [k, v] of values) {
            if (k === "CephClusterFSID") {
                continue; // the cluster id is public (the `cephFsid` stack output), not a secret
            }
            secrets.set(`${stack} password ${k}`, v as string);
        }
    }
    const conn = lab.connection();
    const pub = fs.readFileSync(`${conn.privateKeyPath}.pub`, "utf8");
    const lines = fs.readFileSync(conn.privateKeyPath, "utf8").trim().split("\n");
    const body = lines.filter((l) => !l.startsWith("-----")).join("");
    secrets.set("private key body", body);
    lines
        .filter((l) => !l.startsWith("-----"))
        .forEach((l, i) => {
            if (l.length >= 20) {
                secrets.set(`private key line ${i + 1}`, l);
            }
        });
    // Distinctive slices of the body (skipping any that also occur in the public key line).
    for (let off = 40; off + 24 <= body.length; off += 37) {
        const s = body.slice(off, off + 24);
        if (!pub.includes(s)) {
            secrets.set(`private key slice @${off}`, s);
        }
    }
}

describe("no secret leaks", { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" }, () => {
    before(async () => {
        buildProgram();
        lab = await startPrivateLab(path.join(root, "lab"));
        const project = programFixture(path.join(root, "project"), lab.dir);
        const config = devConfig();
        // The multistore validation flow is covered elsewhere; here it would only cost time.
        delete (config["dcn-storage:settings"] as Record<string, unknown>).validation;
        writeStackConfig(project, STACK, config);
        ws = await pulumiWorkspace(project, STACK);
    });

    after(() => {
        lab?.stop();
        ws?.dispose();
        fs.rmSync(root, { recursive: true, force: true });
    });

    it("up, refresh and destroy of the seed; the secret values read from the lab before destroy", async () => {
        await step("up", ["up", "--yes", "--non-interactive", "--skip-preview"]);
        collectSecrets();
        await step("stack output", ["stack", "output", "--json"]);
        await step("refresh", ["refresh", "--yes", "--non-interactive", "--skip-preview"]);
        haystacks.set("stack export after up+refresh", (await ws.ok(["stack", "export"])).stdout);
        await step("destroy", ["destroy", "--yes", "--non-interactive", "--skip-preview"]);
        haystacks.set("stack export after destroy", (await ws.ok(["stack", "export"])).stdout);
        assert.deepEqual(JSON.parse(lab.lab("state", "--json")).stacks, [], "destroy left stacks");
    });

    it("the secrets were found in the lab (the scan below has something to look for)", () => {
        const count = (p: string) => [...secrets.keys()].filter((k) => k.startsWith(p)).length;
        assert.ok(count("cephx key") >= 6, `only ${count("cephx key")} cephx keys`);
        console.log(`${count("cephx key")} cephx keys, ${count("")} secret values in all`);
        assert.ok(count("control-plane password") >= 5);
        assert.ok(count("private key slice") >= 3);
        // The comparison does find them where they are: every control-plane password in its own file.
        const missed = [...secrets].filter(
            ([k, v]) => k.startsWith("control-plane password") && !passwordsText.includes(v),
        );
        assert.deepEqual(
            missed.map(([k]) => k),
            [],
        );
    });

    it("no secret value in the stack export, the Pulumi outputs and files, or the lab's command log", () => {
        const pulumiDirs = [ws.env.PULUMI_HOME!, ws.env.PULUMI_BACKEND_URL!.replace(/^file:\/\//, "")];
        for (const d of pulumiDirs) {
            for (const f of walk(d, (p) => p.includes(`${path.sep}plugins${path.sep}`))) {
                haystacks.set(`file ${path.relative(root, f)}`, fs.readFileSync(f, "latin1"));
            }
        }
        for (const f of walk(os.tmpdir(), (p) => !p.startsWith(path.join(os.tmpdir(), "pulumi")))) {
            // Pulumi's own glog files (/tmp/pulumi*.log), if any were written.
            haystacks.set(`file ${f}`, fs.readFileSync(f, "latin1"));
        }
        haystacks.set("lab commands.jsonl", fs.readFileSync(path.join(lab.dir, "commands.jsonl"), "utf8"));
        haystacks.set("lab log --json", lab.lab("log", "--json"));
        assert.ok(
            [...haystacks.keys()].some((k) => k.includes("checkpoint") || k.includes("stacks")),
            "the backend's files are scanned",
        );
        assert.ok((haystacks.get("lab commands.jsonl") ?? "").length > 1000, "the lab's command log is scanned");
        const found: string[] = [];
        for (const [label, value] of secrets) {
            for (const [where, text] of haystacks) {
                if (text.includes(value)) {
                    found.push(`${label} found in ${where}`);
                }
            }
        }
        console.log(`${secrets.size} secret values searched in ${haystacks.size} places`);
        assert.deepEqual(found, [], `secret values leaked (${haystacks.size} places scanned)`);
    });
});
