// providers/centralCloud.ts: which sites a config change removes, what is left in their AZs (the
// read-only query's script run against a stand-in `openstack`, and its parser), the refusal naming
// it, and which of central's service records belong to a removed site.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    LEFTOVERS_SCRIPT,
    OSC_SCRIPT,
    centralRcFile,
    cinderManageRemove,
    disabledReason,
    jsonValues,
    leftoverRefusal,
    parseLeftovers,
    removedSites,
    siteComputeServices,
    siteVolumeServices,
} from "../../providers/centralCloud";

const dcn0 = { stack: "dcn0", az: "dcn0" };
const dcn1 = { stack: "dcn1", az: "az-one" };

describe("removedSites", () => {
    it("is the sites of the previous inputs the new ones lack, by stack", () => {
        assert.deepEqual(removedSites([dcn0, dcn1], [dcn0]), [dcn1]);
        assert.deepEqual(removedSites([dcn0], [dcn0, dcn1]), []);
        assert.deepEqual(removedSites(undefined, [dcn0]), []);
        // A site whose AZ changed is not removed.
        assert.deepEqual(removedSites([dcn1], [{ stack: "dcn1", az: "other" }]), []);
    });
    it("central's rc file is the one tripleoclient writes in the stack's working dir", () => {
        assert.equal(
            centralRcFile("control-plane", "/home/stack"),
            "/home/stack/overcloud-deploy/control-plane/control-planerc",
        );
    });
});

describe("what is left in a removed site's AZ", () => {
    const serverJson = (rows: unknown[]) => JSON.stringify(rows, null, 2);
    const volume = (id: string, name: string, az: string) =>
        JSON.stringify({ availability_zone: az, id, name, status: "available" }, null, 2);

    it("parses the servers per AZ (exactly that AZ) and every volume's zone", () => {
        const stdout = [
            "== servers dcn0",
            serverJson([]),
            "== servers az-one",
            serverJson([
                { ID: "s-1", Name: "web {1}", Status: "ACTIVE", "Availability Zone": "az-one" },
                // Nova's regular expression search also finds az-one0's servers.
                { ID: "s-2", Name: "other", Status: "ACTIVE", "Availability Zone": "az-one0" },
            ]),
            "== volumes",
            volume("v-1", "data", "az-one"),
            volume("v-2", "other", "dcn0"),
            volume("v-3", "central", "central"),
            "",
        ].join("\n");
        const left = parseLeftovers(stdout, ["dcn0", "az-one"])!;
        assert.deepEqual(left["az-one"], [
            { kind: "server", id: "s-1", name: "web {1}", status: "ACTIVE" },
            { kind: "volume", id: "v-1", name: "data", status: "available" },
        ]);
        assert.deepEqual(left.dcn0, [{ kind: "volume", id: "v-2", name: "other", status: "available" }]);
    });
    it("is nothing when central has no rc file", () => {
        assert.equal(parseLeftovers("norc\n", ["dcn0"]), undefined);
    });
    it("reads JSON documents one after the other, braces in strings included", () => {
        assert.deepEqual(jsonValues('[]\n{"a": "}{\\""}\n[{"b": 1}]'), [[], { a: '}{"' }, [{ b: 1 }]]);
    });
    it("the refusal names every server and volume, the AZ and what to do; none when empty", () => {
        const msg = leftoverRefusal(dcn1, "control-plane", [
            { kind: "server", id: "s-1", name: "web", status: "ACTIVE" },
            { kind: "volume", id: "v-1", name: "data", status: "available" },
        ])!;
        assert.match(msg, /site dcn1 cannot be removed/);
        assert.match(msg, /availability zone az-one in the central cloud control-plane/);
        assert.match(msg, /servers web \(s-1, ACTIVE\); volumes data \(v-1, available\)/);
        assert.match(msg, /nothing was changed/);
        assert.equal(leftoverRefusal(dcn1, "control-plane", []), undefined);
    });

    it("the query script runs each client command with its arguments intact (stand-in openstack)", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "leftovers-"));
        try {
            const calls = path.join(dir, "calls");
            fs.writeFileSync(path.join(dir, "rc"), "export OS_CLOUD=central\n");
            fs.writeFileSync(
                path.join(dir, "openstack"),
                [
                    "#!/bin/sh",
                    `printf '%s|' "$@" >> ${JSON.stringify(calls)}; echo >> ${JSON.stringify(calls)}`,
                    'case "$1 $2" in',
                    '  "server list") [ "$5" = "a b" ] && echo \'[{"ID": "s-1", "Name": "x", "Status": "ACTIVE"}]\' || echo "[]";;',
                    '  "volume list") echo v-1;;',
                    '  "volume show") echo \'{"id": "v-1", "name": "d", "status": "in-use", "availability_zone": "dcn0"}\';;',
                    "esac",
                ].join("\n"),
                { mode: 0o755 },
            );
            const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };
            const r = spawnSync("sh", ["-c", LEFTOVERS_SCRIPT, "leftovers", path.join(dir, "rc"), "dcn0", "a b"], {
                env,
                encoding: "utf8",
            });
            assert.equal(r.status, 0, r.stderr);
            const left = parseLeftovers(r.stdout, ["dcn0", "a b"])!;
            assert.deepEqual(
                left["a b"].map((l) => l.id),
                ["s-1"],
            );
            assert.deepEqual(
                left.dcn0.map((l) => l.id),
                ["v-1"],
            );
            assert.match(
                fs.readFileSync(calls, "utf8"),
                /^server\|list\|--all-projects\|--availability-zone\|a b\|-f\|json\|/m,
            );
            const none = spawnSync("sh", ["-c", LEFTOVERS_SCRIPT, "leftovers", path.join(dir, "missing-rc"), "dcn0"], {
                env,
                encoding: "utf8",
            });
            assert.equal(none.stdout.trim(), "norc");
            const osc = spawnSync(
                "sh",
                ["-c", OSC_SCRIPT, "osc", path.join(dir, "rc"), "aggregate", "show", "it's", "-f", "json"],
                {
                    env,
                    encoding: "utf8",
                },
            );
            assert.equal(osc.status, 0, osc.stderr);
            assert.match(fs.readFileSync(calls, "utf8"), /^aggregate\|show\|it's\|-f\|json\|$/m);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("a removed site's service records", () => {
    const rows = [
        { ID: "c-1", Binary: "nova-compute", Host: "oc0-ceph-1.localdomain", Zone: "dcn0" },
        { ID: "c-2", Binary: "nova-compute", Host: "oc0-ceph-2.localdomain", Zone: "nova" },
        { ID: "c-3", Binary: "nova-compute", Host: "oc0-ceph-0.localdomain", Zone: "nova" },
        {
            ID: "c-4",
            Binary: "nova-compute",
            Host: "oc0-compute-0.localdomain",
            Zone: "nova",
            "Disabled Reason": disabledReason("dcn0"),
        },
        { ID: "s-1", Binary: "nova-scheduler", Host: "oc0-controller-0.localdomain", Zone: "dcn0" },
    ];
    it("compute: in the AZ, in its aggregate, or disabled for this removal; nova-compute only", () => {
        assert.deepEqual(
            siteComputeServices(rows, dcn0, ["oc0-ceph-2.localdomain"]).map((r) => r.ID),
            ["c-1", "c-2", "c-4"],
        );
        assert.deepEqual(
            siteComputeServices(rows, dcn1, []).map((r) => r.ID),
            [],
        );
    });
    it("volume: cinder-volume services of the site's zone or disabled for this removal", () => {
        const v = [
            { Binary: "cinder-volume", Host: "oc0-ceph-1.localdomain@tripleo_ceph", Zone: "dcn0" },
            { Binary: "cinder-volume", Host: "hostgroup@tripleo_ceph", Zone: "central" },
            { Binary: "cinder-scheduler", Host: "oc0-controller-0", Zone: "dcn0" },
            {
                Binary: "cinder-volume",
                Host: "x@tripleo_ceph",
                Zone: "nova",
                "Disabled Reason": disabledReason("dcn0"),
            },
        ];
        assert.deepEqual(
            siteVolumeServices(v, dcn0).map((r) => r.Host),
            ["oc0-ceph-1.localdomain@tripleo_ceph", "x@tripleo_ceph"],
        );
    });
    it("cinder-manage runs in the controller's cinder_api container; a host that is no host name is refused", () => {
        assert.deepEqual(cinderManageRemove("oc0-ceph-1.localdomain@tripleo_ceph"), [
            "sudo",
            "podman",
            "exec",
            "cinder_api",
            "cinder-manage",
            "service",
            "remove",
            "cinder-volume",
            "oc0-ceph-1.localdomain@tripleo_ceph",
        ]);
        assert.throws(() => cinderManageRemove("x; rm -rf /"), /is not a host name/);
    });
});
