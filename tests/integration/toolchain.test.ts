// The proof that the offline toolchain works: the built CLI, the Node.js language host and the
// dynamic-provider plugin run preview, up, refresh and destroy of a dynamic resource (next to an
// @pulumi/command resource) with a file backend and every network attempt pointed at a dead proxy.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { projectRoot, pulumiWorkspace, runCommand, toolchainBuilt, type PulumiWorkspace } from "../support/pulumi";

const fixture = path.join(projectRoot, "tests", "fixtures", "toolchain-program");
const withCommand = fs.existsSync(path.join(projectRoot, ".pulumi", "bin", "pulumi-resource-command"));

describe("offline Pulumi toolchain", { skip: !toolchainBuilt() && "toolchain not built (npm run setup)" }, () => {
    let ws: PulumiWorkspace;
    let dir: string;

    before(async () => {
        ws = await pulumiWorkspace(fixture);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-proof-"));
        await ws.ok(["config", "set", "dir", dir]);
        await ws.ok(["config", "set", "withCommand", String(withCommand)]);
    });
    after(() => {
        ws?.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("prints the pinned version", async () => {
        const versions = fs.readFileSync(path.join(projectRoot, "tools", "pulumi", "versions.env"), "utf8");
        const pinned = /^PULUMI_VERSION=(\S+)/m.exec(versions)?.[1];
        const { stdout } = await ws.ok(["version"]);
        assert.equal(stdout.trim(), pinned);
    });

    it("previews without touching anything", async () => {
        const { stdout } = await ws.ok(["preview", "--non-interactive"]);
        assert.match(stdout, /\+ .*toolchain:LocalFile.*proof.*create/);
        assert.equal(fs.existsSync(path.join(dir, "proof.txt")), false);
    });

    it("creates the resources", async () => {
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        assert.equal(fs.readFileSync(path.join(dir, "proof.txt"), "utf8"), "hello from a dynamic provider\n");
        const { stdout } = await ws.ok(["stack", "output", "--json"]);
        const outputs = JSON.parse(stdout);
        assert.equal(outputs.bytes, 30);
        if (withCommand) assert.equal(outputs.commandStdout, "30");
    });

    it("refreshes and previews with no changes", async () => {
        await ws.ok(["refresh", "--yes", "--non-interactive", "--expect-no-changes"]);
        await ws.ok(["preview", "--non-interactive", "--expect-no-changes"]);
    });

    it("sees drift on refresh and repairs it on up", async () => {
        fs.writeFileSync(path.join(dir, "proof.txt"), "edited by hand\n");
        const drift = await ws.run(["refresh", "--yes", "--non-interactive", "--expect-no-changes"]);
        assert.notEqual(drift.code, 0, "refresh must report the out-of-band edit");
        await ws.ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
        assert.equal(fs.readFileSync(path.join(dir, "proof.txt"), "utf8"), "hello from a dynamic provider\n");
    });

    it("destroys everything", async () => {
        await ws.ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
        assert.equal(fs.existsSync(path.join(dir, "proof.txt")), false);
        if (withCommand) assert.equal(fs.existsSync(path.join(dir, "command-deleted")), true);
        const { stdout } = await ws.ok(["stack", "export"]);
        assert.deepEqual(JSON.parse(stdout).deployment.resources ?? [], []);
    });

    it("never reached for the network", async () => {
        // The workspace's HTTP(S)_PROXY is a closed port: a plugin download or registry call would
        // have failed a step above. The plugin cache must also still be empty.
        const plugins = path.join(ws.env.PULUMI_HOME as string, "plugins");
        const cached = fs.existsSync(plugins) ? fs.readdirSync(plugins).filter((f) => !f.startsWith(".")) : [];
        assert.deepEqual(cached, []);
        const which = await runCommand("sh", ["-c", "command -v pulumi"], { cwd: projectRoot, env: ws.env });
        assert.equal(which.stdout.trim(), path.join(projectRoot, ".pulumi", "bin", "pulumi"));
    });
});
