// The multistore validation flow (tools/validate/validate.ts) run by a real shell against stub
// `glance`, `openstack` and `ssh` commands that log their argv: what an operator would run on a
// real cloud (the overcloud APIs with the rc, `server create --wait` on the run's own flavor with a
// `--nic`, timeouts; `rbd` only through a site node's `sudo cephadm shell`; cleanup servers →
// image → flavor), every value quoted, and values read back from the cloud (image and server ids)
// refused when they are not ids, before they reach a shell.
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { validateMultistore } from "../../tools/validate/validate";

const IMAGE = "0b0b6b3e-7a5e-4a43-9d0c-8f3c8b7f1a11";
const SERVER = "5d1c7e2a-1111-4c4c-8d8d-0123456789ab";

let dir: string;
let logFile: string;

/** A stub CLI in node: logs its argv, answers from the scenario file. */
const STUB = `#!/usr/bin/env node
const fs = require("fs");
const path = require("path");
const dir = process.env.STUB_DIR;
const tool = path.basename(process.argv[1]);
const args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify([tool, ...args]) + "\\n");
const sc = JSON.parse(fs.readFileSync(path.join(dir, "scenario.json"), "utf8"));
const table = (o) => "+-----+\\n| Property | Value |\\n+-----+\\n" + Object.entries(o).map(([k, v]) => "| " + k + " | " + v + " |").join("\\n") + "\\n+-----+\\n";
const w = (s) => process.stdout.write(s);
const words = args.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ");
if (tool === "glance") {
  if (args[0] === "stores-info") w(table({ stores: '[{"id": "central", "default": "true"}, {"id": "dcn0"}]' }));
  else if (args[0] === "image-create") w(table({ id: sc.imageId, status: "active", stores: "central" }));
  else if (args[0] === "image-show") w(table({ id: sc.imageId, stores: "central,dcn0" }));
  else if (args[0] === "image-import" || args[0] === "image-delete") w("");
  else { process.stderr.write("unexpected glance " + args.join(" ")); process.exit(2); }
} else if (tool === "openstack") {
  if (words === "flavor create") w(JSON.stringify({ id: "f-1", name: args[args.length - 1] }));
  else if (words === "server create") w(JSON.stringify({ id: sc.serverId, status: "ACTIVE", "OS-EXT-AZ:availability_zone": "dcn0" }));
  else if (words === "server show") w(sc.serverId + "\\n");
  else if (words === "server delete" || words === "flavor delete") w("");
  else { process.stderr.write("unexpected openstack " + args.join(" ")); process.exit(2); }
} else if (tool === "ssh") {
  const remote = args[args.length - 1];
  if (/@snap$/.test(remote)) w('{"protected": "true"}');
  else if (/_disk$/.test(remote)) w(JSON.stringify({ parent: { pool: "images", image: sc.imageId, snapshot: "snap" } }));
  else { process.stderr.write("unexpected node command " + remote); process.exit(2); }
}
`;

function scenario(s: { imageId: string; serverId: string }): void {
    fs.writeFileSync(path.join(dir, "scenario.json"), JSON.stringify(s));
    fs.rmSync(logFile, { force: true });
}
const calls = (): string[][] =>
    fs.existsSync(logFile)
        ? fs
              .readFileSync(logFile, "utf8")
              .trim()
              .split("\n")
              .map((l) => JSON.parse(l) as string[])
        : [];

/** The undercloud: a bash (as its login shell runs commands) whose HOME has the rc file and the stack's deployed Ceph spec, the stubs on PATH. */
function exec(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const env = { PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, HOME: dir, STUB_DIR: dir };
        const p = spawn("bash", ["-c", command], { env });
        let stdout = "";
        let stderr = "";
        p.stdout.on("data", (d) => (stdout += d));
        p.stderr.on("data", (d) => (stderr += d));
        p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

const run = (log: string[] = []) =>
    validateMultistore({
        exec,
        sites: [{ name: "dcn0", store: "dcn0", az: "dcn0", stack: "dcn0", cephCluster: "dcn0" }],
        rcFile: "~/control-planerc",
        copyTimeoutMs: 5000,
        log: (l) => log.push(l),
    });

describe("multistore validation flow, as on a real cloud", () => {
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "validate-flow-"));
        logFile = path.join(dir, "calls.jsonl");
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        for (const t of ["glance", "openstack", "ssh"]) fs.writeFileSync(path.join(bin, t), STUB, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "control-planerc"), `export PATH="${bin}:$PATH"\n`);
        fs.mkdirSync(path.join(dir, "overcloud-deploy", "dcn0"), { recursive: true });
        fs.writeFileSync(
            path.join(dir, "overcloud-deploy", "dcn0", "generated_ceph_spec.yaml"),
            "addr: 192.168.24.14\nhostname: oc0-ceph-1\nlabels: [_admin, mon, mgr, osd]\nservice_type: host\n---\n" +
                "addr: 192.168.24.15\nhostname: oc0-ceph-2\nlabels: [osd]\nservice_type: host\n",
        );
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("boots with --wait on its own flavor and a NIC; rbd through the site's mon node; cleans up in order", async () => {
        scenario({ imageId: IMAGE, serverId: SERVER });
        const report = await run();
        assert.deepEqual(report.sites, { dcn0: { copied: true, snapProtected: true, cowBoot: true } });
        assert.equal(report.ok, true, JSON.stringify(report));
        const c = calls();
        const key = (x: string[]) =>
            x[0] === "ssh" ? `ssh ${/@snap$|_disk$/.exec(x[x.length - 1])?.[0]}` : x.slice(0, 3).join(" ");
        const order = c.map(key).filter((k) => !k.startsWith("glance image-show"));
        assert.deepEqual(order, [
            "glance stores-info",
            `glance image-create --disk-format`,
            `glance image-import ${IMAGE}`,
            "openstack flavor create",
            "ssh @snap",
            "openstack server create",
            "ssh _disk",
            "openstack server show",
            "openstack server delete",
            `glance image-delete ${IMAGE}`,
            "openstack flavor delete",
        ]);
        const create = c.find((x) => x.slice(0, 3).join(" ") === "openstack server create")!;
        const flavor = c.find((x) => x.slice(0, 3).join(" ") === "openstack flavor create")!;
        for (const [opt, v] of [
            ["--flavor", "f-1"],
            ["--nic", "none"],
            ["--availability-zone", "dcn0"],
            ["--image", IMAGE],
        ])
            assert.equal(create[create.indexOf(opt) + 1], v, opt);
        assert.ok(create.includes("--wait"));
        assert.match(flavor[flavor.length - 1], /^validate-[0-9a-f]{8}$/);
        assert.deepEqual(
            c.find((x) => x.slice(0, 3).join(" ") === "openstack server delete"),
            ["openstack", "server", "delete", "--wait", SERVER],
        );
        // rbd never on the undercloud: on the mon node (not the OSD-only one), as the cluster's admin.
        const snap = c.find((x) => x[0] === "ssh" && /@snap$/.test(x[x.length - 1]))!;
        assert.ok(snap.includes("tripleo-admin@192.168.24.14"));
        const remote = execFileSync("sh", ["-c", `printf '%s\\n' ${snap[snap.length - 1]}`], { encoding: "utf8" });
        assert.deepEqual(remote.trimEnd().split("\n"), [
            "sudo",
            "cephadm",
            "shell",
            "--config",
            "/etc/ceph/dcn0.conf",
            "--keyring",
            "/etc/ceph/dcn0.client.admin.keyring",
            "--",
            "rbd",
            "info",
            "--format",
            "json",
            `images/${IMAGE}@snap`,
        ]);
        assert.ok(!c.some((x) => x[0] === "rbd"));
    });

    it("an image id read back from Glance that is not an id never reaches a shell", async () => {
        const pwned = path.join(dir, "pwned");
        scenario({ imageId: `$(touch ${pwned})`, serverId: SERVER });
        const report = await run();
        assert.equal(report.ok, false);
        assert.match(report.error ?? "", /image-create gave no active image/);
        assert.ok(!fs.existsSync(pwned), "a command substitution from Glance's answer ran");
        assert.ok(!calls().some((x) => x.join(" ").includes("touch")), "the value was passed on");
    });

    it("a server id read back from Nova that is not an id is refused for the RBD check", async () => {
        const pwned = path.join(dir, "pwned2");
        scenario({ imageId: IMAGE, serverId: `x; touch ${pwned}` });
        const report = await run();
        assert.equal(report.sites.dcn0.cowBoot, false);
        assert.match(report.sites.dcn0.error ?? "", /gave no server id/);
        assert.ok(!fs.existsSync(pwned));
        assert.ok(!calls().some((x) => x[0] === "ssh" && x.join(" ").includes("touch")));
    });

    it("refuses unsafe options before running anything", async () => {
        scenario({ imageId: IMAGE, serverId: SERVER });
        for (const bad of [
            { rcFile: "~/rc; reboot" },
            { network: "a b" },
            { sites: [{ name: "dcn0", az: "dcn0 $(id)" }] },
            { sites: [{ name: "dcn0", cephCluster: "dcn-0" }] },
        ]) {
            const r = await validateMultistore({ exec, ...bad });
            assert.equal(r.ok, false);
            assert.ok(r.error, JSON.stringify(bad));
        }
        assert.deepEqual(calls(), []);
    });
});
