import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readFileOr } from "../../../src/fs/read-file-or.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

test("the file's bytes, or the caller's error with the reason as its cause", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-read-"));
  dirs.push(dir);
  await writeFile(join(dir, "present"), "bytes");
  const failure = (cause: unknown) => new Error(`cannot read it: ${(cause as NodeJS.ErrnoException).code}`);
  assert.equal((await readFileOr(join(dir, "present"), failure)).toString(), "bytes");
  await assert.rejects(readFileOr(join(dir, "absent"), failure), { message: "cannot read it: ENOENT" });
});
