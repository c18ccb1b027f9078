import assert from "node:assert/strict";
import { test } from "node:test";
import { type Lock, parseLock, serializeLock } from "../../../src/image/lock.js";

const pkg = (name: string) => ({
  name,
  version: "1.0-1",
  architecture: "amd64" as const,
  filename: `pool/main/${name[0]}/${name}/${name}_1.0-1_amd64.deb`,
  size: 1234,
  sha256: "a".repeat(64),
});

const lock: Lock = {
  lockVersion: 1,
  suite: "trixie",
  arch: "amd64",
  roots: ["zsh", "bash"],
  kernel: pkg("linux-image-6.12-cloud-amd64"),
  packages: [pkg("zlib1g"), pkg("bash")],
};

test("a lock is written canonically and read back", () => {
  const text = serializeLock(lock);
  const shuffled = serializeLock({ ...lock, roots: ["bash", "zsh"], packages: [pkg("bash"), pkg("zlib1g")] });
  assert.equal(text, shuffled, "order of input does not change the bytes");
  const parsed = parseLock(text, "lock.json");
  assert.deepEqual(
    parsed.packages.map((p) => p.name),
    ["bash", "zlib1g"],
  );
  assert.equal(serializeLock(parsed), text);
});

test("a bad lock names the file and the field", () => {
  const bad = JSON.parse(serializeLock(lock));
  bad.packages[1].sha256 = "not-a-hash";
  assert.throws(
    () => parseLock(JSON.stringify(bad), "my.lock"),
    /my\.lock: field packages\.1\.sha256: 64 lowercase hex digits/,
  );
  bad.packages[1].sha256 = "b".repeat(64);
  bad.packages[1].filename = "pool/../../etc/passwd.deb";
  assert.throws(() => parseLock(JSON.stringify(bad), "my.lock"), /field packages\.1\.filename/);
  assert.throws(() => parseLock("{", "my.lock"), /Cannot read the lock file my\.lock/);
  const twice = JSON.parse(serializeLock(lock));
  twice.packages.push(twice.packages[0]);
  assert.throws(() => parseLock(JSON.stringify(twice), "my.lock"), /package bash is listed twice/);
});
