import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LinuxBuilderError } from "../../../../src/errors.js";
import type { AccelChoice, AccelRequest } from "../../../../src/vm/backend.js";
import { chooseAccelEarly, PROBE_KERNEL_FILE } from "../../../../src/vm/lifecycle/early-accel.js";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * A backend whose chooseAccel probes (asks for the kernel, reads it, answers kvm once `finish` is
 * called) or, with `remembered`, answers at once without a kernel.
 */
function fakeBackend(remembered = false) {
  const seen: { kernel?: string; bytes?: string; signal?: AbortSignal } = {};
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const backend = {
    chooseAccel: async (request: AccelRequest<"kvm" | "tcg">): Promise<AccelChoice<"kvm" | "tcg">> => {
      if (remembered) return { accel: "kvm" };
      if (request.signal) seen.signal = request.signal;
      seen.kernel = await request.kernel();
      seen.bytes = await readFile(seen.kernel, "utf8");
      await finished;
      return { accel: "kvm" };
    },
  };
  return { backend, seen, finish: () => finish() };
}

async function withState(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "lb-early-"));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the accelerator chosen beside the composition", () => {
  test("the composer's kernel is written to the state folder for the probe, and removed once it is over", async () => {
    await withState(async (dir) => {
      const fake = fakeBackend();
      const early = chooseAccelEarly(fake.backend, { requested: "auto", arch: "amd64", stateDir: dir });
      early.offer({ bytes: Buffer.from("the composer's kernel") });
      early.offer({ path: "/images/later/kernel" });
      for (let i = 0; i < 100 && fake.seen.bytes === undefined; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(
        fake.seen.kernel,
        join(dir, PROBE_KERNEL_FILE),
        "the first kernel offered is the one probed",
      );
      assert.equal(fake.seen.bytes, "the composer's kernel");
      fake.finish();
      assert.deepEqual(await early.choice, { accel: "kvm" });
      assert.equal(await exists(join(dir, PROBE_KERNEL_FILE)), false);
    });
  });

  test("a kernel already there is probed where it is", async () => {
    await withState(async (dir) => {
      const fake = fakeBackend();
      const kernel = join(dir, "older-image-kernel");
      await writeFile(kernel, "an older image's kernel");
      const early = chooseAccelEarly(fake.backend, { requested: "auto", arch: "amd64", stateDir: dir });
      early.offer({ path: kernel });
      early.offer({ bytes: Buffer.from("the composer's kernel") });
      fake.finish();
      assert.deepEqual(await early.choice, { accel: "kvm" });
      assert.equal(fake.seen.kernel, kernel);
      assert.equal(
        await exists(join(dir, PROBE_KERNEL_FILE)),
        false,
        "the composer's bytes are never written",
      );
    });
  });

  test("a remembered verdict: nothing written, whatever is offered", async () => {
    await withState(async (dir) => {
      const early = chooseAccelEarly(fakeBackend(true).backend, {
        requested: "auto",
        arch: "amd64",
        stateDir: dir,
      });
      assert.deepEqual(await early.choice, { accel: "kvm" });
      early.offer({ bytes: Buffer.from("the composer's kernel") });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(await exists(join(dir, PROBE_KERNEL_FILE)), false);
    });
  });

  test("abandoned while it waits for a kernel (the composition failed): it ends, cancelled", async () => {
    await withState(async (dir) => {
      const fake = fakeBackend();
      const early = chooseAccelEarly(fake.backend, { requested: "auto", arch: "amd64", stateDir: dir });
      await early.abandon();
      await assert.rejects(
        early.choice,
        (error: unknown) => error instanceof LinuxBuilderError && error.code === "vm.cancelled",
      );
    });
  });

  test("abandoned before the backend asks for a kernel (it checks its files first): it ends, cancelled", async () => {
    await withState(async (dir) => {
      const backend = {
        chooseAccel: async (request: AccelRequest<"kvm" | "tcg">): Promise<AccelChoice<"kvm" | "tcg">> => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          await request.kernel();
          return { accel: "kvm" };
        },
      };
      const early = chooseAccelEarly(backend, { requested: "auto", arch: "amd64", stateDir: dir });
      const ended = await Promise.race([
        early.abandon().then(() => "ended"),
        new Promise((resolve) => setTimeout(() => resolve("hangs"), 2_000).unref()),
      ]);
      assert.equal(ended, "ended", "abandon() returns: the start's own error is not lost");
      await assert.rejects(
        early.choice,
        (error: unknown) => error instanceof LinuxBuilderError && error.code === "vm.cancelled",
      );
    });
  });

  test("the composition, as the probe sees it: running until the image is ready, then its kernel", async () => {
    await withState(async (dir) => {
      const seen: string[] = [];
      const backend = {
        chooseAccel: async (request: AccelRequest<"kvm" | "tcg">): Promise<AccelChoice<"kvm" | "tcg">> => {
          await request.kernel();
          seen.push(`running: ${request.composition?.running()}`);
          seen.push(`done: ${await request.composition?.done()}`);
          seen.push(`running: ${request.composition?.running()}`);
          return { accel: "kvm" };
        },
      };
      const early = chooseAccelEarly(backend, { requested: "auto", arch: "amd64", stateDir: dir });
      early.offer({ bytes: Buffer.from("the composer's kernel") });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(seen, ["running: true"], "it waits for the image");
      early.ready("/images/new/kernel");
      assert.deepEqual(await early.choice, { accel: "kvm" });
      assert.deepEqual(seen, ["running: true", "done: /images/new/kernel", "running: false"]);
    });
  });

  test("abandoned while a probe waits for the image: it ends, cancelled", async () => {
    await withState(async (dir) => {
      const backend = {
        chooseAccel: async (request: AccelRequest<"kvm" | "tcg">): Promise<AccelChoice<"kvm" | "tcg">> => {
          await request.kernel();
          await request.composition?.done();
          return { accel: "kvm" };
        },
      };
      const early = chooseAccelEarly(backend, { requested: "auto", arch: "amd64", stateDir: dir });
      early.offer({ path: "/images/older/kernel" });
      await new Promise((resolve) => setTimeout(resolve, 20));
      await early.abandon();
      await assert.rejects(early.choice, { code: "vm.cancelled" });
    });
  });

  test("cancelled: the composer's kernel is removed at once (a Ctrl-C ends the process right after)", async () => {
    await withState(async (dir) => {
      const fake = fakeBackend();
      const cancel = new AbortController();
      const early = chooseAccelEarly(fake.backend, {
        requested: "auto",
        arch: "amd64",
        stateDir: dir,
        signal: cancel.signal,
      });
      early.offer({ bytes: Buffer.from("k") });
      for (let i = 0; i < 100 && fake.seen.bytes === undefined; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(existsSync(join(dir, PROBE_KERNEL_FILE)), true);
      cancel.abort();
      assert.equal(existsSync(join(dir, PROBE_KERNEL_FILE)), false, "gone before abort() returns");
      fake.finish();
      await early.choice;
    });
  });

  test("the start's cancel reaches the probe", async () => {
    await withState(async (dir) => {
      const fake = fakeBackend();
      const cancel = new AbortController();
      const early = chooseAccelEarly(fake.backend, {
        requested: "auto",
        arch: "amd64",
        stateDir: dir,
        signal: cancel.signal,
      });
      early.offer({ bytes: Buffer.from("k") });
      for (let i = 0; i < 100 && fake.seen.bytes === undefined; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(fake.seen.signal?.aborted, false);
      cancel.abort();
      assert.equal(fake.seen.signal?.aborted, true);
      fake.finish();
      await early.choice;
    });
  });
});
