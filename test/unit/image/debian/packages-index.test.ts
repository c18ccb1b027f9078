import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PackageIndex, parsePackagesIndex } from "../../../../src/image/debian/packages-index.js";

const SHA = "0".repeat(64);

const TEXT = `Package: bash
Version: 5.2.37-2
Installed-Size: 7000
Architecture: amd64
Essential: yes
Multi-Arch: foreign
Priority: required
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Recommends: bash-completion
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
Filename: pool/main/b/bash/bash_5.2.37-2_amd64.deb
Size: 1500000
SHA256: ${"A".repeat(64)}

Package: mawk
Version: 1.3.4-1
Architecture: amd64
Provides: awk
Filename: pool/main/m/mawk/mawk_1.3.4-1_amd64.deb
Size: 10
SHA256: ${SHA}

Package: mawk
Version: 1.3.4-2
Architecture: amd64
Provides: awk, mawk-compat (= 1.3.4-2)
Filename: pool/main/m/mawk/mawk_1.3.4-2_amd64.deb
Size: 10
SHA256: ${SHA}

Package: awk
Version: 1
Architecture: all
Filename: pool/main/a/awk/awk_1_all.deb
Size: 10
SHA256: ${SHA}

Package: gawk
Version: 5
Architecture: arm64
Provides: awk
Filename: pool/main/g/gawk/gawk_5_arm64.deb
Size: 10
SHA256: ${SHA}
`;

describe("parsePackagesIndex", () => {
  test("parses the fields of a record", () => {
    const [bash] = parsePackagesIndex(TEXT, "test Packages");
    assert.deepEqual(bash, {
      name: "bash",
      version: "5.2.37-2",
      architecture: "amd64",
      essential: true,
      depends: [
        [{ name: "base-files", op: ">=", version: "2.1.12" }],
        [{ name: "debianutils", op: ">=", version: "5.6-0.1" }],
      ],
      preDepends: [
        [{ name: "libc6", op: ">=", version: "2.36" }],
        [{ name: "libtinfo6", op: ">=", version: "6" }],
      ],
      provides: [],
      filename: "pool/main/b/bash/bash_5.2.37-2_amd64.deb",
      size: 1500000,
      sha256: "a".repeat(64),
      multiArch: "foreign",
      priority: "required",
      installedSize: 7000,
    });
  });

  test("a missing mandatory field names the package and the field", () => {
    for (const field of ["Version", "Architecture", "Filename", "Size", "SHA256"]) {
      const text = TEXT.split("\n\n")[1]?.replace(new RegExp(`^${field}:.*\\n?`, "m"), "") ?? "";
      assert.throws(
        () => parsePackagesIndex(text, "test Packages"),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, "debian.index-invalid");
          assert.match(error.message, /package mawk/);
          assert.match(error.message, new RegExp(`field ${field} is missing`));
          return true;
        },
      );
    }
    assert.throws(
      () => parsePackagesIndex("Version: 1\n", "P"),
      /stanza 1 in P: the mandatory field Package is missing/,
    );
  });

  test("refuses a Filename outside the archive and a malformed size or hash", () => {
    const mawk = TEXT.split("\n\n")[1] ?? "";
    assert.throws(() => parsePackagesIndex(mawk.replace("pool/main", "../../etc"), "P"), /Filename/);
    assert.throws(() => parsePackagesIndex(mawk.replace("Size: 10", "Size: ten"), "P"), /Size/);
    assert.throws(() => parsePackagesIndex(mawk.replace(SHA, "xyz"), "P"), /SHA256/);
    assert.throws(
      () => parsePackagesIndex(mawk.replace("Provides: awk", "Provides: awk | gawk"), "P"),
      /alternatives/,
    );
  });
});

describe("PackageIndex", () => {
  const index = new PackageIndex(parsePackagesIndex(TEXT, "P"), { arch: "amd64", label: "test/main amd64" });

  test("keeps the target arch and all, drops other arches", () => {
    assert.deepEqual(
      index.records().map((r) => `${r.name}/${r.architecture}`),
      ["awk/all", "bash/amd64", "mawk/amd64", "mawk/amd64"],
    );
  });

  test("candidates: real packages by highest version, then providers", () => {
    assert.deepEqual(
      index.candidates("awk").map((c) => `${c.kind}:${c.record.name}=${c.record.version}`),
      ["real:awk=1", "provides:mawk=1.3.4-2", "provides:mawk=1.3.4-1"],
    );
    assert.deepEqual(
      index.candidates("mawk").map((c) => c.record.version),
      ["1.3.4-2", "1.3.4-1"],
    );
    const [compat] = index.candidates("mawk-compat");
    assert.ok(compat?.kind === "provides");
    assert.deepEqual(compat.provided, { name: "mawk-compat", op: "=", version: "1.3.4-2" });
    assert.deepEqual(index.candidates("gawk"), []);
  });
});
