import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { addCaBundle, addGuestFiles } from "../../../../src/image/compose/guest-overlay.js";
import { FALLBACK_SYMLINKS, GUEST_DIRECTORIES } from "../../../../src/image/guest/profile.js";
import { RootfsTree } from "../../../../src/image/rootfs-tree.js";
import { lockOf } from "../fake-lock.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function guestDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "lb-guest-"));
  dirs.push(dir);
  await writeFile(join(dir, "init.sh"), "#!/bin/sh\n");
  await mkdir(join(dir, "rootfs", "usr", "bin"), { recursive: true });
  await writeFile(join(dir, "rootfs", "usr", "bin", "tool"), "run me");
  await chmod(join(dir, "rootfs", "usr", "bin", "tool"), 0o755);
  await writeFile(join(dir, "rootfs", "usr", "bin", "data"), "read me");
  await chmod(join(dir, "rootfs", "usr", "bin", "data"), 0o600);
  await symlink("tool", join(dir, "rootfs", "usr", "bin", "alias"));
  return dir;
}

test("our /init, the overlay with modes from the executable bit, symlinks as symlinks, and what no package ships", async () => {
  const tree = new RootfsTree([]);
  const [firstFallback] = Object.keys(FALLBACK_SYMLINKS);
  assert.ok(firstFallback !== undefined);
  tree.addFile(firstFallback, Buffer.from("a package's file"), 0o644);
  await addGuestFiles(tree, await guestDir());
  const entries = new Map(tree.toEntries().map((entry) => [entry.path, entry]));
  assert.equal(entries.get("init")?.mode, 0o755);
  assert.equal(entries.get("init")?.data?.toString(), "#!/bin/sh\n");
  assert.equal(entries.get("usr/bin/tool")?.mode, 0o755);
  assert.equal(entries.get("usr/bin/data")?.mode, 0o644, "git keeps only the executable bit");
  assert.deepEqual(
    [entries.get("usr/bin/alias")?.type, entries.get("usr/bin/alias")?.target],
    ["symlink", "tool"],
  );
  assert.equal(
    entries.get(firstFallback)?.type,
    "file",
    "a fallback symlink never replaces a package's file",
  );
  for (const [path, mode] of Object.entries(GUEST_DIRECTORIES)) {
    assert.deepEqual([entries.get(path)?.type, entries.get(path)?.mode], ["directory", mode], path);
  }
  const console = entries.get("dev/console");
  assert.deepEqual([console?.type, console?.major, console?.minor], ["chardev", 5, 1]);
});

test("a lock without ca-certificates is refused before any .deb is read", async () => {
  const lock = lockOf(["app"]);
  await assert.rejects(
    addCaBundle(new RootfsTree([]), lock, { kernel: "/nowhere", packages: ["/nowhere"] }),
    {
      code: "lock.incomplete",
    },
  );
});
