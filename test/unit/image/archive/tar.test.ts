import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { decompressBuffer, decompressorFor } from "../../../../src/image/archive/decompress.js";
import { readTar, type TarEntry } from "../../../../src/image/archive/tar.js";

const SEGMENT = "s".repeat(120); // one name component longer than ustar's 100-byte name field
const LONG_DIR = `d/${SEGMENT}`;
const LONG_FILE = `${LONG_DIR}/${"f".repeat(150)}`; // > 255 bytes: beyond ustar's prefix+name too
const BIG = randomBytes(300_000).toString("base64"); // several decompression chunks

/** The archives are written with this numeric owner, which readTar reports as it is. */
const OWNER = { uid: 1000, gid: 42 };

/** What readTar should yield for the tree `makeTree` builds (GNU tar drops the fifo; so do we). */
const EXPECTED: Omit<TarEntry, "body">[] = sortByPath([
  { path: "d", type: "directory", mode: 0o755, ...OWNER, size: 0 },
  { path: LONG_DIR, type: "directory", mode: 0o1777, ...OWNER, size: 0 },
  { path: LONG_FILE, type: "file", mode: 0o640, ...OWNER, size: 5 },
  { path: `${LONG_DIR}/hard-to-long`, type: "hardlink", mode: 0o640, ...OWNER, size: 0, linkname: LONG_FILE },
  {
    path: `${LONG_DIR}/symlink-long`,
    type: "symlink",
    mode: 0o777,
    ...OWNER,
    size: 0,
    linkname: `../${SEGMENT}/x`,
  },
  { path: "d/big", type: "file", mode: 0o644, ...OWNER, size: BIG.length },
  { path: "d/dangling", type: "symlink", mode: 0o777, ...OWNER, size: 0, linkname: "../nowhere" },
  { path: "d/empty", type: "file", mode: 0o600, ...OWNER, size: 0 },
  { path: "d/hard", type: "hardlink", mode: 0o4755, ...OWNER, size: 0, linkname: "d/a-setuid" },
  { path: "d/a-setuid", type: "file", mode: 0o4755, ...OWNER, size: 6 },
  { path: "d/sym", type: "symlink", mode: 0o777, ...OWNER, size: 0, linkname: "a-setuid" },
]);
const BODIES = new Map([
  [LONG_FILE, "long\n"],
  ["d/big", BIG],
  ["d/empty", ""],
  ["d/a-setuid", "hello\n"],
]);

function sortByPath<T extends { path: string }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, LONG_DIR), { recursive: true });
  await chmod(join(root, "d"), 0o755);
  await chmod(join(root, LONG_DIR), 0o1777);
  await writeFile(join(root, LONG_FILE), "long\n");
  await chmod(join(root, LONG_FILE), 0o640);
  await link(join(root, LONG_FILE), join(root, LONG_DIR, "hard-to-long"));
  await symlink(`../${SEGMENT}/x`, join(root, LONG_DIR, "symlink-long"));
  await writeFile(join(root, "d/big"), BIG);
  await chmod(join(root, "d/big"), 0o644);
  await symlink("../nowhere", join(root, "d/dangling"));
  await writeFile(join(root, "d/empty"), "");
  await chmod(join(root, "d/empty"), 0o600);
  await writeFile(join(root, "d/a-setuid"), "hello\n");
  await chmod(join(root, "d/a-setuid"), 0o4755);
  await link(join(root, "d/a-setuid"), join(root, "d/hard"));
  await symlink("a-setuid", join(root, "d/sym"));
  execFileSync("mkfifo", [join(root, "d/fifo")]);
}

async function collect(entries: AsyncIterable<TarEntry>): Promise<TarEntry[]> {
  const result: TarEntry[] = [];
  for await (const entry of entries) result.push(entry);
  return result;
}

function assertTree(entries: TarEntry[]): void {
  const sorted = sortByPath(entries);
  assert.deepEqual(
    sorted.map(({ body: _, ...rest }) => rest),
    EXPECTED,
  );
  for (const entry of sorted) {
    if (entry.type === "file") assert.equal(entry.body?.toString("utf8"), BODIES.get(entry.path), entry.path);
    else assert.equal(entry.body, undefined, entry.path);
  }
}

describe("readTar", () => {
  let dir = "";
  const archive = (name: string) => join(dir, name);
  const open = (name: string) => decompressorFor(name)(Readable.from([readFileSyncChunks(name)]));
  const files = new Map<string, Buffer>();
  function readFileSyncChunks(name: string): Buffer {
    const buf = files.get(name);
    if (buf === undefined) throw new Error(`fixture ${name} was not built`);
    return buf;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "archive-tar-"));
    await makeTree(join(dir, "tree"));
    const tar = (name: string, ...args: string[]) =>
      execFileSync("tar", [
        "-C",
        join(dir, "tree"),
        "--sort=name",
        "--numeric-owner",
        `--owner=${OWNER.uid}`,
        `--group=${OWNER.gid}`,
        "-cf",
        archive(name),
        ...args,
        ".",
      ]);
    tar("gnu.tar", "--format=gnu");
    tar("pax.tar", "--format=pax");
    tar("gnu.tar.xz", "--format=gnu", "--xz");
    tar("pax.tar.zst", "--format=pax", "--zstd");
    tar("gnu.tar.gz", "--format=gnu", "--gzip");
    for (const name of ["gnu.tar", "pax.tar", "gnu.tar.xz", "pax.tar.zst", "gnu.tar.gz"]) {
      files.set(name, await readFile(archive(name)));
    }
    // Make sure the fixtures exercise what they claim to.
    const gnu = files.get("gnu.tar")?.toString("latin1") ?? "";
    const pax = files.get("pax.tar")?.toString("latin1") ?? "";
    assert.ok(gnu.includes("././@LongLink"), "GNU tar wrote long names as ././@LongLink");
    assert.ok(pax.includes(` path=./${LONG_FILE}\n`), "pax tar wrote long names as pax records");
    assert.ok(pax.includes(` linkpath=./${LONG_FILE}\n`), "pax tar wrote a long link target as a pax record");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const name of ["gnu.tar", "pax.tar", "gnu.tar.xz", "pax.tar.zst", "gnu.tar.gz"]) {
    test(`reads every entry type from ${name}`, async () => {
      assertTree(await collect(readTar(open(name), name)));
    });
  }

  test("yields entries in archive order, skipping the root entry", async () => {
    const listing = execFileSync("tar", ["-tf", archive("gnu.tar")], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line !== "" && line !== "./" && line !== "./d/fifo")
      .map((line) => line.replace(/^\.\//, "").replace(/\/$/, ""));
    const entries = await collect(readTar(open("gnu.tar")));
    assert.deepEqual(
      entries.map((e) => e.path),
      listing,
    );
  });

  test("a truncated .tar.xz fails with an error instead of hanging", { timeout: 20_000 }, async () => {
    const xz = files.get("gnu.tar.xz") as Buffer;
    const truncated = xz.subarray(0, Math.floor(xz.length / 2));
    await assert.rejects(collect(readTar(decompressorFor("data.tar.xz")(Readable.from([truncated])))), {
      code: "archive.compression",
      message: "Cannot decompress data.tar.xz: the xz data is truncated",
    });
  });

  test("a truncated plain tar fails", { timeout: 20_000 }, async () => {
    const tar = files.get("gnu.tar") as Buffer;
    // Cut inside d/big's body, well before the end.
    const cut = tar.indexOf(BIG.slice(0, 64)) + 1000;
    assert.ok(cut > 1000);
    await assert.rejects(collect(readTar(Readable.from([tar.subarray(0, cut)]), "data.tar")), {
      code: "archive.tar",
      message: "Cannot read data.tar: it is truncated",
    });
  });

  test("an error in the input stream propagates", { timeout: 20_000 }, async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error("disk on fire"));
      },
    });
    await assert.rejects(collect(readTar(failing)), /disk on fire/);
  });

  test("stopping early releases the xz decoder for the next stream", { timeout: 20_000 }, async () => {
    // xz-decompress lets one stream decode at a time; a leaked one would make this hang.
    for (let round = 0; round < 3; round++) {
      for await (const entry of readTar(open("gnu.tar.xz"))) {
        assert.equal(entry.path, "d");
        break;
      }
    }
    assertTree(await collect(readTar(open("gnu.tar.xz"))));
  });

  test("rejects a path that climbs out of the archive", async () => {
    const tar = execFileSync("tar", [
      "-C",
      join(dir, "tree"),
      "-cf",
      "-",
      "--transform=s,^d/empty,../escape,",
      "d/empty",
    ]);
    await assert.rejects(collect(readTar(Readable.from([tar]))), {
      code: "archive.tar",
      message: /entry \.\.\/escape points outside the archive/,
    });
  });
});

describe("decompressorFor", () => {
  const plain = Buffer.from("some bytes to compress\n".repeat(1000));

  test("decompresses xz, zstd and gzip made by the real tools, also several at once", async () => {
    const cases: [name: string, tool: string][] = [
      ["x.xz", "xz"],
      ["x.zst", "zstd"],
      ["x.gz", "gzip"],
      ["y.xz", "xz"],
    ];
    await Promise.all(
      cases.map(async ([name, tool]) => {
        const compressed = execFileSync(tool, ["-c"], { input: plain });
        assert.notDeepEqual(compressed, plain);
        assert.deepEqual(await decompressBuffer(name, compressed), plain, name);
      }),
    );
  });

  test("passes names without a compression suffix through unchanged", async () => {
    assert.deepEqual(await decompressBuffer("data.tar", plain), plain);
    assert.deepEqual(await decompressBuffer("kernel/fs/ext4/ext4.ko", plain), plain);
  });

  test("rejects a compression we do not support, naming the member", () => {
    assert.throws(() => decompressorFor("data.tar.bz2"), {
      code: "archive.compression",
      message: "Cannot decompress data.tar.bz2: the bz2 compression is not supported",
    });
    assert.throws(() => decompressorFor("control.tar.lzma"), {
      code: "archive.compression",
      message: /control\.tar\.lzma/,
    });
  });

  test("tells truncated data from corrupt data", async () => {
    for (const [name, tool] of [
      ["x.zst", "zstd"],
      ["x.gz", "gzip"],
      ["x.xz", "xz"],
    ] as const) {
      const compressed = execFileSync(tool, ["-c"], { input: plain });
      await assert.rejects(decompressBuffer(name, compressed.subarray(0, compressed.length - 12)), {
        code: "archive.compression",
        message: new RegExp(`^Cannot decompress ${name.replace(".", "\\.")}: the \\w+ data is truncated$`),
      });
      await assert.rejects(
        decompressBuffer(name, Buffer.from("definitely not compressed data, not at all")),
        {
          code: "archive.compression",
          message: new RegExp(
            `^Cannot decompress ${name.replace(".", "\\.")}: the \\w+ data is corrupt \\(.+\\)$`,
          ),
        },
      );
    }
  });
});
