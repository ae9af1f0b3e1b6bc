// The bad-input table through the config module (what index.ts runs before any resource exists):
// every malformed dev-stack config is refused with a ConfigError whose message names the key.
// The `live` subset also runs through the real CLI against a lab (tests/integration/bad-input.test.ts).
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../../components/config";
import {
    ALL_CASES,
    METACHAR_CASES,
    STRUCTURAL_CASES,
    UNDERCLOUD_FILE_CASES,
    baseConfig,
    validateStackConfig,
} from "../support/bad-input-cases";

// A project dir with a lab-like .lab (connection.json, known_hosts, key): the dev config's paths resolve.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dcn-badinput-"));
const ssh = path.join(dir, ".lab", "ssh");
fs.mkdirSync(ssh, { recursive: true });
const hostLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
fs.writeFileSync(path.join(ssh, "known_hosts"), `[127.0.0.1]:2222 ${hostLine}\n`);
fs.writeFileSync(path.join(ssh, "id_ed25519"), "KEY");
fs.writeFileSync(
    path.join(dir, ".lab", "connection.json"),
    JSON.stringify({
        host: "127.0.0.1",
        port: 2222,
        user: "stack",
        privateKeyPath: path.join(ssh, "id_ed25519"),
        knownHostsPath: path.join(ssh, "known_hosts"),
        hostKey: hostLine,
    }),
);

describe("bad input: the config module", () => {
    it("the unmodified dev config is valid (each case below differs from it by one mistake)", () => {
        validateStackConfig(baseConfig(), dir);
    });

    it(`the table holds ${STRUCTURAL_CASES.length} structural and ${METACHAR_CASES.length} metacharacter cases`, () => {
        assert.ok(STRUCTURAL_CASES.length >= 50, `only ${STRUCTURAL_CASES.length} structural cases`);
        assert.equal(new Set(ALL_CASES.map((c) => c.name)).size, ALL_CASES.length, "case names are unique");
    });

    for (const c of UNDERCLOUD_FILE_CASES) {
        it(`${c.name}: accepted by the config module (only the undercloud's preflight refuses it)`, () => {
            const cfg = baseConfig();
            c.mutate(cfg);
            validateStackConfig(cfg, dir);
        });
    }

    for (const c of ALL_CASES) {
        it(`${c.name}: refused naming ${JSON.stringify(c.key)}`, () => {
            const cfg = baseConfig();
            c.mutate(cfg);
            assert.throws(
                () => validateStackConfig(cfg, dir),
                (e: Error) => {
                    assert.ok(e instanceof ConfigError, `not a ConfigError: ${e.stack}`);
                    assert.ok(e.message.includes(`${c.key}:`), `the message does not name ${c.key}:\n${e.message}`);
                    return true;
                },
            );
        });
    }
});
