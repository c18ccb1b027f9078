import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { writeFileAtomic } from "../../../src/fs/write-file-atomic.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lb-atomic-"));
  dirs.push(dir);
  return dir;
}

test("writes the whole file with exactly the mode asked (the umask does not narrow it), and replaces an old one", async () => {
  const dir = await scratch();
  const path = join(dir, "state.json");
  await writeFile(path, "old");
  const umask = process.umask(0o077);
  try {
    await writeFileAtomic(path, "new\n", 0o644);
  } finally {
    process.umask(umask);
  }
  assert.equal(await readFile(path, "utf8"), "new\n");
  assert.equal((await stat(path)).mode & 0o777, 0o644);
  await writeFileAtomic(path, Buffer.from("key"), 0o600);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ["state.json"], "no temp file is left");
});

test("a failed write leaves the old file and no temp file", async () => {
  const dir = await scratch();
  const path = join(dir, "target");
  // A directory in the way: the rename fails after the temp file was written.
  await mkdir(join(path, "child"), { recursive: true });
  await assert.rejects(writeFileAtomic(path, "data", 0o644));
  assert.deepEqual(await readdir(dir), ["target"]);
  assert.deepEqual(await readdir(path), ["child"]);
});
