import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { parseStanzas } from "../../../../src/image/debian/control.js";
import {
  checkValidUntil,
  indexEntry,
  parseRelease,
  parseReleaseDate,
  verifyIndexHash,
} from "../../../../src/image/debian/release.js";

describe("parseStanzas", () => {
  test("lowercases field names, joins continuation lines, splits stanzas, tolerates CRLF", () => {
    const text =
      "Package: foo\r\nVERSION: 1.0\r\nDescription: short\r\n long line\r\n .\r\n\r\n\r\n" +
      "Package: bar\nSHA256:\n aaa 1 x\n bbb 2 y\n   \t\nPackage: baz\n";
    const stanzas = parseStanzas(text);
    assert.equal(stanzas.length, 3);
    assert.deepEqual(
      [...(stanzas[0] ?? new Map())],
      [
        ["package", "foo"],
        ["version", "1.0"],
        ["description", "short\nlong line\n."],
      ],
    );
    assert.equal(stanzas[1]?.get("sha256"), "aaa 1 x\nbbb 2 y");
    assert.equal(stanzas[2]?.get("package"), "baz");
  });

  test("rejects a continuation line without a field, a line without colon, and duplicate fields", () => {
    assert.throws(() => parseStanzas(" orphan\n", "X"), { code: "debian.control-invalid" });
    assert.throws(() => parseStanzas("Package: a\nnonsense\n", "X"), /line 2/);
    assert.throws(() => parseStanzas("Package: a\npackage: b\n", "X"), /appears twice/);
  });
});

const H1 = "1".repeat(64);
const RELEASE = `Origin: Debian
Label: Debian
Suite: stable
Codename: trixie
Date: Sat, 21 Nov 2026 09:15:44 UTC
Valid-Until: Sat, 28 Nov 2026 09:15:44 +0100
Architectures: all amd64 arm64
Components: main contrib
MD5Sum:
 3e498904a30e240573dac8ddac594e6f  1961125 contrib/Contents-all
SHA256:
 ${H1}   3 main/binary-amd64/Packages
 ${"A".repeat(64)} 1961125 main/binary-amd64/Packages.xz
`;

describe("parseRelease", () => {
  test("parses the fields and the SHA256 list", () => {
    const release = parseRelease(RELEASE, "test Release");
    assert.equal(release.origin, "Debian");
    assert.equal(release.suite, "stable");
    assert.equal(release.codename, "trixie");
    assert.equal(release.date?.toISOString(), "2026-11-21T09:15:44.000Z");
    assert.equal(release.validUntil?.toISOString(), "2026-11-28T08:15:44.000Z");
    assert.deepEqual(release.architectures, ["all", "amd64", "arm64"]);
    assert.deepEqual(release.components, ["main", "contrib"]);
    assert.equal(release.sha256.size, 2);
    assert.deepEqual(release.sha256.get("main/binary-amd64/Packages.xz"), {
      size: 1961125,
      sha256: "a".repeat(64),
    });
    assert.equal(release.sha256.has("contrib/Contents-all"), false, "MD5Sum entries are not SHA256 entries");
  });

  test("rejects malformed SHA256 lines and dates", () => {
    assert.throws(() => parseRelease("SHA256:\n abc 3 x\n", "R"), { code: "debian.release-invalid" });
    assert.throws(() => parseRelease("Date: yesterday\n", "R"), /Date field "yesterday"/);
    assert.throws(() => parseReleaseDate("Sat, 21 Foo 2026 09:15:44 UTC", "Date", "R"), {
      code: "debian.release-invalid",
    });
  });

  test("checkValidUntil refuses an expired Release and names the option", () => {
    const release = parseRelease(RELEASE, "R");
    checkValidUntil(release, new Date("2026-11-28T08:15:44Z"), "R");
    assert.throws(
      () => checkValidUntil(release, new Date("2026-11-28T08:15:45Z"), "R"),
      (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, "debian.release-expired");
        assert.match(error.hint ?? "", /--no-check-valid-until/);
        return true;
      },
    );
    checkValidUntil(parseRelease("Suite: x\n", "R"), new Date("2100-01-01"), "R");
  });

  test("indexEntry refuses a path the Release does not list", () => {
    const release = parseRelease(RELEASE, "R");
    assert.equal(indexEntry(release, "main/binary-amd64/Packages").size, 3);
    assert.throws(() => indexEntry(release, "main/binary-riscv64/Packages.xz"), {
      code: "debian.index-missing",
      message: /main\/binary-riscv64\/Packages\.xz/,
    });
  });
});

describe("verifyIndexHash", () => {
  const bytes = new TextEncoder().encode("abc");
  const good = createHash("sha256").update(bytes).digest("hex");
  const release = parseRelease(
    `SHA256:\n ${good} 3 main/binary-amd64/Packages\n ${good} 4 wrong-size\n`,
    "R",
  );

  test("accepts matching bytes", () => {
    verifyIndexHash(release, "main/binary-amd64/Packages", bytes);
  });

  test("refuses a mismatch, naming the path and both hashes", () => {
    const other = new TextEncoder().encode("abd");
    const otherHash = createHash("sha256").update(other).digest("hex");
    assert.throws(
      () => verifyIndexHash(release, "main/binary-amd64/Packages", other),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "debian.index-hash-mismatch");
        assert.ok(error.message.includes("main/binary-amd64/Packages"));
        assert.ok(error.message.includes(good));
        assert.ok(error.message.includes(otherHash));
        return true;
      },
    );
  });

  test("refuses a size mismatch even when the hash matches", () => {
    assert.throws(() => verifyIndexHash(release, "wrong-size", bytes), {
      code: "debian.index-hash-mismatch",
    });
  });
});
