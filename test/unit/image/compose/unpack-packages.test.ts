import assert from "node:assert/strict";
import { test } from "node:test";
import { packagesToUnpack } from "../../../../src/image/compose/unpack-packages.js";
import { isOmittedFromImage } from "../../../../src/image/guest/profile.js";
import type { Lock } from "../../../../src/image/lock.js";

const pkg = (name: string) => ({
  name,
  version: "1",
  architecture: "amd64" as const,
  filename: `pool/${name}_1_amd64.deb`,
  size: 1,
  sha256: "0".repeat(64),
});

test("the image unpacks every package but those left out and the data packages, each with its own .deb", () => {
  assert.ok(isOmittedFromImage("perl-base"));
  const names = ["busybox", "perl-base", "ca-certificates", "nix-bin"];
  const lock: Lock = {
    lockVersion: 1,
    suite: "trixie",
    arch: "amd64",
    roots: [],
    kernel: pkg("linux-image-x"),
    packages: names.map(pkg),
  };
  const unpacked = packagesToUnpack(lock, { kernel: "k.deb", packages: names.map((name) => `${name}.deb`) });
  assert.deepEqual(
    unpacked.map(({ pkg, deb }) => [pkg.name, deb]),
    [
      ["busybox", "busybox.deb"],
      ["nix-bin", "nix-bin.deb"],
    ],
  );
});
