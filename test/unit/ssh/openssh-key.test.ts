import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { generateEd25519KeyPair } from "../../../src/ssh/openssh-key.js";

test("ssh-keygen reads our private key and derives our public key from it", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-key-"));
  try {
    const pair = generateEd25519KeyPair("builder@test");
    const keyFile = join(dir, "id");
    writeFileSync(keyFile, pair.privateKey, { mode: 0o600 });
    const derived = execFileSync("ssh-keygen", ["-y", "-f", keyFile], { encoding: "utf8" }).trim();
    const [type, blob] = pair.publicKey.trim().split(" ");
    assert.equal(derived.split(" ").slice(0, 2).join(" "), `${type} ${blob}`);
    assert.match(pair.publicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* builder@test\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("two generated keys differ", () => {
  assert.notEqual(generateEd25519KeyPair("a").publicKey, generateEd25519KeyPair("a").publicKey);
});
