import assert from "node:assert/strict";
import { mkdtemp, readdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { LinuxBuilderError } from "../../../../src/errors.js";
import { ContentCache } from "../../../../src/image/cache/content-cache.js";
import { composeTasks } from "../../../../src/image/compose/compose-tasks.js";
import {
  ComposeWorkers,
  errorOf,
  failureOf,
  startWorker,
} from "../../../../src/image/compose/compose-workers.js";
import { DebResults } from "../../../../src/image/compose/deb-results.js";
import { GUEST_MODULES, IMAGE_EXCLUDED_PREFIXES } from "../../../../src/image/guest/profile.js";
import { fakeDeb } from "../fake-deb.js";
import { lockedPackage } from "../fake-lock.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lb-deb-results-"));
  dirs.push(dir);
  return dir;
}

const PACKAGE = {
  "usr/bin/tool": "#!/bin/sh\n",
  "usr/bin/tool2": { hardlink: "usr/bin/tool" },
  "usr/bin/t": { symlink: "tool" },
  "usr/share/doc/tool/copyright": "docs, left out",
};

// Every module the guest wants is built into this kernel: no module files to decompress.
const KERNEL = {
  "boot/vmlinuz-6.1.0-test": "not a bzImage: booted as it is",
  "lib/modules/6.1.0-test/modules.builtin": GUEST_MODULES.amd64
    .map((name) => `kernel/x/${name}.ko\n`)
    .join(""),
};

describe("the composer's work on .debs, in worker threads", () => {
  test("a thread gives what the task gives in this thread", async () => {
    const deb = await fakeDeb(await tempDir(), PACKAGE);
    const workers = new ComposeWorkers(2);
    try {
      const [inThread, here] = await Promise.all([
        workers.run("imageEntries", deb, IMAGE_EXCLUDED_PREFIXES),
        composeTasks.imageEntries(deb, IMAGE_EXCLUDED_PREFIXES),
      ]);
      assert.ok(Buffer.isBuffer(inThread));
      assert.deepEqual(inThread, here);
      // The kernel is handed over early, before the task ends.
      const events: string[] = [];
      const parts = await workers
        .run("kernelParts", await fakeDeb(await tempDir(), KERNEL), "amd64", "linux-test", (kernel) => {
          assert.ok(Buffer.isBuffer(kernel));
          events.push(`early ${kernel.toString()}`);
        })
        .then((parts) => {
          events.push("done");
          return parts;
        });
      assert.deepEqual(events, ["early not a bzImage: booted as it is", "done"]);
      assert.equal(parts.version, "6.1.0-test");
      assert.ok(Buffer.isBuffer(parts.files));
    } finally {
      await workers.close();
    }
  });

  test("a task's error comes back with its code and hint", async () => {
    const deb = await fakeDeb(await tempDir(), PACKAGE);
    const workers = new ComposeWorkers(1);
    try {
      const early = () => assert.fail("no kernel to hand over");
      await assert.rejects(workers.run("kernelParts", deb, "amd64", "linux-test", early), {
        code: "kernel.missing",
        message: /Cannot find a kernel image .* in linux-test/,
        hint: /report this/,
      });
      // The thread goes on serving.
      assert.ok(await workers.run("imageEntries", deb, []));
    } finally {
      await workers.close();
    }
  });

  test("a thread's other errors come back with their code, stack and cause", async () => {
    const workers = new ComposeWorkers(1);
    try {
      const missing = join(await tempDir(), "missing.deb");
      await assert.rejects(workers.run("imageEntries", missing, []), (error: Error) => {
        assert.ok(error instanceof LinuxBuilderError);
        assert.equal(error.code, "archive.deb");
        // What the reader wrapped: Node's own error, code and all.
        const cause = error.cause as NodeJS.ErrnoException;
        assert.equal(cause.code, "ENOENT");
        assert.equal(cause.syscall, "open");
        assert.equal(cause.path, missing);
        // The thread's stack, not this thread's.
        assert.doesNotMatch(error.stack ?? "", /compose-workers\.ts/);
        return true;
      });
    } finally {
      await workers.close();
    }
    const thrown = new LinuxBuilderError("kernel.missing", "outer", { hint: "h", cause: new Error("inner") });
    const again = errorOf(failureOf(thrown));
    assert.ok(again instanceof LinuxBuilderError);
    assert.equal(again.code, "kernel.missing");
    assert.equal(again.hint, "h");
    assert.equal(again.stack, thrown.stack);
    assert.equal((again.cause as Error).message, "inner");
  });

  test("threads started ahead serve the tasks that come, and close without any", async () => {
    const deb = await fakeDeb(await tempDir(), PACKAGE);
    const unused = new ComposeWorkers(2);
    unused.start();
    await unused.close();
    const workers = new ComposeWorkers(2);
    try {
      workers.start();
      workers.start();
      const [one, two] = await Promise.all([
        workers.run("imageEntries", deb, IMAGE_EXCLUDED_PREFIXES),
        workers.run("imageEntries", deb, IMAGE_EXCLUDED_PREFIXES),
      ]);
      assert.deepEqual(one, await composeTasks.imageEntries(deb, IMAGE_EXCLUDED_PREFIXES));
      assert.deepEqual(two, one);
    } finally {
      await workers.close();
    }
  });

  test("runFirst's tasks go before those queued by run", async () => {
    const deb = await fakeDeb(await tempDir(), PACKAGE);
    const workers = new ComposeWorkers(1);
    const done: string[] = [];
    const task = (name: string, pending: Promise<unknown>) => pending.then(() => done.push(name));
    try {
      await Promise.all([
        task("running", workers.run("imageEntries", deb, [])),
        task("queued", workers.run("imageEntries", deb, [])),
        task("first", workers.runFirst("imageEntries", deb, [])),
        task("first, second", workers.runFirst("imageEntries", deb, [])),
      ]);
      assert.deepEqual(done, ["running", "first", "first, second", "queued"]);
    } finally {
      await workers.close();
    }
  });

  test("closing the threads fails what is still running or queued", async () => {
    const deb = await fakeDeb(await tempDir(), PACKAGE);
    const workers = new ComposeWorkers(1);
    const outcomes = Promise.allSettled([
      workers.run("imageEntries", deb, []), // running
      workers.run("imageEntries", deb, []), // queued behind it
    ]);
    await workers.close();
    for (const outcome of await outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.match(String(outcome.reason), /closed/);
    }
  });

  test("closed threads start no thread again: start does nothing, and a task fails", async () => {
    const deb = await fakeDeb(await tempDir(), PACKAGE);
    let started = 0;
    const workers = new ComposeWorkers(2, () => {
      started++;
      return startWorker();
    });
    try {
      await workers.close();
      workers.start();
      await assert.rejects(workers.run("imageEntries", deb, []), /closed: cannot run imageEntries/);
      await assert.rejects(workers.runFirst("debFiles", deb, []), /closed: cannot run debFiles/);
      assert.equal(started, 0);
    } finally {
      // Stops what a closed pool might have started, so that a failure does not also hang the test.
      await workers.close();
    }
  });
});

describe("DebResults", () => {
  test("a kernel .deb without a kernel fails both results", async () => {
    const dir = await tempDir();
    const deb = await fakeDeb(dir, PACKAGE);
    const results = new DebResults(new ContentCache(join(dir, "cache")));
    try {
      const both = results.kernel({ ...lockedPackage("linux-test"), sha256: "78".repeat(32) }, deb, "amd64");
      await assert.rejects(both.bootable, { code: "kernel.missing" });
      await assert.rejects(both.files, { code: "kernel.missing" });
    } finally {
      await results.close();
    }
  });

  test("closed before its threads started, it starts none later (a download still under way)", async () => {
    const dir = await tempDir();
    const deb = await fakeDeb(dir, PACKAGE);
    const results = new DebResults(new ContentCache(join(dir, "cache")));
    await results.close();
    results.prepare();
    try {
      await assert.rejects(
        results.imageEntries({ ...lockedPackage("tool"), sha256: "56".repeat(32) }, deb),
        /closed: cannot run imageEntries/,
      );
    } finally {
      await results.workers.close();
    }
  });

  test("made on a miss, taken from the cache on a hit without reading the .deb, made again when damaged", async () => {
    const dir = await tempDir();
    const deb = await fakeDeb(dir, PACKAGE);
    const pkg = { ...lockedPackage("tool"), sha256: "12".repeat(32) };
    const cache = new ContentCache(join(dir, "cache"));
    const entries = async () => {
      const results = new DebResults(cache);
      try {
        return (await results.imageEntries(pkg, deb)).map((entry) => `${entry.type} ${entry.path}`);
      } finally {
        await results.close();
      }
    };
    const expected = [
      "directory usr",
      "directory usr/bin",
      "symlink usr/bin/t",
      "file usr/bin/tool",
      "hardlink usr/bin/tool2",
      "directory usr/share",
    ];
    assert.deepEqual(await entries(), expected);

    await rename(deb, `${deb}.away`);
    assert.deepEqual(await entries(), expected, "a hit does not read the .deb");

    const folder = join(cache.root, "derived", pkg.sha256);
    for (const name of await readdir(folder)) await writeFile(join(folder, name), "damaged");
    await assert.rejects(entries(), /fake\.deb/, "a damaged result is not used");
    await rename(`${deb}.away`, deb);
    assert.deepEqual(await entries(), expected);
  });

  test("the kernel's files and the kernel, from one task in a thread and then from the cache", async () => {
    const dir = await tempDir();
    const deb = await fakeDeb(dir, KERNEL);
    const kernel = { ...lockedPackage("linux-test"), sha256: "34".repeat(32) };
    const cache = new ContentCache(join(dir, "cache"));
    for (let round = 0; round < 2; round++) {
      const results = new DebResults(cache);
      const tasks: string[] = [];
      const runFirst = results.workers.runFirst.bind(results.workers);
      results.workers.runFirst = ((task, ...args) => {
        tasks.push(task);
        return runFirst(task, ...args);
      }) as typeof runFirst;
      try {
        const both = results.kernel(kernel, deb, "amd64");
        const bootable = await both.bootable;
        assert.equal(bootable.toString(), "not a bzImage: booted as it is");
        const files = await both.files;
        // The .deb is read once for both, and not at all once the cache holds them.
        assert.deepEqual(tasks, round === 0 ? ["kernelParts"] : []);
        assert.equal(files.version, "6.1.0-test");
        assert.deepEqual(files.modules, []);
        assert.deepEqual(
          files.files.map((entry) => entry.path),
          ["etc/linux-builder/modules", "etc/linux-builder/modules.late"],
        );
      } finally {
        await results.close();
      }
      if (round === 0) await rename(deb, `${deb}.away`);
    }
  });

  test("kernel modules the composer cannot read back fail the compose, and are not kept", async () => {
    const dir = await tempDir();
    const kernel = { ...lockedPackage("linux-test"), sha256: "56".repeat(32) };
    const cache = new ContentCache(join(dir, "cache"));
    const results = new DebResults(cache);
    // A thread's result that is no entry pack: without the check, an image without modules.
    const made = { version: "6.1.0-test", modules: ["virtio_blk"], files: Buffer.from("not a pack") };
    Object.defineProperty(results, "workers", {
      value: { runFirst: async () => made, close: async () => {} },
    });
    await assert.rejects(results.kernel(kernel, "unused.deb", "amd64").files, /cannot read back/);
    assert.deepEqual(await readdir(join(cache.root, "derived", kernel.sha256)).catch(() => []), []);
  });
});
