import assert from "node:assert/strict";
import { test } from "node:test";
import type { TarEntry } from "../../../../src/image/archive/tar.js";
import { entriesForImage } from "../../../../src/image/compose/package-entries.js";
import { RootfsTree } from "../../../../src/image/rootfs-tree.js";

const EXCLUDED = ["usr/share/doc/", "usr/lib/gconv/"];
const owner = { uid: 0, gid: 0 };
const file = (path: string, body: string): TarEntry => ({
  path,
  type: "file",
  mode: 0o644,
  ...owner,
  size: body.length,
  body: Buffer.from(body),
});
const ENTRIES: TarEntry[] = [
  { path: "usr", type: "directory", mode: 0o755, ...owner, size: 0 },
  { path: "usr/share/doc", type: "directory", mode: 0o755, ...owner, size: 0 },
  file("usr/share/doc/README", "docs"),
  file("usr/share/doc/kept-by-link", "linked"),
  {
    path: "usr/bin/linked",
    type: "hardlink",
    mode: 0o644,
    ...owner,
    size: 0,
    linkname: "usr/share/doc/kept-by-link",
  },
  // Through merged /usr: lib/gconv is usr/lib/gconv.
  file("lib/gconv/UTF-7.so", "converter"),
  file("usr/bin/tool", "tool"),
  { path: "usr/share/doc/tool", type: "symlink", mode: 0o777, ...owner, size: 0, linkname: "../../bin/tool" },
];

test("the image's entries of a package: not the excluded ones, but a file a kept hard link needs", () => {
  assert.deepEqual(
    entriesForImage(ENTRIES, EXCLUDED).map((entry) => entry.path),
    ["usr", "usr/share/doc/kept-by-link", "usr/bin/linked", "usr/bin/tool"],
  );
});

test("a tree built from them is the tree built from all of a package's entries", async () => {
  const all = new RootfsTree(EXCLUDED);
  await all.addPackage(ENTRIES);
  const filtered = new RootfsTree(EXCLUDED);
  await filtered.addPackage(entriesForImage(ENTRIES, EXCLUDED));
  assert.deepEqual(filtered.toEntries(), all.toEntries());
});
