import assert from "node:assert/strict";
import type { BigIntStats } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isRacy, RACY_MS, VerifiedStamps } from "../../../../src/image/cache/verified-stamps.js";

const changedAt = (ms: number) => ({ ctimeNs: BigInt(ms) * 1_000_000n, mtimeNs: 0n }) as BigIntStats;

test("a file that changed within RACY_MS of its hash is racy, one that changed before is not", () => {
  const hashedAt = 1_000_000;
  assert.equal(isRacy(changedAt(hashedAt - 1), hashedAt), true);
  assert.equal(isRacy(changedAt(hashedAt - RACY_MS + 1), hashedAt), true);
  assert.equal(isRacy(changedAt(hashedAt - RACY_MS), hashedAt), false);
  assert.equal(isRacy(changedAt(hashedAt + 5000), hashedAt), true, "a ctime in the future is not trusted");
});

test("a stamp vouches for the stat it recorded, and for no other", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-stamps-"));
  try {
    const stamps = new VerifiedStamps(join(dir, "verified"));
    const sha = "ab".repeat(32);
    const file = join(dir, "file");
    await writeFile(file, "one");
    const first = await stat(file, { bigint: true });
    assert.equal(await stamps.vouchFor(sha, first), false, "no stamp yet");
    await stamps.record(sha, first);
    assert.equal(await stamps.vouchFor(sha, first), true);
    await writeFile(file, "three");
    assert.equal(await stamps.vouchFor(sha, await stat(file, { bigint: true })), false, "rewritten");
    assert.equal(await stamps.vouchFor("cd".repeat(32), first), false, "another hash's stamp");
    await writeFile(join(dir, "verified", "ab", sha), "{ not json");
    assert.equal(await stamps.vouchFor(sha, first), false, "a damaged stamp vouches for nothing");
    await stamps.record(sha, first);
    await stamps.forget(sha);
    assert.equal(await stamps.vouchFor(sha, first), false, "forgotten");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
