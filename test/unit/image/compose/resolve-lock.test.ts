import assert from "node:assert/strict";
import { test } from "node:test";
import { ContentCache } from "../../../../src/image/cache/content-cache.js";
import { quietReporter } from "../../../../src/image/compose/reporter.js";
import { lockToCompose } from "../../../../src/image/compose/resolve-lock.js";
import { GUEST_ROOT_PACKAGES } from "../../../../src/image/guest/profile.js";
import { lockOf } from "../fake-lock.js";

const options = {
  arch: "amd64",
  suite: "trixie",
  mirror: "http://127.0.0.1:9",
  extraPackages: [],
  checkValidUntil: true,
  cacheDir: "/nonexistent",
} as const;

test("a given lock without some of the guest's roots is composed, with a warning naming them", async () => {
  const old = GUEST_ROOT_PACKAGES.filter((name) => name !== "netcat-openbsd" && name !== "qemu-user");
  const warnings: string[] = [];
  const reporter = { ...quietReporter, warn: (message: string) => warnings.push(message) };
  const lock = lockOf(old);
  const { lock: composed } = await lockToCompose(
    { ...options, lock },
    new ContentCache("/nonexistent"),
    reporter,
  );
  assert.equal(composed, lock);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] as string, /lacks netcat-openbsd, qemu-user/);
  assert.match(warnings[0] as string, /works, slower/);

  warnings.length = 0;
  await lockToCompose(
    { ...options, lock: lockOf(GUEST_ROOT_PACKAGES) },
    new ContentCache("/nonexistent"),
    reporter,
  );
  assert.deepEqual(warnings, []);
});
