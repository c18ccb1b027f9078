import assert from "node:assert/strict";
import { test } from "node:test";
import { readCpio, writeCpio } from "../../src/image/archive/cpio.js";
import { bootInitrd, secretsTail } from "../../src/vm/boot-secrets.js";

const secrets = {
  hostPrivateKey: "PRIVATE\n",
  hostPublicKey: "ssh-ed25519 AAAA host\n",
  authorizedKeys: "ssh-ed25519 BBBB me\n",
  nixConf: "system-features = big-parallel\n",
  caCertificates: "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n",
};

test("the boot initrd: the shared image, then the secrets' archive at a 4-byte boundary", () => {
  const image = writeCpio([{ path: "init", type: "file", mode: 0o755, data: Buffer.from("#!/bin/sh\n") }]);
  // Whatever the shared image's length (trailing zeros are allowed after its trailer).
  for (let extra = 0; extra < 4; extra++) {
    const shared = Buffer.concat([image, Buffer.alloc(extra)]);
    const initrd = bootInitrd(shared, secrets);
    assert.deepEqual(initrd.subarray(0, shared.length), shared);
    const secretsAt = initrd.indexOf("070701", shared.length);
    assert.equal(secretsAt % 4, 0, `shared image of ${shared.length} bytes`);
    assert.deepEqual(initrd.subarray(shared.length), secretsTail(shared.length, secrets));
    const entries = readCpio(initrd).map((entry) => [entry.path, entry.mode, entry.data?.toString()]);
    assert.deepEqual(entries, [
      ["init", 0o755, "#!/bin/sh\n"],
      [".linux-builder", 0o700, undefined],
      [".linux-builder/authorized_keys", 0o600, "ssh-ed25519 BBBB me\n"],
      [
        ".linux-builder/ca-certificates.crt",
        0o644,
        "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n",
      ],
      [".linux-builder/nix.conf", 0o644, "system-features = big-parallel\n"],
      [".linux-builder/ssh_host_ed25519_key", 0o600, "PRIVATE\n"],
      [".linux-builder/ssh_host_ed25519_key.pub", 0o644, "ssh-ed25519 AAAA host\n"],
    ]);
  }
});

test("without extra CAs the archive still has the file, empty (init.sh appends only a non-empty one)", () => {
  const entries = readCpio(secretsTail(0, { ...secrets, caCertificates: "" }));
  const ca = entries.find((entry) => entry.path === ".linux-builder/ca-certificates.crt");
  assert.equal(ca?.type, "file");
  assert.equal(ca?.data?.length, 0);
});
