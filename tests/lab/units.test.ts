// Pure parts of the lab, without SSH or Ceph: argv redaction, fault matching, baremetal role
// expansion rules (reference §7), argparse-like option parsing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { faultMatches, redactArgv, redactText } from "../../lab/journal";
import { expandRoles } from "../../lab/undercloud/metal";
import { CommandError, parseArgs } from "../../lab/undercloud/util";

const KEY = "AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ==";

test("redactArgv hides secret option values and anything cephx-key shaped", () => {
    assert.deepEqual(redactArgv(["openstack", "--ceph-client-key", "x", "--os-password=pw", `k=${KEY}`]), [
        "openstack",
        "--ceph-client-key",
        "<redacted>",
        "--os-password=<redacted>",
        "k=<redacted>",
    ]);
    assert.equal(redactText(`key: ${KEY}`), "key: <redacted>");
});

test("faults match by command name (or a prefix that is no command) and by one of the command's stacks", () => {
    const f = { id: 1, command: "openstack overcloud deploy", stack: "dcn1", kind: "fail" as const, message: null };
    assert.ok(faultMatches(f, "overcloud deploy", "dcn1"));
    assert.ok(!faultMatches(f, "overcloud deploy", "dcn0"));
    assert.ok(!faultMatches(f, "overcloud delete", "dcn1"));
    assert.ok(
        faultMatches({ ...f, command: "overcloud export ceph", stack: "dcn1" }, "overcloud export ceph", "dcn0,dcn1"),
    );
    assert.ok(!faultMatches({ ...f, command: "overcloud export", stack: null }, "overcloud exports", null));
    // A prefix that is a command of its own names only that command.
    const known = (w: string) => ["overcloud export", "overcloud export ceph"].includes(w);
    const exp = { ...f, command: "overcloud export", stack: null };
    assert.ok(faultMatches(exp, "overcloud export", "control-plane", known));
    assert.ok(!faultMatches(exp, "overcloud export ceph", "control-plane", known));
    assert.ok(faultMatches({ ...exp, command: "overcloud" }, "overcloud export ceph", null, known));
});

test("expandRoles: hostnames from hostname_format, §7 validation errors", () => {
    const p = expandRoles("dcn0", [{ name: "Compute", count: 2, instances: [{ hostname: "a", name: "n1" }] }]);
    assert.deepEqual(
        p.map((x) => [x.hostname, x.generated, x.node]),
        [
            ["a", "dcn0-novacompute-0", "n1"],
            ["dcn0-novacompute-1", "dcn0-novacompute-1", undefined],
        ],
    );
    assert.throws(
        () => expandRoles("s", [{ name: "R", count: 1, instances: [{}, {}] }]),
        /cannot be greater than count 1/,
    );
    assert.throws(
        () => expandRoles("s", [{ name: "R", defaults: { provisioned: false } }]),
        /Cannot specify provisioned/,
    );
    assert.throws(
        () =>
            expandRoles("s", [
                {
                    name: "R",
                    count: 2,
                    instances: [
                        { hostname: "a", name: "n" },
                        { hostname: "b", name: "n" },
                    ],
                },
            ]),
        /requested more than once/,
    );
    assert.throws(
        () =>
            expandRoles("s", [
                { name: "R", count: 1, instances: [{ networks: [{ network: "x", fixed_ip: "1.1.1.1" }] }] },
                { name: "Q", count: 1, instances: [{ networks: [{ network: "x", fixed_ip: "1.1.1.1" }] }] },
            ]),
        /Fixed IP 1.1.1.1 is used more than once/,
    );
});

test("parseArgs rejects unknown options like argparse (exit 2)", () => {
    const a = parseArgs(
        "openstack x",
        ["--stack", "s", "-e", "a", "-e", "b", "pos"],
        [
            { names: ["--stack"], value: true },
            { names: ["-e", "--environment-file"], value: true, multiple: true },
        ],
    );
    assert.deepEqual(a.opts, { stack: "s", environment_file: ["a", "b"] });
    assert.deepEqual(a.positionals, ["pos"]);
    assert.throws(
        () => parseArgs("openstack x", ["--nope"], []),
        (e: unknown) =>
            e instanceof CommandError && e.exitCode === 2 && /unrecognized arguments: --nope/.test(e.message),
    );
});
