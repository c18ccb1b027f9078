import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ContentCache } from "../../../../src/image/cache/content-cache.js";
import { addEmulators, emulatedSystemsFor } from "../../../../src/image/compose/guest-emulators.js";
import { RootfsTree } from "../../../../src/image/rootfs-tree.js";
import { fakeDeb } from "../fake-deb.js";
import { lockOf } from "../fake-lock.js";
import { elfProgram } from "../guest/fake-elf.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lb-emulators-"));
  dirs.push(dir);
  return dir;
}

/** A qemu-user-like .deb whose data holds `files` (usr/bin/NAME → bytes). */
async function fakeQemuUser(files: Record<string, Buffer>): Promise<string> {
  return fakeDeb(await tempDir(), files);
}

const AMD64 = 0x3e;
const ARM64 = 0xb7;

test("an amd64 image emulates aarch64-linux and an arm64 one x86_64-linux", () => {
  assert.deepEqual(emulatedSystemsFor("amd64"), ["aarch64-linux"]);
  assert.deepEqual(emulatedSystemsFor("arm64"), ["x86_64-linux"]);
});

/** Warnings said, collected. */
function warnings(): { said: string[]; warn: (message: string) => void } {
  const said: string[] = [];
  return { said, warn: (message) => said.push(message) };
}

test("exactly the one interpreter is taken from qemu-user, then from the cache without the .deb", async () => {
  const interpreter = elfProgram({ machine: AMD64 });
  const deb = await fakeQemuUser({
    "usr/bin/qemu-aarch64": interpreter,
    "usr/bin/qemu-arm": elfProgram({ machine: AMD64 }),
    "usr/bin/qemu-x86_64": elfProgram({ machine: AMD64 }),
  });
  const lock = lockOf(["app", "qemu-user"]);
  const cache = new ContentCache(join(await tempDir(), "files"));
  const tree = new RootfsTree([]);
  const { said, warn } = warnings();
  const carried = await addEmulators(
    tree,
    lock,
    { kernel: "/nowhere", packages: ["/nowhere", deb] },
    cache,
    warn,
  );
  assert.deepEqual(carried, ["aarch64-linux"]);
  assert.deepEqual(said, []);
  const files = tree.toEntries().filter((entry) => entry.type === "file");
  assert.deepEqual(
    files.map((entry) => [entry.path, entry.mode, entry.data]),
    [["usr/bin/qemu-aarch64", 0o755, interpreter]],
  );
  // A second compose of the same qemu-user never opens the .deb.
  const again = new RootfsTree([]);
  assert.deepEqual(
    await addEmulators(again, lock, { kernel: "/nowhere", packages: ["/nowhere", "/nowhere"] }, cache, warn),
    ["aarch64-linux"],
  );
  assert.deepEqual(again.fileData("usr/bin/qemu-aarch64"), interpreter);
});

test("a dynamically linked or other-architecture interpreter, or none: the image is composed without it, and says so", async () => {
  const lock = { ...lockOf(["qemu-user"]), suite: "bookworm" };
  const compose = async (files: Record<string, Buffer>) => {
    const tree = new RootfsTree([]);
    const { said, warn } = warnings();
    const carried = await addEmulators(
      tree,
      lock,
      { kernel: "/nowhere", packages: [await fakeQemuUser(files)] },
      new ContentCache(join(await tempDir(), "files")),
      warn,
    );
    assert.deepEqual(carried, []);
    assert.deepEqual(
      tree.toEntries().filter((entry) => entry.type === "file"),
      [],
    );
    assert.equal(said.length, 1);
    return said[0] as string;
  };
  assert.match(
    await compose({ "usr/bin/qemu-aarch64": elfProgram({ machine: AMD64, interpreter: true }) }),
    /^the bookworm image cannot emulate aarch64-linux: qemu-user 1's usr\/bin\/qemu-aarch64 is dynamically linked .*static amd64 program.*emulatedSystems does nothing with this suite/,
  );
  assert.match(
    await compose({ "usr/bin/qemu-aarch64": elfProgram({ machine: ARM64 }) }),
    /is a program for ELF machine 0xb7, not amd64's 0x3e/,
  );
  assert.match(
    await compose({ "usr/bin/qemu-arm": elfProgram({ machine: AMD64 }) }),
    /qemu-user 1 has no usr\/bin\/qemu-aarch64,/,
  );
});

test("a lock without qemu-user is refused before any .deb is read", async () => {
  await assert.rejects(
    addEmulators(
      new RootfsTree([]),
      lockOf(["app"]),
      { kernel: "/nowhere", packages: ["/nowhere"] },
      new ContentCache(join(await tempDir(), "files")),
      () => assert.fail("no warning"),
    ),
    { code: "lock.incomplete", message: /no qemu-user package/ },
  );
});
