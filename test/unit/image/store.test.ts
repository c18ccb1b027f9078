import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pruneCache } from "../../../src/image/cache/prune.js";
import { derivedNames } from "../../../src/image/compose/derived-results.js";
import { type Lock, serializeLock } from "../../../src/image/lock.js";
import { ImageStore, type NewImage } from "../../../src/image/store.js";

const pkg = (name: string, hash: string) => ({
  name,
  version: "1",
  architecture: "amd64" as const,
  filename: `pool/main/x/${name}_1_amd64.deb`,
  size: 1,
  sha256: hash.repeat(64),
});

function image(arch: "amd64" | "arm64", initrd: string, lock: Lock): NewImage {
  return {
    arch,
    suite: "trixie",
    nixSystem: arch === "amd64" ? "x86_64-linux" : "aarch64-linux",
    kernelVersion: "6.12",
    kernel: Buffer.from("kernel"),
    initrd: Buffer.from(initrd),
    initrdUncompressedSize: 100,
    lockText: serializeLock(lock),
    inputs: `inputs-${initrd}`,
    modules: [],
    packageCount: lock.packages.length,
    emulators: arch === "amd64" ? ["aarch64-linux"] : [],
    caFingerprints: ["ab".repeat(32)],
  };
}

describe("ImageStore", () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lb-store-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const lockA: Lock = {
    lockVersion: 1,
    suite: "trixie",
    arch: "amd64",
    roots: [],
    kernel: pkg("kernel-k", "a"),
    packages: [pkg("pkg-p", "b")],
  };
  const lockB: Lock = { ...lockA, packages: [pkg("pkg-q", "c")] };

  test("images are named by content, found by inputs, verified, listed and pruned", async () => {
    const store = new ImageStore(join(root, "images"));
    const first = await store.add(image("amd64", "one", lockA));
    const again = await store.add(image("amd64", "one", lockA));
    assert.equal(again.directory, first.directory, "same content, same directory");
    assert.match(first.manifest.id, /^trixie-amd64-[0-9a-f]{16}$/);
    const second = await store.add(image("amd64", "two", lockB));
    assert.notEqual(second.manifest.id, first.manifest.id);
    await store.setCurrent("amd64", second.manifest.id);
    assert.equal(await store.currentId("amd64"), second.manifest.id);
    assert.equal((await store.findByInputs("inputs-one"))?.manifest.id, first.manifest.id);
    assert.equal((await store.list()).length, 2);

    // A damaged image is not reused; `start`'s quick check sees a truncated one.
    assert.equal(await store.looksIntact(first), true);
    await writeFile(join(first.directory, "initrd"), "tampered");
    assert.equal(await store.verify(first), false);
    assert.equal(await store.looksIntact(first), false);
    assert.equal(await store.findByInputs("inputs-one"), undefined);

    // The package cache keeps what the remaining images' locks refer to.
    const cacheDir = join(root, "cache");
    for (const hash of ["a", "b", "c", "d"]) {
      await mkdir(join(cacheDir, "files", "sha256", hash.repeat(2)), { recursive: true });
      await writeFile(join(cacheDir, "files", "sha256", hash.repeat(2), hash.repeat(64)), "x");
      // A file taken out of it (qemu-user's interpreter) goes with it.
      await mkdir(join(cacheDir, "files", "derived", hash.repeat(64)), { recursive: true });
      await writeFile(
        join(cacheDir, "files", "derived", hash.repeat(64), `${derivedNames.emulator("aarch64-linux")}@0`),
        "y",
      );
    }
    const pruned = await store.prune({ all: false });
    assert.deepEqual(pruned.removed, [first.manifest.id]);
    assert.deepEqual(
      (await store.list()).map((i) => i.manifest.id),
      [second.manifest.id],
    );
    const cache = await pruneCache(cacheDir, store, { all: false });
    assert.equal(cache.files, 4, "b and d are no longer referenced, nor what was taken out of them");
    assert.deepEqual((await readdir(join(cacheDir, "files", "derived"))).sort(), [
      "a".repeat(64),
      "c".repeat(64),
    ]);
    assert.deepEqual((await readdir(join(cacheDir, "files", "sha256"))).sort(), ["aa", "bb", "cc", "dd"]);
    assert.deepEqual(await readdir(join(cacheDir, "files", "sha256", "bb")), []);
    assert.deepEqual(await readdir(join(cacheDir, "files", "sha256", "cc")), ["c".repeat(64)]);

    await store.prune({ all: true });
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.currentId("amd64"), undefined);
  });

  test("an unknown image id is a clear error", async () => {
    const store = new ImageStore(join(root, "images"));
    await assert.rejects(
      store.get("trixie-amd64-0000000000000000"),
      /No image named trixie-amd64-0000000000000000/,
    );
    await assert.rejects(store.get("../etc"), /No image named \.\.\/etc/);
  });
});
