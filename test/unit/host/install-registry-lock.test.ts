import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LinuxBuilderError } from "../../../src/errors.js";
import { withRegistryLock } from "../../../src/host/install-registry-lock.js";

/** A pid that is no process: one that has just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(child.stdout);
}

describe("the lock of the record of installed builders", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-registry-lock-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("holders take turns: the work of one never overlaps another's; the lock is gone after", async () => {
    const lock = join(dir, "turns.lock");
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withRegistryLock(lock, async () => {
          inside++;
          most = Math.max(most, inside);
          assert.equal((await readFile(lock, "utf8")).trim(), String(process.pid));
          await new Promise((done) => setTimeout(done, 5));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
    await assert.rejects(stat(lock), { code: "ENOENT" });
  });

  test("a lock left by a dead process is taken over", async () => {
    const lock = join(dir, "stale.lock");
    await writeFile(lock, String(deadPid()));
    assert.equal(await withRegistryLock(lock, async () => "done", { waitMs: 2000 }), "done");
  });

  test("a live holder that does not let go: an error naming the lock and its holder, after the wait", async () => {
    const lock = join(dir, "held.lock");
    await writeFile(lock, String(process.ppid));
    await assert.rejects(
      withRegistryLock(lock, async () => "never", { waitMs: 100, pollMs: 10 }),
      (error: unknown) =>
        error instanceof LinuxBuilderError &&
        error.message.startsWith(`${lock} is held by another linux-builder (pid ${process.ppid})`) &&
        /remove .*held\.lock/.test(error.hint ?? ""),
    );
    assert.equal((await readFile(lock, "utf8")).trim(), String(process.ppid));
  });

  test("a live holder's lock dated before the host's boot (a clock stepped forward) is still its", async () => {
    const lock = join(dir, "old.lock");
    await writeFile(lock, String(process.ppid));
    await utimes(lock, new Date(0), new Date(0));
    await assert.rejects(
      withRegistryLock(lock, async () => "never", { waitMs: 100, pollMs: 10 }),
      (error: unknown) => error instanceof LinuxBuilderError && error.code === "install.registry",
    );
    assert.equal(await readFile(lock, "utf8"), String(process.ppid));
  });

  test("the lock is let go when the work fails", async () => {
    const lock = join(dir, "fails.lock");
    await assert.rejects(
      withRegistryLock(lock, async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    await assert.rejects(stat(lock), { code: "ENOENT" });
  });
});
