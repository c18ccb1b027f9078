import assert from "node:assert/strict";
import { test } from "node:test";
import { LinuxBuilderError } from "../../../../src/errors.js";
import { bootWithCrashRetry, KernelCrashedError } from "../../../../src/vm/lifecycle/kernel-crash.js";

test("a kernel crash is a LinuxBuilderError callers can tell by its class and its code", () => {
  const crash = new KernelCrashedError("Oops: int3: 0000 [#1]");
  assert.ok(crash instanceof LinuxBuilderError);
  assert.equal(crash.code, "vm.kernel-crashed");
  assert.equal(crash.message, "The builder's kernel crashed while booting (Oops: int3: 0000 [#1])");
});

test("a crash thrown by the first boot: told, then booted once more", async () => {
  const told: (string | undefined)[] = [];
  const attempts: number[] = [];
  const result = await bootWithCrashRetry(
    async (attempt) => {
      attempts.push(attempt);
      if (attempt === 1) throw new KernelCrashedError("Oops: int3");
      return "ready";
    },
    () => false,
    (crash) => told.push(crash?.message),
  );
  assert.equal(result, "ready");
  assert.deepEqual(attempts, [1, 2]);
  assert.deepEqual(told, ["The builder's kernel crashed while booting (Oops: int3)"]);
});

test("a crash seen in the first boot's result: booted once more", async () => {
  let told = 0;
  const result = await bootWithCrashRetry(
    async (attempt) => ({ attempt, crashed: attempt === 1 }),
    (boot) => boot.crashed,
    () => told++,
  );
  assert.deepEqual(result, { attempt: 2, crashed: false });
  assert.equal(told, 1);
});

test("only once: a second crash is the caller's; other errors are never retried", async () => {
  await assert.rejects(
    bootWithCrashRetry(
      async () => {
        throw new KernelCrashedError("Kernel panic");
      },
      () => false,
      () => undefined,
    ),
    KernelCrashedError,
  );
  let attempts = 0;
  await assert.rejects(
    bootWithCrashRetry(
      async () => {
        attempts++;
        throw new LinuxBuilderError("vm.died", "gone");
      },
      () => false,
      () => undefined,
    ),
    { code: "vm.died" },
  );
  assert.equal(attempts, 1);
});
