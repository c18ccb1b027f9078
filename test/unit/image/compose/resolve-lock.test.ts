import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import type { LinuxBuilderError } from "../../../../src/errors.js";
import { ContentCache } from "../../../../src/image/cache/content-cache.js";
import { quietReporter } from "../../../../src/image/compose/reporter.js";
import { lockToCompose, resolveLock } from "../../../../src/image/compose/resolve-lock.js";
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

test("a keyring that cannot be read is reported before a failed download, however late it fails", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-resolve-lock-"));
  // A 404 at once; the keyring, a FIFO, fails only once written to, well after.
  const server = createServer((_request, response) => response.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const keyring = join(dir, "keyring.gpg");
  await promisify(execFile)("mkfifo", [keyring]);
  const late = setTimeout(() => void writeFile(keyring, "not a keyring"), 300);
  try {
    const resolving = resolveLock(
      { ...options, mirror: `http://127.0.0.1:${port}`, keyringFiles: [keyring], cacheDir: dir },
      new ContentCache(join(dir, "cache")),
      quietReporter,
    );
    await assert.rejects(resolving, (error: LinuxBuilderError) => {
      assert.match(error.code, /^debian\.keyring/);
      return true;
    });
  } finally {
    clearTimeout(late);
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
