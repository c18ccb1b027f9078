import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  RememberedResolutions,
  resolutionKey,
} from "../../../../src/image/compose/remembered-resolutions.js";
import { lockOf } from "../fake-lock.js";

const question = { indexSha256: "a".repeat(64), suite: "trixie", arch: "amd64" as const, roots: ["app"] };
const lock = lockOf(["app"]);

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

test("the key changes with the index, the suite, the architecture and the roots", () => {
  const key = resolutionKey(question);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.equal(resolutionKey({ ...question }), key);
  for (const other of [
    { ...question, indexSha256: "b".repeat(64) },
    { ...question, suite: "forky" },
    { ...question, arch: "arm64" as const },
    { ...question, roots: ["app", "extra"] },
  ]) {
    assert.notEqual(resolutionKey(other), key);
  }
});

test("a lock remembered is recalled for the same question only; a damaged entry is none", async () => {
  const cacheDir = await mkdtemp(join(tmpdir(), "lb-resolutions-"));
  dirs.push(cacheDir);
  const remembered = new RememberedResolutions(cacheDir);
  assert.equal(await remembered.recall(question), undefined);
  await remembered.remember(question, lock);
  assert.deepEqual(await remembered.recall(question), lock);
  assert.equal(await remembered.recall({ ...question, roots: [] }), undefined);
  assert.deepEqual(await readdir(join(cacheDir, "resolutions")), [`${resolutionKey(question)}.json`]);

  await writeFile(join(cacheDir, "resolutions", `${resolutionKey(question)}.json`), "{ half");
  assert.equal(await remembered.recall(question), undefined);
});
