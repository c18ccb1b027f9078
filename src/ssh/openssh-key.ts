import { generateKeyPairSync, type KeyObject } from "node:crypto";

/** An ed25519 key pair in the formats OpenSSH reads: `openssh-key-v1` private key and one-line public key. */
export interface SshKeyPair {
  /** PEM-armored `openssh-key-v1` private key, unencrypted (the Nix daemon reads it without a passphrase). */
  readonly privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  readonly publicKey: string;
}

const KEY_TYPE = "ssh-ed25519";

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value);
  return buf;
}

/** The wire-format public key blob: string "ssh-ed25519", string pk. */
export function ed25519PublicBlob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString(KEY_TYPE), sshString(publicKey)]);
}

/**
 * Encodes raw ed25519 key material as OpenSSH writes it (PROTOCOL.key in OpenSSH's source).
 * `checkInt` is normally random; a caller that wants reproducible output may fix it.
 */
export function encodeOpenSshKeyPair(
  seed: Buffer,
  publicKey: Buffer,
  comment: string,
  checkInt: number,
): SshKeyPair {
  if (seed.length !== 32 || publicKey.length !== 32) {
    throw new Error("ed25519 keys are 32 bytes");
  }
  const publicBlob = ed25519PublicBlob(publicKey);
  let privateSection = Buffer.concat([
    uint32(checkInt),
    uint32(checkInt),
    sshString(KEY_TYPE),
    sshString(publicKey),
    // OpenSSH stores the 64-byte "secret key" of ref10: seed followed by the public key.
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  // Pad to the cipher block size (8 for "none") with 1, 2, 3, ...
  const padLength = (8 - (privateSection.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  privateSection = Buffer.concat([privateSection, padding]);

  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0", "latin1"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(privateSection),
  ]);
  const base64 = body.toString("base64");
  const lines = base64.match(/.{1,70}/g) ?? [];
  const privateKey = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const publicLine = `${KEY_TYPE} ${publicBlob.toString("base64")}${comment === "" ? "" : ` ${comment}`}\n`;
  return { privateKey, publicKey: publicLine };
}

function rawKeys(privateKey: KeyObject, publicKey: KeyObject): { seed: Buffer; pub: Buffer } {
  const privateJwk = privateKey.export({ format: "jwk" });
  const publicJwk = publicKey.export({ format: "jwk" });
  if (typeof privateJwk.d !== "string" || typeof publicJwk.x !== "string") {
    throw new Error("Node did not export the ed25519 key as JWK");
  }
  return { seed: Buffer.from(privateJwk.d, "base64url"), pub: Buffer.from(publicJwk.x, "base64url") };
}

/** A fresh ed25519 key pair from Node's CSPRNG. */
export function generateEd25519KeyPair(comment: string): SshKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const { seed, pub } = rawKeys(privateKey, publicKey);
  const checkInt = seed.readUInt32BE(0) ^ 0x5a5a5a5a;
  return encodeOpenSshKeyPair(seed, pub, comment, checkInt >>> 0);
}
