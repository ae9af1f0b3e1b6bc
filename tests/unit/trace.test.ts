// The providers' optional timing trace (providers/remote/trace.ts, used by bench P1/P2).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { commandLabel, trace, traced } from "../../providers/remote/trace";

describe("trace", () => {
    it("labels a runner snippet by its first line and a command by its first words", () => {
        assert.equal(commandLabel("sh -c '# status\nd=\"$1\"' sh /x 0 50"), "sh -c # status");
        assert.equal(
            commandLabel("openstack overcloud status --stack dcn0 -f value -c x"),
            "openstack overcloud status --stack dcn0 -f",
        );
        assert.match(commandLabel("cat /" + "a".repeat(80)), /^cat \/a{11}…a{12}$/);
    });

    it("writes nothing without DCN_TRACE_FILE, one JSON line per event with it", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-trace-"));
        const file = path.join(dir, "t.jsonl");
        const saved = process.env.DCN_TRACE_FILE;
        try {
            delete process.env.DCN_TRACE_FILE;
            trace("x");
            assert.ok(!fs.existsSync(file));
            process.env.DCN_TRACE_FILE = file;
            const p = traced("T", {
                async create(inputs: { stack: string }) {
                    return { id: inputs.stack, outs: {} };
                },
                async diff(_id: string, olds: { stack: string }) {
                    return { changes: olds.stack !== "a" };
                },
            });
            assert.deepEqual(await p.create({ stack: "dcn0" }), { id: "dcn0", outs: {} });
            assert.deepEqual(await p.diff("id", { stack: "b" }), { changes: true });
            const lines = fs
                .readFileSync(file, "utf8")
                .trim()
                .split("\n")
                .map((l) => JSON.parse(l) as { ev: string; type: string; name: string; t: number });
            assert.deepEqual(
                lines.map((l) => `${l.ev} ${l.type} ${l.name}`),
                ["create-start T dcn0", "create-end T dcn0", "diff-start T b", "diff-end T b"],
            );
            assert.ok(lines.every((l) => typeof l.t === "number"));
        } finally {
            if (saved === undefined) delete process.env.DCN_TRACE_FILE;
            else process.env.DCN_TRACE_FILE = saved;
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
