import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseArIndex } from "../../../../src/image/archive/ar.js";

const MEMBERS: [string, Buffer][] = [
  ["debian-binary", Buffer.from("2.0\n")],
  ["odd", Buffer.from("abc")], // odd size: followed by a padding byte
  ["a-member-name-longer-than-16.txt", Buffer.from("long name\n")],
  ["empty", Buffer.alloc(0)],
];

function contents(buf: Buffer): [string, string][] {
  return parseArIndex(buf).map((m) => [m.name, buf.toString("latin1", m.offset, m.offset + m.size)]);
}

/** A member header as dpkg writes it: space-padded name, no "/". */
function header(name: string, size: number | string, terminator = "`\n"): string {
  return `${name.padEnd(16)}${"0".padEnd(12)}${"0".padEnd(6)}${"0".padEnd(6)}${"100644".padEnd(8)}${String(size).padEnd(10)}${terminator}`;
}

function handMade(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from("!<arch>\n")];
  for (const [name, data] of members) {
    parts.push(Buffer.from(header(name, data.length), "latin1"), data);
    if (data.length % 2 === 1) parts.push(Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}

describe("parseArIndex", () => {
  let dir = "";
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "archive-ar-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("reads an archive made by GNU ar, including its long-name table", async () => {
    for (const [name, data] of MEMBERS) await writeFile(join(dir, name), data);
    const archive = join(dir, "test.a");
    execFileSync("/usr/bin/ar", ["rc", archive, ...MEMBERS.map(([name]) => name)], { cwd: dir });
    const buf = await readFile(archive);
    assert.deepEqual(
      contents(buf),
      MEMBERS.map(([name, data]) => [name, data.toString("latin1")]),
    );
  });

  test("reads space-padded names as dpkg writes them", () => {
    const buf = handMade(MEMBERS.filter(([name]) => name.length <= 16));
    assert.deepEqual(contents(buf), [
      ["debian-binary", "2.0\n"],
      ["odd", "abc"],
      ["empty", ""],
    ]);
    const [first, second] = parseArIndex(buf);
    assert.deepEqual(first, { name: "debian-binary", offset: 68, size: 4 });
    assert.deepEqual(second, { name: "odd", offset: 132, size: 3 });
  });

  test("tolerates a missing padding byte after the last odd-sized member", () => {
    const buf = handMade([["odd", Buffer.from("abc")]]);
    assert.deepEqual(contents(buf.subarray(0, buf.length - 1)), [["odd", "abc"]]);
  });

  test("rejects a truncated archive", () => {
    const buf = handMade(MEMBERS.slice(0, 2));
    // Cut inside the last member's data, then inside its header.
    assert.throws(() => parseArIndex(buf.subarray(0, buf.length - 3)), {
      code: "archive.ar",
      message: /member "odd" is truncated/,
    });
    assert.throws(() => parseArIndex(buf.subarray(0, 8 + 60 + 4 + 30)), {
      code: "archive.ar",
      message: /header at offset 72 is truncated/,
    });
  });

  test("rejects a bad magic", () => {
    const buf = handMade(MEMBERS.slice(0, 1));
    buf.write("!<arhc>\n", 0, "latin1");
    assert.throws(() => parseArIndex(buf), { code: "archive.ar", message: /ar magic/ });
    assert.throws(() => parseArIndex(Buffer.from("!<ar")), { code: "archive.ar" });
  });

  test("rejects a bad header terminator and a non-numeric size", () => {
    const badTerminator = Buffer.concat([
      Buffer.from("!<arch>\n"),
      Buffer.from(header("x", 0, "`\r"), "latin1"),
    ]);
    assert.throws(() => parseArIndex(badTerminator), { code: "archive.ar", message: /terminator/ });
    const badSize = Buffer.concat([Buffer.from("!<arch>\n"), Buffer.from(header("x", "12a"), "latin1")]);
    assert.throws(() => parseArIndex(badSize), {
      code: "archive.ar",
      message: /size of member "x" is not a number/,
    });
  });

  test("an archive with only the magic has no members", () => {
    assert.deepEqual(parseArIndex(Buffer.from("!<arch>\n")), []);
  });
});
