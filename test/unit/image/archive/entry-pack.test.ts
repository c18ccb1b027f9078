import assert from "node:assert/strict";
import { test } from "node:test";
import { readEntryPack, writeEntryPack } from "../../../../src/image/archive/entry-pack.js";
import type { TarEntry } from "../../../../src/image/archive/tar.js";

const ENTRIES: TarEntry[] = [
  { path: "usr", type: "directory", mode: 0o755, uid: 0, gid: 0, size: 0 },
  { path: "usr/bin/a", type: "file", mode: 0o4755, uid: 0, gid: 0, size: 3, body: Buffer.from("abc") },
  { path: "usr/bin/empty", type: "file", mode: 0o644, uid: 0, gid: 0, size: 0, body: Buffer.alloc(0) },
  { path: "usr/bin/b", type: "symlink", mode: 0o777, uid: 0, gid: 0, size: 0, linkname: "a" },
  { path: "usr/bin/c", type: "hardlink", mode: 0o755, uid: 0, gid: 0, size: 0, linkname: "usr/bin/a" },
  { path: "var/mail", type: "directory", mode: 0o2775, uid: 0, gid: 8, size: 0 },
  { path: "usr/bin/ü", type: "file", mode: 0o600, uid: 0, gid: 0, size: 2, body: Buffer.from([0, 255]) },
];

test("a pack gives back its entries, in order, bodies and all", () => {
  assert.deepEqual(readEntryPack(writeEntryPack(ENTRIES)), ENTRIES);
  assert.deepEqual(readEntryPack(writeEntryPack([])), []);
});

test("what is not a whole pack reads as nothing, so the cache makes it again", () => {
  const pack = writeEntryPack(ENTRIES);
  assert.equal(readEntryPack(Buffer.from("not a pack")), undefined);
  assert.equal(readEntryPack(pack.subarray(0, pack.length - 1)), undefined);
  assert.equal(readEntryPack(Buffer.concat([pack, Buffer.from("x")])), undefined);
  const header = Buffer.from(pack);
  header.write("{", header.indexOf("["), "latin1");
  assert.equal(readEntryPack(header), undefined);
});
