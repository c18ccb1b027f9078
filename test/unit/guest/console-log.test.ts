import assert from "node:assert/strict";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { consoleOffset, readConsoleSince, waitForGuestSignal } from "../../../src/guest/console-log.js";

test("watching the console log: only this boot's part counts, a line split across reads is found", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-console-"));
  try {
    const log = join(dir, "console.log");
    await writeFile(log, "linux-builder: READY at 3.1s\n"); // the previous boot's
    const offset = await consoleOffset(log);
    const deadline = Date.now() + 5000;
    const waiting = waitForGuestSignal(log, offset, { deadline, alive: async () => true, intervalMs: 5 });
    await appendFile(log, "linux-builder: stage 2 at 1.9s\nlinux-builder: RE");
    await new Promise((resolve) => setTimeout(resolve, 30));
    await appendFile(log, "ADY at 2.7s\n");
    assert.deepEqual(await waiting, { kind: "ready" });
    // A VM that is gone, and a deadline that passes.
    const end = await consoleOffset(log);
    assert.equal(await waitForGuestSignal(log, end, { deadline, alive: async () => false }), "gone");
    assert.equal(
      await waitForGuestSignal(log, end, { deadline: Date.now() + 50, alive: async () => true }),
      undefined,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

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
