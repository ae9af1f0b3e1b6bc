// Redaction of secrets in what the providers log and throw (providers/remote/redact.ts), and its
// use by every provider method (traced) and the progress log.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { REDACTED, knownSecrets, redact, redactError } from "../../providers/remote/redact";
import { traced } from "../../providers/remote/trace";

const CEPHX = "AQBO/mteAAAAABAAc4mVMTpq7OFtrPlRFqN+FQ==";
const OTHER_CEPHX = "AQCz8VJlAAAAABAA0nk5l0F3wH0rUqGzzGv3Kg==";
const PEM = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACDJ0dGx1cHJpdmF0ZWtleWJvZHlwYXJ0dHdvAAAAAAAAAAAAAAAAAAAAAAA",
    "-----END OPENSSH PRIVATE KEY-----",
    "",
].join("\n");

describe("redact", () => {
    it("replaces every occurrence of each known value, longest first", () => {
        const pw = "s3cr3tPassw0rdValue";
        assert.equal(redact(`a ${pw} b ${pw}x`, [pw]), `a ${REDACTED} b ${REDACTED}x`);
        assert.equal(redact(`${pw}-tail`, [pw, `${pw}-tail`]), REDACTED);
    });

    it("redacts a multi-line secret whole and line by line, not its armour", () => {
        const lines = PEM.split("\n");
        assert.equal(redact(`key:\n${PEM}`, [PEM]), `key:\n${REDACTED}\n`);
        assert.equal(redact(`got ${lines[2]} here`, [PEM]), `got ${REDACTED} here`);
        assert.equal(redact(lines[0], [PEM]), lines[0]);
    });

    it("redacts standalone cephx keys it was not told about, not longer base64", () => {
        assert.equal(redact(`key: ${CEPHX}\n  "key": "${OTHER_CEPHX}"`), `key: ${REDACTED}\n  "key": "${REDACTED}"`);
        const longer = `x${CEPHX}`.replace("==", "AAAA==");
        assert.equal(redact(longer), longer);
    });

    it("redacts the value of password and secret assignments", () => {
        assert.equal(redact("AdminPassword: abcdefgh12345"), `AdminPassword: ${REDACTED}`);
        assert.equal(redact('{"RabbitPassword": "xyz987654"}'), `{"RabbitPassword": "${REDACTED}"}`);
        assert.equal(redact("export OS_PASSWORD=hunter2hunter2"), `export OS_PASSWORD=${REDACTED}`);
        assert.equal(
            redact("Passwords file /x/p.yaml not found: stack dcn0"),
            "Passwords file /x/p.yaml not found: stack dcn0",
        );
    });

    it("ignores short, empty and undefined values; is idempotent", () => {
        assert.equal(redact("stack dcn0 uses ceph", ["dcn0", "", undefined, "ceph"]), "stack dcn0 uses ceph");
        const once = redact(`AdminPassword: p4ssw0rd99 ${CEPHX}`, ["p4ssw0rd99"]);
        assert.equal(redact(once, ["p4ssw0rd99"]), once);
    });
});

describe("knownSecrets", () => {
    it("collects the private key, cephx keys and password-like values, not names nor fsids", () => {
        const props = {
            privateKey: PEM,
            stack: "dcn0",
            clientKey: CEPHX,
            fsid: "9cfb3bd0-1b4a-4d2e-a0b5-6e0f5c4c2a11",
            clusters: [
                {
                    cluster: "dcn0",
                    fsid: "x",
                    monIps: "10.0.0.1",
                    keys: [{ name: "client.openstack", key: OTHER_CEPHX }],
                },
            ],
            overrides: { AdminPassword: "from-config-123", NtpServer: "pool.ntp.org" },
            key: "not-a-cephx-entry",
        };
        assert.deepEqual(knownSecrets(props, undefined).sort(), [PEM, CEPHX, OTHER_CEPHX, "from-config-123"].sort());
    });
});

describe("errors", () => {
    it("redactError redacts message and stack in place", () => {
        const e = new Error(`failed: ${CEPHX} with pw0rdValue99`);
        const same = redactError(e, ["pw0rdValue99"]);
        assert.equal(same, e);
        assert.equal(e.message, `failed: ${REDACTED} with ${REDACTED}`);
        assert.ok(!e.stack!.includes(CEPHX) && !e.stack!.includes("pw0rdValue99"));
        assert.equal(redactError(`plain ${CEPHX}`, []).message, `plain ${REDACTED}`);
    });

    it("every provider method's error is redacted with the secrets of its arguments", async () => {
        const p = traced("T", {
            async update(_id: string, olds: { clientKey: string }, news: { privateKey: string }) {
                throw new Error(`deploy failed:\n${news.privateKey}\nold key ${olds.clientKey}`);
            },
        });
        await assert.rejects(
            p.update("id", { clientKey: "a-key-that-is-not-cephx-shaped" }, { privateKey: PEM }),
            (e: Error) => {
                assert.ok(!e.message.includes("a-key-that-is-not-cephx-shaped"), e.message);
                for (const line of PEM.split("\n").filter((l) => l.length > 40)) {
                    assert.ok(!e.message.includes(line), e.message);
                }
                assert.match(e.message, /^deploy failed:/);
                return true;
            },
        );
    });
});
