import assert from "node:assert/strict";
import { test } from "node:test";
import type { TarEntry } from "../../../src/image/archive/tar.js";
import { RootfsTree } from "../../../src/image/rootfs-tree.js";

async function* entries(list: TarEntry[]): AsyncGenerator<TarEntry> {
  yield* list;
}
const root = { uid: 0, gid: 0 };
const file = (path: string, body: string, mode = 0o644, owner = root): TarEntry => ({
  path,
  type: "file",
  mode,
  ...owner,
  size: body.length,
  body: Buffer.from(body),
});

test("packages land in a merged-/usr tree without docs, and hard links keep their content", async () => {
  const tree = new RootfsTree(["usr/share/doc/", "usr/share/man/"]);
  await tree.addPackage(
    entries([
      { path: "bin", type: "directory", mode: 0o755, ...root, size: 0 },
      file("bin/tool", "#!/bin/sh\n", 0o4755),
      { path: "sbin/tool2", type: "hardlink", mode: 0o755, ...root, size: 0, linkname: "bin/tool" },
      file("usr/share/doc/pkg/copyright", "(c)"),
      {
        path: "usr/bin/from-doc",
        type: "hardlink",
        mode: 0o644,
        ...root,
        size: 0,
        linkname: "usr/share/doc/pkg/copyright",
      },
      { path: "lib64", type: "symlink", mode: 0o777, ...root, size: 0, linkname: "usr/lib64" },
      { path: "usr/lib/libx.so", type: "symlink", mode: 0o777, ...root, size: 0, linkname: "libx.so.1" },
      file("usr/share/nix/deep/file", "x"),
    ]),
  );
  const all = new Map(tree.toEntries().map((e) => [e.path, e]));
  assert.deepEqual(all.get("bin"), { path: "bin", type: "symlink", mode: 0o777, target: "usr/bin" });
  assert.equal(all.get("lib64")?.target, "usr/lib64", "a package's own alias symlink does not replace ours");
  assert.equal(all.get("usr/bin/tool")?.mode, 0o4755);
  assert.deepEqual(all.get("usr/sbin/tool2"), {
    path: "usr/sbin/tool2",
    type: "hardlink",
    mode: 0o4755,
    target: "usr/bin/tool",
  });
  assert.equal(all.has("usr/share/doc/pkg/copyright"), false);
  assert.equal(all.has("usr/share/doc"), false);
  assert.deepEqual(
    all.get("usr/bin/from-doc")?.data,
    Buffer.from("(c)"),
    "a link to an excluded file carries the content",
  );
  assert.equal(all.get("usr/lib/libx.so")?.target, "libx.so.1");
  assert.equal(all.get("usr/share/nix/deep")?.type, "directory", "missing parents are added");
  assert.equal(all.get("usr/share/nix")?.mode, 0o755);
});

test("later files replace earlier ones; the first package sets a directory's mode", async () => {
  const tree = new RootfsTree([]);
  await tree.addPackage(
    entries([{ path: "etc", type: "directory", mode: 0o700, ...root, size: 0 }, file("etc/a", "one")]),
  );
  await tree.addPackage(
    entries([{ path: "etc", type: "directory", mode: 0o755, ...root, size: 0 }, file("etc/a", "two")]),
  );
  tree.addFile("etc/a", Buffer.from("overlay"), 0o600);
  const all = new Map(tree.toEntries().map((e) => [e.path, e]));
  assert.equal(all.get("etc")?.mode, 0o700);
  assert.deepEqual(all.get("etc/a")?.data, Buffer.from("overlay"));
  assert.equal(all.get("etc/a")?.mode, 0o600);
});

test("setuid and setgid bits of other owners and groups do not become root's", async () => {
  const tree = new RootfsTree([]);
  await tree.addPackage(
    entries([
      file("sbin/unix_chkpwd", "elf", 0o2755, { uid: 0, gid: 42 }),
      file("usr/bin/passwd", "elf", 0o4755),
      file("usr/bin/odd", "elf", 0o6755, { uid: 1000, gid: 0 }),
    ]),
  );
  const all = new Map(tree.toEntries().map((e) => [e.path, e]));
  assert.equal(all.get("usr/sbin/unix_chkpwd")?.mode, 0o755);
  assert.equal(all.get("usr/bin/passwd")?.mode, 0o4755);
  assert.equal(all.get("usr/bin/odd")?.mode, 0o2755);
});

test("a hard link keeps its content when a later package replaces its target", async () => {
  const tree = new RootfsTree([]);
  await tree.addPackage(
    entries([
      file("usr/bin/a", "original", 0o755),
      { path: "usr/bin/b", type: "hardlink", mode: 0o755, ...root, size: 0, linkname: "usr/bin/a" },
    ]),
  );
  await tree.addPackage(entries([file("usr/bin/a", "REPLACED", 0o644)]));
  const all = new Map(tree.toEntries().map((e) => [e.path, e]));
  assert.deepEqual(all.get("usr/bin/b"), {
    path: "usr/bin/b",
    type: "file",
    mode: 0o755,
    data: Buffer.from("original"),
  });
  assert.deepEqual(all.get("usr/bin/a")?.data, Buffer.from("REPLACED"));
});

test("a directory replaced by a file while other files remain under it is an error naming both", async () => {
  const tree = new RootfsTree([]);
  await tree.addPackage(entries([file("etc/x/y", "y")]));
  await tree.addPackage(entries([file("etc/x", "now a file")]));
  assert.throws(
    () => tree.toEntries(),
    /\/etc\/x\/y lies under \/etc\/x, which a package replaced by a file/,
  );
});
