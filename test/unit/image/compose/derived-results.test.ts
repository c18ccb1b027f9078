import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ContentCache } from "../../../../src/image/cache/content-cache.js";
import {
  currentDerivedNames,
  derivedName,
  derivedNames,
  derivedResult,
} from "../../../../src/image/compose/derived-results.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const SOURCE = "ab".repeat(32);
const asText = (data: Buffer) => (data.toString().startsWith("made:") ? data.toString() : undefined);

async function cacheAndMaker(): Promise<{
  cache: ContentCache;
  make: () => Promise<Buffer>;
  made: () => number;
}> {
  const dir = await mkdtemp(join(tmpdir(), "lb-derived-"));
  dirs.push(dir);
  let count = 0;
  return {
    cache: new ContentCache(dir),
    make: async () => Buffer.from(`made:${++count}`),
    made: () => count,
  };
}

test("a result is made on a miss, kept, and taken from the cache on a hit", async () => {
  const { cache, make, made } = await cacheAndMaker();
  assert.equal(await derivedResult(cache, SOURCE, "thing", asText, make), "made:1");
  assert.equal(await derivedResult(cache, SOURCE, "thing", asText, make), "made:1");
  assert.equal(made(), 1);
  // Another name is another result.
  assert.equal(await derivedResult(cache, SOURCE, "other", asText, make), "made:2");
});

test("a damaged kept result is dropped and made again", async () => {
  const { cache, make, made } = await cacheAndMaker();
  await derivedResult(cache, SOURCE, "thing", asText, make);
  const folder = join(cache.root, "derived", SOURCE);
  const [kept] = await readdir(folder);
  await writeFile(join(folder, kept as string), "made:forged");
  assert.equal(await derivedResult(cache, SOURCE, "thing", asText, make), "made:2");
  assert.equal(made(), 2);
  assert.equal(await derivedResult(cache, SOURCE, "thing", asText, make), "made:2");
});

test("a kept result the reader cannot take is made again", async () => {
  const { cache, make } = await cacheAndMaker();
  await cache.storeDerived(SOURCE, "thing", Buffer.from("from another version"));
  assert.equal(await derivedResult(cache, SOURCE, "thing", asText, make), "made:1");
});

test("what the composer made unreadable is an error, not kept", async () => {
  const { cache } = await cacheAndMaker();
  await assert.rejects(
    derivedResult(cache, SOURCE, "thing", asText, async () => Buffer.from("garbage")),
    /cannot read back/,
  );
  assert.equal(await cache.readDerived(SOURCE, "thing"), undefined);
});

test("a result's name changes with what shaped it", () => {
  assert.equal(derivedName("image-entries", ["a/"]), derivedName("image-entries", ["a/"]));
  assert.notEqual(derivedName("image-entries", ["a/"]), derivedName("image-entries", ["b/"]));
  assert.match(derivedName("bootable-kernel-amd64"), /^bootable-kernel-amd64-[0-9a-f]{16}$/);
});

test("every result's name is among the current ones, and changes with what shaped it", () => {
  const current = currentDerivedNames();
  const named = [
    derivedNames.imageEntries(),
    ...(["amd64", "arm64"] as const).flatMap((arch) => [
      derivedNames.bootableKernel(arch),
      derivedNames.kernelModules(arch),
      derivedNames.kernelModuleList(arch),
    ]),
    derivedNames.emulator("x86_64-linux"),
    derivedNames.emulator("aarch64-linux"),
  ];
  assert.deepEqual(new Set(named), current);
  assert.equal(current.size, 9);
  assert.notEqual(
    derivedName("image-entries", ["usr/share/doc/"]),
    derivedName("image-entries", ["usr/share/"]),
  );
});
