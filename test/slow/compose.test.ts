/**
 * Composition against the real Debian mirror (with the test cache): the image is reproducible, a lock
 * reproduces it exactly, and the CLI reports where it is and how big.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { ensureImage } from "../../src/app/ensure-image.js";
import { imageIo } from "../../src/cli/output.js";
import { defaultConfig } from "../../src/config/config.js";
import { composeImage } from "../../src/image/compose/compose-image.js";
import { imageInputs } from "../../src/image/compose/image-inputs.js";
import { DEFAULT_MIRROR, DEFAULT_SUITE } from "../../src/image/guest/profile.js";
import { hasPvhEntry } from "../../src/image/guest/pvh-kernel.js";
import { parseLock } from "../../src/image/lock.js";
import { testHome, testImage } from "../support/guest-vm.js";

const run = promisify(execFile);

/** What every compose here asks for besides the folders: the default amd64 guest. */
function amd64Options(cacheDir: string, imagesDir: string) {
  return {
    arch: "amd64" as const,
    suite: DEFAULT_SUITE,
    mirror: DEFAULT_MIRROR,
    extraPackages: [],
    checkValidUntil: true,
    cacheDir,
    imagesDir,
  };
}

/** The test image, and the lock it was composed from. */
async function referenceAndLock() {
  const reference = await testImage("amd64");
  const lockPath = join(reference.directory, "lock.json");
  return { reference, lock: parseLock(await readFile(lockPath, "utf8"), lockPath) };
}

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
    const common = amd64Options(join(testHome(), "cache"), imagesDir);
    const again = await composeImage({ ...common, force: true });
    assert.equal(again.reused, false);
    assert.equal(again.manifest.id, reference.manifest.id);
    assert.deepEqual(await files(again.directory), expected);

    const { lock } = await referenceAndLock();
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

  test("a compose with only the .debs cached and one with everything made from them give the same image", {
    timeout: 15 * 60_000,
  }, async () => {
    const { reference, lock } = await referenceAndLock();
    // The test cache's .debs, and nothing made from them (no derived results): the cold path.
    const cacheDir = await mkdtemp(join(tmpdir(), "lb-cold-cache-"));
    scratch.push(cacheDir);
    await mkdir(join(cacheDir, "files"));
    await symlink(join(testHome(), "cache", "files", "sha256"), join(cacheDir, "files", "sha256"));
    const given: Buffer[] = [];
    const compose = async (name: string) =>
      composeImage({
        ...amd64Options(cacheDir, join(cacheDir, name)),
        onBootableKernel: (kernel) => given.push(kernel),
        lock,
        force: true,
      });
    const files = async (dir: string) =>
      Promise.all(["kernel", "initrd"].map((name) => readFile(join(dir, name))));
    const expected = await files(reference.directory);
    const cold = await compose("cold");
    assert.ok((await readdir(join(cacheDir, "files", "derived"))).includes(lock.kernel.sha256));
    const warm = await compose("warm");
    assert.deepEqual(await files(cold.directory), expected);
    assert.deepEqual(await files(warm.directory), expected);
    assert.equal(warm.manifest.id, reference.manifest.id);
    // Each compose hands out the kernel it stores.
    assert.deepEqual(given, [expected[0], expected[0]]);
  });

  test("`start` composes an image made by another version of linux-builder again, from its lock", {
    timeout: 15 * 60_000,
  }, async () => {
    const { reference, lock } = await referenceAndLock();
    const imagesDir = await mkdtemp(join(tmpdir(), "lb-images-"));
    scratch.push(imagesDir);
    const cacheDir = join(testHome(), "cache");
    const older = await composeImage({ ...amd64Options(cacheDir, imagesDir), lock, force: true });
    // What an older linux-builder leaves: an intact image whose inputs (guest files, format) differ.
    const manifestPath = join(older.directory, "manifest.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
    await writeFile(manifestPath, `${JSON.stringify({ ...manifest, inputs: "0".repeat(64) }, null, 2)}\n`);

    const config = defaultConfig({ cpus: 2, memoryMiB: 4096, arch: "amd64", stateDir: "/unused" });
    const paths = { cache: cacheDir, images: imagesDir, state: "/unused", config: "/unused" };
    const io = imageIo(process.env);
    const image = await ensureImage(paths, config, io);
    assert.equal(image.manifest.inputs, await imageInputs(lock));
    assert.equal(image.manifest.id, reference.manifest.id, "the same lock and guest files: the same image");
    // Up to date now: the next start takes it as it is.
    assert.equal((await ensureImage(paths, config, io)).manifest.inputs, image.manifest.inputs);
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
