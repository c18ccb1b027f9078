import assert from "node:assert/strict";
import { test } from "node:test";
import { binfmtRegistration } from "../../../src/guest/binfmt.js";
import { bootInitrd, type PerBoot, perBootTail } from "../../../src/guest/boot-archive.js";
import { readCpio, writeCpio } from "../../../src/image/archive/cpio.js";

const perBoot: PerBoot = {
  secrets: {
    hostPrivateKey: "PRIVATE\n",
    hostPublicKey: "ssh-ed25519 AAAA host\n",
    authorizedKeys: "ssh-ed25519 BBBB me\n",
    nixConf: "system-features = big-parallel\n",
    caCertificates: "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n",
  },
  parameters: {
    network: { kind: "dhcp" },
    dataDisk: "/dev/vda",
    console: "ttyAMA0",
    powerButton: "pl061-gpio",
  },
  emulatedSystems: ["x86_64-linux"],
};

test("the boot initrd: the shared image, then the per-boot archive at a 4-byte boundary", () => {
  const image = writeCpio([{ path: "init", type: "file", mode: 0o755, data: Buffer.from("#!/bin/sh\n") }]);
  // Whatever the shared image's length (trailing zeros are allowed after its trailer).
  for (let extra = 0; extra < 4; extra++) {
    const shared = Buffer.concat([image, Buffer.alloc(extra)]);
    const initrd = bootInitrd(shared, perBoot);
    assert.deepEqual(initrd.subarray(0, shared.length), shared);
    const archiveAt = initrd.indexOf("070701", shared.length);
    assert.equal(archiveAt % 4, 0, `shared image of ${shared.length} bytes`);
    assert.deepEqual(initrd.subarray(shared.length), perBootTail(shared.length, perBoot));
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
      [
        ".linux-builder/parameters",
        0o644,
        `network=dhcp\ndata_disk=/dev/vda\nconsole=ttyAMA0\npower_button=pl061-gpio\nbinfmt=${binfmtRegistration("x86_64-linux")}\n`,
      ],
      [".linux-builder/ssh_host_ed25519_key", 0o600, "PRIVATE\n"],
      [".linux-builder/ssh_host_ed25519_key.pub", 0o644, "ssh-ed25519 AAAA host\n"],
    ]);
  }
});

test("without extra CAs the archive still has the file, empty (init.sh appends only a non-empty one)", () => {
  const entries = readCpio(
    perBootTail(0, { ...perBoot, secrets: { ...perBoot.secrets, caCertificates: "" } }),
  );
  const ca = entries.find((entry) => entry.path === ".linux-builder/ca-certificates.crt");
  assert.equal(ca?.type, "file");
  assert.equal(ca?.data?.length, 0);
});

test("a bad boot parameter makes no archive", () => {
  assert.throws(
    () => perBootTail(0, { ...perBoot, parameters: { ...perBoot.parameters, console: "tty S0" } }),
    /console is "tty S0"/,
  );
});
