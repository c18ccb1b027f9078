import assert from "node:assert/strict";
import { test } from "node:test";
import { packagesToUnpack } from "../../../../src/image/compose/unpack-packages.js";
import { isOmittedFromImage } from "../../../../src/image/guest/profile.js";
import { lockOf } from "../fake-lock.js";

test("the image unpacks every package but those left out and the data packages, each with its own .deb", () => {
  assert.ok(isOmittedFromImage("perl-base"));
  const names = ["busybox", "perl-base", "ca-certificates", "nix-bin"];
  const lock = lockOf(names, []);
  const unpacked = packagesToUnpack(lock, { kernel: "k.deb", packages: names.map((name) => `${name}.deb`) });
  assert.deepEqual(
    unpacked.map(({ pkg, deb }) => [pkg.name, deb]),
    [
      ["busybox", "busybox.deb"],
      ["nix-bin", "nix-bin.deb"],
    ],
  );
});
