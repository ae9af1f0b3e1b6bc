// SSH key pairs for tests.
import { utils } from "ssh2";

export interface KeyPair {
    /** OpenSSH private key text. */
    private: string;
    /** authorized_keys line: `ssh-ed25519 AAAA... comment` */
    public: string;
}

/**
 * An ed25519 key pair that ssh2 can parse back: a small fraction of the ed25519 keys ssh2
 * generates fail its own parser ("Malformed OpenSSH private key"), which made tests flaky.
 */
export function parseableKeyPair(comment?: string): KeyPair {
    for (let i = 0; i < 20; i++) {
        const k = utils.generateKeyPairSync("ed25519", comment ? { comment } : {});
        if (!(utils.parseKey(k.public) instanceof Error) && !(utils.parseKey(k.private) instanceof Error)) {
            return { private: k.private, public: k.public };
        }
    }
    throw new Error("could not generate a parseable ed25519 key");
}

/** `type base64` of a public key line, without the comment (the form a pinned host key takes). */
export function keyLine(pub: string): string {
    return pub.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** A host key pair of another type than ed25519 (RSA 2048 or ECDSA P-256), as ssh2 generates it. */
export function hostKeyPair(type: "rsa" | "ecdsa" | "ed25519", comment?: string): KeyPair {
    if (type === "ed25519") {
        return parseableKeyPair(comment);
    }
    const k = utils.generateKeyPairSync(type, { bits: type === "rsa" ? 2048 : 256, ...(comment ? { comment } : {}) });
    return { private: k.private, public: k.public };
}
