/**
 * Composition against the real Debian mirror (with the test cache): the image is reproducible, a lock
 * reproduces it exactly, and the CLI reports where it is and how big.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { composeImage } from "../../src/image/compose.js";
import { DEFAULT_MIRROR, DEFAULT_SUITE } from "../../src/image/guest/profile.js";
import { hasPvhEntry } from "../../src/image/guest/pvh-kernel.js";
import { parseLock } from "../../src/image/lock.js";
import { testHome, testImage } from "../support/guest-vm.js";

const run = promisify(execFile);

describe("composing the amd64 image (slow, network)", () => {
  const scratch: string[] = [];
  after(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  test("composing again, and composing from the lock, give byte-identical images", {
    timeout: 15 * 60_000,
  }, async () => {
    const reference = await testImage("amd64");
    const files = async (dir: string) =>
      Promise.all(
        ["kernel", "initrd", "lock.json", "manifest.json"].map((name) => readFile(join(dir, name))),
      );
    const expected = await files(reference.directory);
    // The x86 kernel is the ELF inside Debian's bzImage, started at its PVH entry; the initrd an
    // uncompressed newc cpio.
    const [kernel, initrd] = expected;
    assert.ok(kernel !== undefined && hasPvhEntry(kernel), "the kernel is an ELF with a PVH entry note");
    assert.equal(initrd?.toString("latin1", 0, 6), "070701");

    const imagesDir = await mkdtemp(join(tmpdir(), "lb-images-"));
    scratch.push(imagesDir);
    const common = {
      arch: "amd64" as const,
      suite: DEFAULT_SUITE,
      mirror: DEFAULT_MIRROR,
      extraPackages: [],
      checkValidUntil: true,
      cacheDir: join(testHome(), "cache"),
      imagesDir,
    };
    const again = await composeImage({ ...common, force: true });
    assert.equal(again.reused, false);
    assert.equal(again.manifest.id, reference.manifest.id);
    assert.deepEqual(await files(again.directory), expected);

    const lockPath = join(reference.directory, "lock.json");
    const lock = parseLock(await readFile(lockPath, "utf8"), lockPath);
    const fromLock = await composeImage({
      ...common,
      imagesDir: join(imagesDir, "from-lock"),
      lock,
      force: true,
    });
    assert.equal(fromLock.manifest.id, reference.manifest.id);
    assert.deepEqual(await files(fromLock.directory), expected);

    // Without --force, the same inputs reuse the image as it is.
    const reused = await composeImage({ ...common, force: false });
    assert.equal(reused.reused, true);
    assert.equal(reused.directory, again.directory);
  });

  test("`image build` prints where the image is and how big; `image info` shows its packages", {
    timeout: 15 * 60_000,
  }, async () => {
    await testImage("amd64");
    const env = { ...process.env, LINUX_BUILDER_HOME: testHome() };
    const { stdout, stderr } = await run(
      "node",
      ["bin/linux-builder.js", "image", "build", "--arch", "amd64"],
      { env },
    );
    assert.match(
      stdout,
      new RegExp(
        `^${join(testHome(), "images")}/trixie-amd64-[0-9a-f]{16}\\n  kernel [0-9.]+ MiB, initrd [0-9.]+ MiB\\n$`,
      ),
    );
    assert.match(stderr, /Signed by: Debian Archive/);
    const info = JSON.parse(
      (await run("node", ["bin/linux-builder.js", "image", "info", "--arch", "amd64", "--json"], { env }))
        .stdout,
    );
    assert.equal(info.intact, true);
    assert.equal(info.current, true);
    assert.ok(info.lockedPackages.some((p: { name: string }) => p.name === "nix-bin"));
    assert.match(info.kernelPackage.name, /^linux-image-.*-cloud-amd64$/);
  });
});
