// Host key pinning rules (providers/remote/hostKeys.ts), without a server: known_hosts parsing
// (plain, hashed, [host]:port, patterns, @revoked, @cert-authority), pins, negotiated algorithms,
// verdicts and messages.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import {
    checkHostKey,
    decodeKey,
    fingerprint,
    formatPin,
    hashHostName,
    hashedMatch,
    hostFieldMatches,
    hostKeyAlgorithms,
    noCommonTypeMessage,
    parseKeyLine,
    parseKnownHosts,
    parsePin,
    pinFromKnownHosts,
    refusalMessage,
    unsupportedTypes,
    wildcardMatch,
} from "../../providers/remote/hostKeys";
import { hostKeyPair, keyLine } from "../support/ssh-keys";

const ed = keyLine(hostKeyPair("ed25519").public);
const rsa = keyLine(hostKeyPair("rsa").public);
const ecdsa = keyLine(hostKeyPair("ecdsa").public);
const other = keyLine(hostKeyPair("ed25519").public);
const blob = (line: string) => parseKeyLine(line).blob;

describe("key lines", () => {
    it("parses authorized_keys lines, with a comment or a leading host pattern", () => {
        assert.equal(parseKeyLine(`${ed} root@undercloud`).type, "ssh-ed25519");
        assert.deepEqual(parseKeyLine(`[10.0.0.1]:2222 ${rsa}`).blob, blob(rsa));
        assert.equal(parseKeyLine(ecdsa).type, "ecdsa-sha2-nistp256");
    });

    it("refuses a blob that is truncated or of another type than the line says", () => {
        const [, b64] = ed.split(" ");
        assert.throws(() => parseKeyLine(`ssh-rsa ${b64}`), /not an OpenSSH public key line/);
        assert.throws(() => parseKeyLine("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"), /not an OpenSSH public key line/);
        assert.throws(() => parseKeyLine("yes"), /not an OpenSSH public key line/);
        assert.equal(decodeKey("ssh-ed25519", b64.slice(0, -8)), undefined);
    });
});

describe("pins", () => {
    it("takes one or more lines (a string or a list), preferred key types first, @revoked kept apart", () => {
        const pin = parsePin(`${rsa}\n\n${ed} comment\n@revoked ${other}\n`);
        assert.deepEqual(
            pin.keys.map((k) => k.type),
            ["ssh-ed25519", "ssh-rsa"],
        );
        assert.deepEqual(
            pin.revoked.map((k) => k.blob),
            [blob(other)],
        );
        assert.deepEqual(parsePin([rsa, ed]), { keys: pin.keys, revoked: [] });
        assert.equal(formatPin(pin), `${ed}\n${rsa}\n@revoked ${other}`);
        assert.deepEqual(parsePin(formatPin(pin)), pin);
        // A single line is its own normalized form (backwards compatible state and config).
        assert.equal(formatPin(parsePin(`${ed} comment`)), ed);
    });

    it("names the bad line and needs at least one key that is not revoked", () => {
        assert.throws(() => parsePin(`${ed}\ntouch /tmp/pwned`), /line 2: not an OpenSSH public key line/);
        assert.throws(() => parsePin(`@revoked ${ed}`), /no host key pinned/);
        assert.throws(() => parsePin(`@cert-authority * ${ed}`), /only the @revoked marker/);
        assert.throws(() => parsePin(""), /no host key pinned/);
    });

    it("negotiates only the pinned key types, RSA as ssh2 names its signature algorithms", () => {
        assert.deepEqual(hostKeyAlgorithms(parsePin(rsa)), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
        assert.deepEqual(hostKeyAlgorithms(parsePin([rsa, ecdsa, ed])), [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-rsa",
        ]);
        // A revoked key's type is not offered for it.
        assert.deepEqual(hostKeyAlgorithms(parsePin(`${ed}\n@revoked ${rsa}`)), ["ssh-ed25519"]);
        assert.deepEqual(unsupportedTypes(parsePin([rsa, ed])), []);
    });

    it("accepts any pinned key, refuses others and revoked ones, with host:port and fingerprints", () => {
        const pin = parsePin([rsa, ed]);
        assert.deepEqual(checkHostKey(pin, blob(rsa)), { ok: true });
        assert.deepEqual(checkHostKey(pin, blob(ed)), { ok: true });
        assert.deepEqual(checkHostKey(pin, blob(other)), { ok: false, revoked: false });
        const m = refusalMessage(pin, blob(other), "uc", 2222);
        assert.match(m, /^host key verification failed for uc:2222: the server presented SHA256:/);
        assert.ok(m.includes(`presented ${fingerprint(blob(other))} but the pinned keys are`), m);
        assert.ok(
            m.includes(`${fingerprint(blob(ed))} (ssh-ed25519)`) && m.includes(`${fingerprint(blob(rsa))} (ssh-rsa)`),
        );
        // One pinned key: the wording of issue 6's message.
        assert.ok(
            refusalMessage(parsePin(ed), blob(other), "uc", 22).includes(
                `presented ${fingerprint(blob(other))} but the pinned key is ${fingerprint(blob(ed))} (ssh-ed25519)`,
            ),
        );
        const revoked = parsePin(`${ed}\n${rsa}\n@revoked ${ed}`);
        assert.deepEqual(checkHostKey(revoked, blob(ed)), { ok: false, revoked: true });
        assert.deepEqual(checkHostKey(revoked, blob(rsa)), { ok: true });
        assert.match(refusalMessage(revoked, blob(ed), "uc", 22), /uc:22: .* \(ssh-ed25519\), a key marked @revoked/);
        assert.match(
            noCommonTypeMessage(parsePin(rsa), "uc", 22),
            /uc:22: the server has no host key of a pinned type \(ssh-rsa\)/,
        );
    });
});

describe("known_hosts host patterns", () => {
    it("port 22 matches the bare name, other ports only [host]:port", () => {
        assert.equal(hostFieldMatches("uc.example", "uc.example", 22), true);
        assert.equal(hostFieldMatches("[uc.example]:22", "uc.example", 22), true);
        assert.equal(hostFieldMatches("uc.example", "uc.example", 2222), false);
        assert.equal(hostFieldMatches("[uc.example]:2222", "uc.example", 2222), true);
        assert.equal(hostFieldMatches("[uc.example]:2223", "uc.example", 2222), false);
    });

    it("comma-separated names, wildcards, negations, case-insensitive", () => {
        assert.equal(hostFieldMatches("uc,192.0.2.10", "192.0.2.10", 22), true);
        assert.equal(hostFieldMatches("*.example", "UC.Example", 22), true);
        assert.equal(hostFieldMatches("192.0.2.?", "192.0.2.7", 22), true);
        assert.equal(hostFieldMatches("192.0.2.?", "192.0.2.17", 22), false);
        assert.equal(hostFieldMatches("[192.0.2.*]:2222", "192.0.2.17", 2222), true);
        assert.equal(hostFieldMatches("*.example,!bad.example", "bad.example", 22), false);
        assert.equal(hostFieldMatches("*", "anything", 2222), true);
        assert.equal(wildcardMatch("a.b", "axb"), false, "a dot is literal");
    });

    it("hashed entries: HMAC-SHA1 keyed by the salt of host or [host]:port", () => {
        // Reference values computed with Python's hmac module (salt = bytes 0..19).
        const salt = "AAECAwQFBgcICQoLDA0ODxAREhM=";
        assert.equal(hashedMatch(`|1|${salt}|zKYaAqmSav3Qxr2sffNqWFIcbe4=`, "[127.0.0.1]:2222"), true);
        assert.equal(hashedMatch(`|1|${salt}|sBc2DboZRWkCtNiXZ9Dp+1PCnDw=`, "undercloud.example"), true);
        assert.equal(hashedMatch(`|1|${salt}|sBc2DboZRWkCtNiXZ9Dp+1PCnDw=`, "undercloud.example2"), false);
        assert.equal(
            hashHostName("undercloud.example", Buffer.from(salt, "base64")),
            `|1|${salt}|sBc2DboZRWkCtNiXZ9Dp+1PCnDw=`,
        );
        assert.equal(hostFieldMatches(`|1|${salt}|zKYaAqmSav3Qxr2sffNqWFIcbe4=`, "127.0.0.1", 2222), true);
        assert.equal(hostFieldMatches(`|1|${salt}|zKYaAqmSav3Qxr2sffNqWFIcbe4=`, "127.0.0.1", 22), false);
        assert.equal(hashedMatch("|2|x|y", "undercloud.example"), false);
    });
});

describe("known_hosts to a pin", () => {
    const salt = Buffer.alloc(20, 7);

    it("pins every key of the host (RSA first as ssh-keyscan writes, hashed or plain), nothing of other hosts", () => {
        const text = [
            "# ssh-keyscan -p 2222 uc.example",
            `[uc.example]:2222 ${rsa}`,
            `${hashHostName("[uc.example]:2222", salt)} ${ecdsa}`,
            `[uc.example]:2222,192.0.2.10 ${ed} comment`,
            `[uc.example]:2222 ${ed}`,
            `uc.example ${other}`,
            `other.example ${other}`,
            "garbage line",
        ].join("\n");
        const { pin, notes } = pinFromKnownHosts(text, "uc.example", 2222);
        assert.deepEqual(
            pin.keys.map((k) => k.type),
            ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"],
        );
        assert.deepEqual(pin.keys[0].blob, blob(ed));
        assert.deepEqual(notes, []);
        assert.deepEqual(parseKnownHosts(text).skipped, ["line 8: not a known_hosts line with a valid key"]);
        assert.deepEqual(
            pinFromKnownHosts(text, "uc.example", 22).pin.keys.map((k) => k.blob),
            [blob(other)],
        );
        assert.deepEqual(pinFromKnownHosts(text, "nothing.example", 22).pin.keys, []);
    });

    it("drops @revoked keys from the pin but keeps them as revoked; ignores @cert-authority with a note", () => {
        const text = [
            `[uc]:2222 ${ed}`,
            `[uc]:2222 ${rsa}`,
            `@revoked * ${ed}`,
            `@revoked other.example ${rsa}`,
            `@cert-authority *.example,[uc]:2222 ${other}`,
        ].join("\n");
        const { pin, notes } = pinFromKnownHosts(text, "uc", 2222);
        assert.deepEqual(
            pin.keys.map((k) => k.blob),
            [blob(rsa)],
        );
        assert.deepEqual(
            pin.revoked.map((k) => k.blob),
            [blob(ed)],
        );
        assert.equal(formatPin(pin), `${rsa}\n@revoked ${ed}`);
        assert.deepEqual(notes, [
            "line 5: @cert-authority ignored (host certificates are not checked; pin the host's keys)",
            "1 key(s) listed for the host are @revoked and not pinned",
        ]);
        assert.deepEqual(checkHostKey(pin, blob(ed)), { ok: false, revoked: true });
        assert.deepEqual(hostKeyAlgorithms(pin), ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]);
    });
});
