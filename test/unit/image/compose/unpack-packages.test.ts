import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setImmediate } from "node:timers/promises";
import type { TarEntry } from "../../../../src/image/archive/tar.js";
import type { DebResults } from "../../../../src/image/compose/deb-results.js";
import {
  packagesToUnpack,
  unpackingLeftStep,
  unpackingStep,
  unpackPackages,
} from "../../../../src/image/compose/unpack-packages.js";
import { isOmittedFromImage } from "../../../../src/image/guest/profile.js";
import type { LockedPackage } from "../../../../src/image/lock.js";
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

test("the unpacking is announced before the downloads, and what is left of it when they end", () => {
  const lock = lockOf(["busybox", "perl-base", "ca-certificates", "nix-bin"], []);
  assert.equal(
    unpackingStep(lock),
    "Unpacking 2 packages, each as soon as its .deb is downloaded or found in the cache (1 left out, not downloaded: nothing a builder runs loads them)",
  );
  assert.equal(unpackingLeftStep(3, 107), "Unpacking the last 3 of the 107 packages");
  assert.equal(unpackingLeftStep(0, 107), undefined);
});

describe("unpackPackages", () => {
  const lock = lockOf(["busybox", "nix-bin", "coreutils"], []);
  const file = (path: string): TarEntry => ({
    path,
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    body: Buffer.alloc(0),
  });
  const results = (read: (pkg: LockedPackage) => Promise<TarEntry[]>) =>
    ({ imageEntries: read }) as unknown as DebResults;

  test("each package is read once its .deb has arrived, and they go into the tree in the lock's order", async () => {
    let arrive = (_: string) => {};
    const late = new Promise<string>((resolve) => {
      arrive = resolve;
    });
    const read: string[] = [];
    let ready = 0;
    const unpacked = packagesToUnpack(lock, {
      kernel: Promise.resolve("k.deb"),
      packages: [late, Promise.resolve("nix-bin.deb"), Promise.resolve("coreutils.deb")],
    });
    const tree = unpackPackages(
      unpacked,
      results(async (pkg) => {
        read.push(pkg.name);
        return [file(`usr/bin/${pkg.name}`)];
      }),
      Promise.resolve(),
      () => ready++,
    );
    await setImmediate();
    assert.deepEqual(read, ["nix-bin", "coreutils"]);
    assert.equal(ready, 2, "each package counted as its entries are ready");
    arrive("busybox.deb");
    const paths = (await tree).toEntries().map((entry) => entry.path);
    assert.deepEqual(read, ["nix-bin", "coreutils", "busybox"]);
    assert.equal(ready, 3);
    assert.ok(
      ["usr/bin/busybox", "usr/bin/nix-bin", "usr/bin/coreutils"].every((path) => paths.includes(path)),
    );
  });

  test("a failed download comes out as it is; a package that cannot be read is named", async () => {
    const failed = Promise.reject(new Error("coreutils 1: the sha256 does not match"));
    failed.catch(() => undefined);
    const withFailedDownload = packagesToUnpack(lock, {
      kernel: Promise.resolve("k.deb"),
      packages: [Promise.resolve("busybox.deb"), Promise.resolve("nix-bin.deb"), failed],
    });
    await assert.rejects(
      unpackPackages(
        withFailedDownload,
        results(async () => []),
      ),
      {
        message: "coreutils 1: the sha256 does not match",
      },
    );
    const arrived = packagesToUnpack(lock, {
      kernel: Promise.resolve("k.deb"),
      packages: ["busybox.deb", "nix-bin.deb", "coreutils.deb"].map((deb) => Promise.resolve(deb)),
    });
    const unreadable = results(async (pkg) => {
      if (pkg.name === "nix-bin") throw new Error("the xz data is corrupt");
      return [];
    });
    await assert.rejects(unpackPackages(arrived, unreadable), {
      code: "image.unpack",
      message: /^Cannot unpack nix-bin 1: the xz data is corrupt/,
      hint: /nix-bin\.deb passed its hash check/,
    });
  });
});
