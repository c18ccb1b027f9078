import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ContentCache, derivedStampKey } from "../../../../src/image/cache/content-cache.js";
import { pruneCache } from "../../../../src/image/cache/prune.js";
import { VerifiedStamps } from "../../../../src/image/cache/verified-stamps.js";
import { derivedNames } from "../../../../src/image/compose/derived-results.js";
import { serializeLock } from "../../../../src/image/lock.js";
import type { ImageStore } from "../../../../src/image/store.js";
import { lockOf } from "../fake-lock.js";

const KEPT = "a".repeat(64);
const GONE = "b".repeat(64);

/** A store whose one image's lock pins the package KEPT. */
function storeKeeping(sha256: string): ImageStore {
  const lock = lockOf(["kept"]);
  const pinned = { ...lock, packages: [{ ...lock.packages[0], sha256 } as (typeof lock.packages)[0]] };
  return {
    list: async () => [{}],
    readLock: async () => JSON.parse(serializeLock(pinned)),
  } as unknown as ImageStore;
}

test("prune drops the derived files an older composer made, and the stamps of every file it removes", async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), "lb-prune-"));
  try {
    const root = join(cacheDir, "files");
    const cache = new ContentCache(root);
    const stamps = new VerifiedStamps(join(root, "verified"));
    for (const sha of [KEPT, GONE]) {
      await mkdir(join(root, "sha256", sha.slice(0, 2)), { recursive: true });
      await writeFile(cache.pathOf(sha), "deb");
      await stamps.record(sha, await stat(cache.pathOf(sha), { bigint: true }));
      await cache.storeDerived(sha, derivedNames.imageEntries(), Buffer.from("current"));
      // What an older format left, under a name this composer no longer reads.
      await cache.storeDerived(sha, "image-entries-0000000000000000", Buffer.from("stale"));
    }
    const stampCount = async () =>
      (
        await Promise.all(
          (await readdir(join(root, "verified"))).map((p) => readdir(join(root, "verified", p))),
        )
      ).flat().length;
    assert.equal(await stampCount(), 6);

    const pruned = await pruneCache(cacheDir, storeKeeping(KEPT), { all: false });
    assert.equal(pruned.files, 4, "GONE, its two derived files, and KEPT's stale one");
    const [current] = await readdir(join(root, "derived", KEPT));
    assert.deepEqual(await readdir(join(root, "derived")), [KEPT]);
    assert.equal((await readdir(join(root, "derived", KEPT))).length, 1);
    assert.ok(current?.startsWith(`${derivedNames.imageEntries()}@`));
    assert.equal(existsSync(cache.pathOf(GONE)), false);
    // The stamps of what stays, and only those.
    assert.equal(await stampCount(), 2);
    const key = derivedStampKey(KEPT, current as string);
    assert.ok(existsSync(join(root, "verified", key.slice(0, 2), key)));
    assert.ok(existsSync(join(root, "verified", KEPT.slice(0, 2), KEPT)));
    assert.deepEqual(await cache.readDerived(KEPT, derivedNames.imageEntries()), Buffer.from("current"));

    await pruneCache(cacheDir, storeKeeping(KEPT), { all: true });
    assert.equal(await stampCount(), 0, "--all leaves no stamp");
    assert.deepEqual(await readdir(join(root, "derived")), []);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});

test("prune drops the .deb of a locked package the image leaves out: no composition fetches it again", async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), "lb-prune-"));
  try {
    const root = join(cacheDir, "files");
    const cache = new ContentCache(root);
    const lock = lockOf(["busybox", "perl-base"]);
    const [busybox, perl] = lock.packages as [(typeof lock.packages)[0], (typeof lock.packages)[0]];
    const pinned = {
      ...lock,
      packages: [
        { ...busybox, sha256: KEPT },
        { ...perl, sha256: GONE },
      ],
    };
    const store = {
      list: async () => [{}],
      readLock: async () => JSON.parse(serializeLock(pinned)),
    } as unknown as ImageStore;
    for (const sha of [KEPT, GONE]) {
      await mkdir(join(root, "sha256", sha.slice(0, 2)), { recursive: true });
      await writeFile(cache.pathOf(sha), "deb");
    }
    const pruned = await pruneCache(cacheDir, store, { all: false });
    assert.equal(pruned.files, 1);
    assert.equal(existsSync(cache.pathOf(KEPT)), true);
    assert.equal(existsSync(cache.pathOf(GONE)), false);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});
