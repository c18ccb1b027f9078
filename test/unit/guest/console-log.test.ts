import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { consoleOffset, readConsoleSince } from "../../../src/guest/console-log.js";

test("reading a boot's console: from its offset, at most the last 64 KiB, nothing for a missing log", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-console-"));
  try {
    const log = join(dir, "console.log");
    assert.equal(await readConsoleSince(log, 0), "");
    assert.equal(await consoleOffset(log), 0);
    await writeFile(log, "before\n");
    const offset = await consoleOffset(log);
    await appendFile(log, `${"x".repeat(70 * 1024)}\nlinux-builder: READY at 2.7s\n`);
    const printed = await readConsoleSince(log, offset);
    assert.equal(printed.length, 64 * 1024);
    assert.ok(printed.endsWith("linux-builder: READY at 2.7s\n"));
    assert.equal(await readConsoleSince(log, (await consoleOffset(log)) - 5), "2.7s\n");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
