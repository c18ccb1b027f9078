import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstat, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type CpioEntry, readCpio, writeCpio } from "../../../../src/image/archive/cpio.js";

const BINARY = Buffer.from([0, 1, 2, 255, 254, 0, 7]); // odd length, NULs inside

/** Deliberately unsorted, with every entry type the writer takes. */
const ENTRIES: CpioEntry[] = [
  { path: "usr/bin/sh", type: "symlink", mode: 0o777, target: "dash" },
  { path: "usr/bin/dash", type: "file", mode: 0o755, data: Buffer.from("#!dash\n") },
  { path: "a-b", type: "file", mode: 0o644, data: Buffer.from("a-b\n") },
  { path: "a/b", type: "file", mode: 0o600, data: BINARY },
  { path: "a", type: "directory", mode: 0o755 },
  { path: "usr", type: "directory", mode: 0o755 },
  { path: "usr/bin", type: "directory", mode: 0o755 },
  { path: "usr/bin/su", type: "file", mode: 0o4755, data: Buffer.from("setuid\n") },
  { path: "tmp", type: "directory", mode: 0o1777 },
  { path: "empty", type: "file", mode: 0o644, data: Buffer.alloc(0) },
  { path: "nodata", type: "file", mode: 0o644 },
  { path: "etc", type: "directory", mode: 0o755 },
  { path: "etc/dangling", type: "symlink", mode: 0o777, target: "/does/not/exist" },
  { path: "usr/bin/gzip", type: "file", mode: 0o755, data: Buffer.from("gzip body\n") },
  { path: "usr/bin/gunzip", type: "hardlink", mode: 0o755, target: "usr/bin/gzip" },
  { path: "a/zcat", type: "hardlink", mode: 0o755, target: "usr/bin/gunzip" }, // a link to a link
];

// Component-wise order: "a" and its contents before "a-b".
const ORDER = [
  "a",
  "a/b",
  "a/zcat",
  "a-b",
  "empty",
  "etc",
  "etc/dangling",
  "nodata",
  "tmp",
  "usr",
  "usr/bin",
  "usr/bin/dash",
  "usr/bin/gunzip",
  "usr/bin/gzip",
  "usr/bin/sh",
  "usr/bin/su",
];

/** The newc header fields of each record, by name, straight from the bytes. */
function headers(
  buf: Buffer,
): { name: string; ino: number; mode: number; nlink: number; mtime: number; size: number }[] {
  const result = [];
  let pos = 0;
  for (;;) {
    assert.equal(buf.toString("latin1", pos, pos + 6), "070701");
    const field = (i: number) =>
      Number.parseInt(buf.toString("latin1", pos + 6 + i * 8, pos + 14 + i * 8), 16);
    const nameSize = field(11);
    const name = buf.toString("utf8", pos + 110, pos + 110 + nameSize - 1);
    assert.equal(buf[pos + 110 + nameSize - 1], 0, "name is NUL-terminated");
    result.push({ name, ino: field(0), mode: field(1), nlink: field(4), mtime: field(5), size: field(6) });
    const dataStart = Math.ceil((pos + 110 + nameSize) / 4) * 4;
    pos = Math.ceil((dataStart + field(6)) / 4) * 4;
    if (name === "TRAILER!!!") break;
  }
  assert.ok(
    buf.subarray(pos).every((b) => b === 0),
    "only padding after the trailer",
  );
  return result;
}

function shuffled<T>(items: T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

describe("writeCpio", () => {
  let dir = "";
  let archive: Buffer = Buffer.alloc(0);
  let archivePath = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "archive-cpio-"));
    archive = writeCpio(ENTRIES);
    archivePath = join(dir, "test.cpio");
    await writeFile(archivePath, archive);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("GNU cpio lists the names in our order", () => {
    const listing = execFileSync("cpio", ["-t", "--quiet", "-F", archivePath], { encoding: "utf8" });
    assert.deepEqual(listing.split("\n").slice(0, -1), ORDER);
  });

  test("writes fixed metadata, sequential inodes and shared inodes for hard links", () => {
    const records = headers(archive);
    assert.deepEqual(
      records.map((r) => r.name),
      [...ORDER, "TRAILER!!!"],
    );
    const byName = new Map(records.map((r) => [r.name, r]));
    assert.ok(records.every((r) => r.mtime === 0));
    // Inodes 1.. in output order; the three names of gzip share the first one's.
    assert.deepEqual(
      records.map((r) => r.ino),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 3, 13, 14, 0],
    );
    for (const name of ["a/zcat", "usr/bin/gunzip", "usr/bin/gzip"]) {
      assert.equal(byName.get(name)?.nlink, 3, name);
      assert.equal(byName.get(name)?.mode, 0o100755, name);
    }
    // The data goes with the first name in the archive only.
    assert.equal(byName.get("a/zcat")?.size, "gzip body\n".length);
    assert.equal(byName.get("usr/bin/gunzip")?.size, 0);
    assert.equal(byName.get("usr/bin/gzip")?.size, 0);
    assert.equal(byName.get("a")?.nlink, 2);
    assert.equal(byName.get("a")?.mode, 0o040755);
    assert.equal(byName.get("tmp")?.mode, 0o041777);
    assert.equal(byName.get("usr/bin/su")?.mode, 0o104755);
    assert.equal(byName.get("usr/bin/su")?.nlink, 1);
    assert.equal(byName.get("usr/bin/sh")?.mode, 0o120777);
    assert.equal(byName.get("usr/bin/sh")?.size, "dash".length);
    // The trailer (110 + 11 bytes, padded to 124) ends the buffer: no block padding.
    assert.equal(archive.toString("latin1", archive.length - 124, archive.length - 118), "070701");
    assert.equal(archive.toString("latin1", archive.length - 14, archive.length - 4), "TRAILER!!!");
  });

  test("GNU cpio extracts contents, modes, symlinks and hard links", async () => {
    const out = join(dir, "extracted");
    execFileSync("mkdir", [out]);
    execFileSync("cpio", ["-idm", "--quiet", "--no-absolute-filenames", "-F", archivePath], { cwd: out });
    const modeOf = async (path: string) => (await lstat(join(out, path))).mode;
    const text = async (path: string) => (await readFile(join(out, path))).toString("utf8");

    assert.deepEqual(await readFile(join(out, "a/b")), BINARY);
    assert.equal(await text("a-b"), "a-b\n");
    assert.equal(await text("usr/bin/dash"), "#!dash\n");
    assert.equal(await text("empty"), "");
    assert.equal(await text("nodata"), "");
    assert.equal(await modeOf("a/b"), 0o100600);
    assert.equal(await modeOf("usr/bin/su"), 0o104755);
    assert.equal(await modeOf("tmp"), 0o041777);
    assert.equal(await modeOf("usr/bin"), 0o040755);
    assert.equal(await readlink(join(out, "usr/bin/sh")), "dash");
    assert.equal(await readlink(join(out, "etc/dangling")), "/does/not/exist");
    assert.ok((await lstat(join(out, "etc/dangling"))).isSymbolicLink());

    const names = ["usr/bin/gzip", "usr/bin/gunzip", "a/zcat"];
    const stats = await Promise.all(names.map((name) => lstat(join(out, name))));
    const [first] = stats;
    for (const [i, stat] of stats.entries()) {
      assert.equal(stat.ino, first?.ino, `${names[i]} is the same inode`);
      assert.equal(stat.nlink, 3, names[i]);
      assert.equal(stat.mode, 0o100755, names[i]);
      assert.equal(await text(names[i] as string), "gzip body\n", names[i]);
    }
  });

  test("GNU cpio also links the names of an empty hard-linked file", async () => {
    const out = join(dir, "empty-links");
    execFileSync("mkdir", [out]);
    const path = join(dir, "empty-links.cpio");
    await writeFile(
      path,
      writeCpio([
        { path: "x", type: "file", mode: 0o644 },
        { path: "y", type: "hardlink", mode: 0o644, target: "x" },
      ]),
    );
    execFileSync("cpio", ["-idm", "--quiet", "-F", path], { cwd: out });
    const [x, y] = await Promise.all([lstat(join(out, "x")), lstat(join(out, "y"))]);
    assert.equal(x.ino, y.ino);
    assert.equal(x.size, 0);
  });

  test("readCpio reads back what we wrote", () => {
    const read = readCpio(archive);
    assert.deepEqual(
      read.map((e) => e.path),
      ORDER,
    );
    const byPath = new Map(read.map((e) => [e.path, e]));
    const written = new Map(ENTRIES.map((e) => [e.path, e]));
    for (const entry of read) {
      const original = written.get(entry.path) as CpioEntry;
      if (original.type === "hardlink" || entry.path === "usr/bin/gzip") continue;
      const expected: CpioEntry = { ...original };
      if (expected.type === "file" && expected.data === undefined) expected.data = Buffer.alloc(0);
      assert.deepEqual(entry, expected, entry.path);
    }
    // The first name in the archive becomes the file; the others link to it.
    assert.deepEqual(byPath.get("a/zcat"), {
      path: "a/zcat",
      type: "file",
      mode: 0o755,
      data: Buffer.from("gzip body\n"),
    });
    assert.deepEqual(byPath.get("usr/bin/gunzip"), {
      path: "usr/bin/gunzip",
      type: "hardlink",
      mode: 0o755,
      target: "a/zcat",
    });
    assert.deepEqual(byPath.get("usr/bin/gzip"), {
      path: "usr/bin/gzip",
      type: "hardlink",
      mode: 0o755,
      target: "a/zcat",
    });
    // And writing that back gives the same bytes.
    assert.deepEqual(writeCpio(read), archive);
  });

  test("readCpio reads an archive by GNU cpio, whose hard-link data comes with the last name", async () => {
    const src = join(dir, "extracted");
    const made = execFileSync("cpio", ["-o", "-H", "newc", "--quiet"], {
      cwd: src,
      input: "a/zcat\nusr/bin/gunzip\nusr/bin/gzip\nusr/bin/sh\n",
    });
    // GNU cpio holds back the names of a hard-linked file and writes them together, data on the last.
    const listing = execFileSync("cpio", ["-t", "--quiet"], { input: made, encoding: "utf8" });
    assert.deepEqual(listing.split("\n").slice(0, -1), [
      "usr/bin/gunzip",
      "a/zcat",
      "usr/bin/gzip",
      "usr/bin/sh",
    ]);
    assert.deepEqual(
      headers(made).map((r) => r.size),
      [0, 0, "gzip body\n".length, "dash".length, 0],
    );
    assert.deepEqual(readCpio(made), [
      { path: "usr/bin/gunzip", type: "file", mode: 0o755, data: Buffer.from("gzip body\n") },
      { path: "a/zcat", type: "hardlink", mode: 0o755, target: "usr/bin/gunzip" },
      { path: "usr/bin/gzip", type: "hardlink", mode: 0o755, target: "usr/bin/gunzip" },
      { path: "usr/bin/sh", type: "symlink", mode: 0o777, target: "dash" },
    ]);
  });

  test("readCpio reads concatenated archives with padding between", () => {
    const second = writeCpio([{ path: "etc/extra", type: "file", mode: 0o600, data: Buffer.from("x") }]);
    const read = readCpio(Buffer.concat([archive, Buffer.alloc(512), second]));
    assert.equal(read.length, ORDER.length + 1);
    assert.deepEqual(read.at(-1), { path: "etc/extra", type: "file", mode: 0o600, data: Buffer.from("x") });
  });

  test("writes and reads character devices", () => {
    const buf = writeCpio([
      { path: "dev", type: "directory", mode: 0o755 },
      { path: "dev/console", type: "chardev", mode: 0o600, major: 5, minor: 1 },
    ]);
    assert.equal(headers(buf)[1]?.mode, 0o020600);
    assert.deepEqual(readCpio(buf)[1], {
      path: "dev/console",
      type: "chardev",
      mode: 0o600,
      major: 5,
      minor: 1,
    });
    const listing = execFileSync("cpio", ["-tv", "--quiet"], { input: buf, encoding: "utf8" });
    assert.match(listing, /^crw------- .* 5, +1 .*dev\/console$/m);
  });

  test("the same entries in any order give the same bytes", () => {
    for (let seed = 1; seed <= 5; seed++) {
      assert.deepEqual(writeCpio(shuffled(ENTRIES, seed)), archive, `seed ${seed}`);
    }
    assert.deepEqual(writeCpio([...ENTRIES].reverse()), archive);
  });

  test("the one-buffer writer gives the bytes the record-by-record writer before it gave", () => {
    // The SHA256 of what writeCpio wrote for these entries before it built one buffer (commit ec9bbfc):
    // images stay byte-identical across the change (COMPOSER_FORMAT is not bumped).
    const entries: CpioEntry[] = [
      ...ENTRIES,
      { path: "dev/console", type: "chardev", mode: 0o600, major: 5, minor: 1 },
      { path: "dev", type: "directory", mode: 0o755 },
      { path: "é/ü", type: "file", mode: 0o644, data: Buffer.from("utf8 names") },
    ];
    assert.equal(
      createHash("sha256").update(writeCpio(entries)).digest("hex"),
      "d0205f2f1ebb5e40ccae0ca06324a0aa37e413360266979d9bbb8fe2ba14b393",
    );
  });

  test("rejects duplicates, broken hard links and bad paths", () => {
    const file: CpioEntry = { path: "f", type: "file", mode: 0o644 };
    const rejects = (entries: CpioEntry[], message: RegExp) =>
      assert.throws(() => writeCpio(entries), { code: "archive.cpio", message });
    rejects([file, { ...file }], /f appears twice/);
    rejects(
      [file, { path: "l", type: "hardlink", mode: 0o644, target: "missing" }],
      /hard link l points to missing, which is not in the archive/,
    );
    rejects(
      [
        { path: "d", type: "directory", mode: 0o755 },
        { path: "l", type: "hardlink", mode: 0o755, target: "d" },
      ],
      /which is a directory, not a file/,
    );
    rejects(
      [
        { path: "l1", type: "hardlink", mode: 0o644, target: "l2" },
        { path: "l2", type: "hardlink", mode: 0o644, target: "l1" },
      ],
      /cycle/,
    );
    rejects(
      [{ path: "l", type: "hardlink", mode: 0o644, target: "f", data: Buffer.from("x") }, file],
      /has data/,
    );
    for (const path of ["/abs", "a//b", "../up", "a/./b", "dir/", ""]) {
      rejects([{ ...file, path }], /is not a plain relative path/);
    }
    rejects([{ ...file, mode: 0o100644 }], /not permission bits/);
    rejects([{ path: "s", type: "symlink", mode: 0o777 }], /has no target/);
  });
});

describe("readCpio", () => {
  test("rejects truncated and foreign data", () => {
    const buf = writeCpio([{ path: "f", type: "file", mode: 0o644, data: Buffer.from("hello world") }]);
    assert.throws(() => readCpio(buf.subarray(0, 120)), { code: "archive.cpio", message: /truncated/ });
    assert.throws(() => readCpio(buf.subarray(0, 50)), { code: "archive.cpio", message: /truncated/ });
    assert.throws(() => readCpio(Buffer.from("not a cpio archive at all".repeat(10))), {
      code: "archive.cpio",
      message: /no newc magic/,
    });
  });
});
