import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dynamicLinks, librarySearchPath, unresolvedLinks } from "../../../../src/image/guest/elf-links.js";
import { RootfsTree } from "../../../../src/image/rootfs-tree.js";

/**
 * A minimal ELF64 little-endian file as a linker leaves it: a .dynstr string table and a .dynamic
 * section (DT_NEEDED per library, DT_RUNPATH), found through the section headers.
 */
function elf(needed: readonly string[], runpath?: string): Buffer {
  const strings: string[] = [];
  let stringsLength = 1; // offset 0 is the empty string
  const offsetOf = (value: string) => {
    const at = stringsLength;
    strings.push(value);
    stringsLength += Buffer.byteLength(value) + 1;
    return at;
  };
  const entries: [number, number][] = needed.map((name) => [1, offsetOf(name)]);
  if (runpath !== undefined) entries.push([29, offsetOf(runpath)]);
  entries.push([0, 0]);
  const dynstr = Buffer.concat([Buffer.alloc(1), ...strings.map((value) => Buffer.from(`${value}\0`))]);
  const dynstrAt = 64;
  const dynamicAt = Math.ceil((dynstrAt + dynstr.length) / 8) * 8;
  const dynamic = Buffer.alloc(entries.length * 16);
  entries.forEach(([tag, value], i) => {
    dynamic.writeBigInt64LE(BigInt(tag), i * 16);
    dynamic.writeBigUInt64LE(BigInt(value), i * 16 + 8);
  });
  const sectionsAt = dynamicAt + dynamic.length;
  const file = Buffer.alloc(sectionsAt + 3 * 64);
  file.writeUInt32BE(0x7f454c46, 0);
  file[4] = 2; // 64-bit
  file[5] = 1; // little-endian
  file[6] = 1;
  file.writeBigUInt64LE(BigInt(sectionsAt), 0x28);
  file.writeUInt16LE(64, 0x3a);
  file.writeUInt16LE(3, 0x3c);
  dynstr.copy(file, dynstrAt);
  dynamic.copy(file, dynamicAt);
  const section = (i: number, type: number, offset: number, size: number, link: number) => {
    const at = sectionsAt + i * 64;
    file.writeUInt32LE(type, at + 4);
    file.writeBigUInt64LE(BigInt(offset), at + 0x18);
    file.writeBigUInt64LE(BigInt(size), at + 0x20);
    file.writeUInt32LE(link, at + 0x28);
  };
  section(1, 3, dynstrAt, dynstr.length, 0); // SHT_STRTAB
  section(2, 6, dynamicAt, dynamic.length, 1); // SHT_DYNAMIC, its strings in section 1
  return file;
}

describe("an ELF file's dynamic links", () => {
  test("DT_NEEDED and DT_RUNPATH, from the .dynamic section", () => {
    assert.deepEqual(dynamicLinks(elf(["libc.so.6", "libcurl-gnutls.so.4"])), {
      needed: ["libc.so.6", "libcurl-gnutls.so.4"],
      runpath: [],
    });
    assert.deepEqual(dynamicLinks(elf(["libnixstore.so"], "$ORIGIN/../lib:/opt/x")), {
      needed: ["libnixstore.so"],
      runpath: ["$ORIGIN/../lib", "/opt/x"],
    });
  });

  test("nothing for what is not a dynamically linked 64-bit ELF file", () => {
    assert.equal(dynamicLinks(Buffer.from("#!/bin/sh\necho hi\n")), undefined);
    assert.equal(dynamicLinks(Buffer.alloc(0)), undefined);
    const truncated = elf(["libc.so.6"]).subarray(0, 100);
    assert.equal(dynamicLinks(truncated), undefined);
    const bigEndian = elf(["libc.so.6"]);
    bigEndian[5] = 2;
    assert.equal(dynamicLinks(bigEndian), undefined);
  });

  test("the loader's search path: RUNPATH with $ORIGIN, then Debian's multiarch directories", () => {
    const links = { needed: [], runpath: ["$ORIGIN/../lib/nix"] };
    assert.deepEqual(librarySearchPath("usr/bin/nix", links, "x86_64-linux-gnu"), [
      "usr/bin/../lib/nix",
      "usr/lib/x86_64-linux-gnu",
      "usr/lib",
    ]);
    const braced = { needed: [], runpath: [["$", "{ORIGIN}/../lib"].join("")] };
    assert.deepEqual(librarySearchPath("usr/bin/x", braced, "aarch64-linux-gnu")[0], "usr/bin/../lib");
  });
});

describe("the image's links resolve", () => {
  const tree = () => {
    const t = new RootfsTree([]);
    t.addFile("usr/lib/x86_64-linux-gnu/libc.so.6", Buffer.from("c"), 0o755);
    // Debian's own shape: the soname a link to the versioned file.
    t.addFile("usr/lib/x86_64-linux-gnu/libz.so.1.3.1", Buffer.from("z"), 0o644);
    t.addSymlink("usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.3.1");
    t.addFile("usr/lib/nix/libnixutil.so", Buffer.from("n"), 0o644);
    return t;
  };

  test("a program whose libraries are all there", () => {
    const t = tree();
    t.addFile("usr/bin/ok", elf(["libc.so.6", "libz.so.1"]), 0o755);
    t.addFile("usr/bin/nix", elf(["libnixutil.so", "libc.so.6"], "$ORIGIN/../lib/nix"), 0o755);
    t.addFile("usr/bin/script", Buffer.from("#!/bin/sh\n"), 0o755);
    assert.deepEqual(
      unresolvedLinks(t.files(), (p) => t.resolvesToFile(p), "x86_64-linux-gnu"),
      [],
    );
  });

  test("a library an omitted package shipped is named with the program that needs it", () => {
    const t = tree();
    t.addFile("usr/bin/curl", elf(["libcurl.so.4", "libc.so.6"]), 0o755);
    t.addFile("usr/bin/w", elf(["libproc2.so.0", "libsystemd.so.0"]), 0o755);
    // A dangling soname link is no library.
    t.addSymlink("usr/lib/x86_64-linux-gnu/libproc2.so.0", "libproc2.so.0.0.2");
    assert.deepEqual(
      unresolvedLinks(t.files(), (p) => t.resolvesToFile(p), "x86_64-linux-gnu"),
      ["usr/bin/curl: libcurl.so.4", "usr/bin/w: libproc2.so.0", "usr/bin/w: libsystemd.so.0"],
    );
  });

  test("links are followed as the kernel follows them: merged /usr, relative, absolute, loops", () => {
    const t = tree();
    // lib → usr/lib is one of the tree's own merged-/usr links.
    assert.equal(t.resolvesToFile("lib/x86_64-linux-gnu/libz.so.1"), true);
    t.addSymlink("usr/lib/x86_64-linux-gnu/libabs.so", "/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert.equal(t.resolvesToFile("usr/lib/x86_64-linux-gnu/libabs.so"), true);
    t.addSymlink("usr/lib/x86_64-linux-gnu/libup.so", "../nix/libnixutil.so");
    assert.equal(t.resolvesToFile("usr/lib/x86_64-linux-gnu/libup.so"), true);
    t.addSymlink("usr/lib/loop-a", "loop-b");
    t.addSymlink("usr/lib/loop-b", "loop-a");
    assert.equal(t.resolvesToFile("usr/lib/loop-a"), false);
    assert.equal(t.resolvesToFile("usr/lib/x86_64-linux-gnu"), false, "a directory is no file");
    assert.equal(t.resolvesToFile("usr/lib/x86_64-linux-gnu/libc.so.6/x"), false);
    assert.equal(t.resolvesToFile("usr/lib/missing.so"), false);
  });
});
