import assert from "node:assert/strict";
import { test } from "node:test";
import { lockFromIndex } from "../../../../src/image/compose/lock-from-index.js";
import { GUEST_ROOT_PACKAGES, isDataPackage } from "../../../../src/image/guest/profile.js";
import { index } from "../debian/compact-index.js";

const ARCHIVE = [
  "app 1 amd64 ; Depends: libc6",
  "libc6 2.41 amd64",
  "ca-certificates 20250419 all ; Depends: openssl, debconf",
  "openssl 3 amd64",
  "debconf 1 all",
  "qemu-user 1:10.0.6 amd64 ; Depends: libglib2.0-0t64",
  "libglib2.0-0t64 2.84 amd64",
  "linux-image-cloud-amd64 6.12 amd64 ; Depends: linux-image-6.12.48+deb13-cloud-amd64, initramfs-tools",
  "linux-image-6.12.48+deb13-cloud-amd64 6.12.48-1 amd64",
];

test("the lock pins the roots' closure, the data packages alone, and the kernel the meta package names", () => {
  const lock = lockFromIndex(index(ARCHIVE), ["app", "ca-certificates"], "trixie", "amd64");
  assert.deepEqual(
    lock.packages.map((p) => p.name),
    ["app", "libc6", "ca-certificates"],
    "ca-certificates without openssl and debconf, which serve only its scripts",
  );
  assert.equal(lock.kernel.name, "linux-image-6.12.48+deb13-cloud-amd64");
  assert.deepEqual(lock.kernel, {
    name: "linux-image-6.12.48+deb13-cloud-amd64",
    version: "6.12.48-1",
    architecture: "amd64",
    filename: "pool/linux-image-6.12.48+deb13-cloud-amd64_6.12.48-1_amd64.deb",
    size: 1,
    sha256: "0".repeat(64),
  });
  assert.deepEqual(
    { lockVersion: lock.lockVersion, suite: lock.suite, arch: lock.arch, roots: lock.roots },
    { lockVersion: 1, suite: "trixie", arch: "amd64", roots: ["app", "ca-certificates"] },
  );
});

test("a data package in the closure anyway is pinned once", () => {
  const archive = ARCHIVE.map((line) => (line.startsWith("app ") ? `${line}, ca-certificates` : line));
  const lock = lockFromIndex(index(archive), ["app", "ca-certificates"], "trixie", "amd64");
  assert.equal(lock.packages.filter((p) => p.name === "ca-certificates").length, 1);
});

test("a missing kernel or data package is refused, naming it and the index", () => {
  const noImage = ARCHIVE.filter((line) => !line.startsWith("linux-image-6"));
  assert.throws(() => lockFromIndex(index(noImage), ["app"], "trixie", "amd64"), {
    code: "debian.unresolvable",
    message: /linux-image-cloud-amd64 → linux-image-6\.12\.48\+deb13-cloud-amd64 is not in test\/main amd64/,
  });
  const noData = ARCHIVE.filter((line) => !line.startsWith("ca-certificates"));
  assert.throws(() => lockFromIndex(index(noData), ["app", "ca-certificates"], "trixie", "amd64"), {
    code: "debian.unresolvable",
    message: /Cannot find ca-certificates in test\/main amd64/,
  });
});

test("the guest's roots pin qemu-user alone, as a data package: its Depends serve only its dynamic helpers", () => {
  assert.ok(GUEST_ROOT_PACKAGES.includes("qemu-user") && isDataPackage("qemu-user"));
  const lock = lockFromIndex(index(ARCHIVE), ["app", "ca-certificates", "qemu-user"], "trixie", "amd64");
  assert.deepEqual(
    lock.packages.map((p) => `${p.name} ${p.version}`),
    ["app 1", "libc6 2.41", "ca-certificates 20250419", "qemu-user 1:10.0.6"],
  );
});
