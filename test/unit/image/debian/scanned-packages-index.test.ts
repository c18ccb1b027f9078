import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { lockFromIndex } from "../../../../src/image/compose/lock-from-index.js";
import { PackageIndex, parsePackagesIndex } from "../../../../src/image/debian/packages-index.js";
import { resolveClosure } from "../../../../src/image/debian/resolver.js";
import { ScannedPackageIndex } from "../../../../src/image/debian/scanned-packages-index.js";

const SHA = "0".repeat(64);

function stanza(name: string, version: string, arch: string, extra: string[] = []): string {
  return [
    `Package: ${name}`,
    `Version: ${version}`,
    `Architecture: ${arch}`,
    ...extra,
    `Filename: pool/${name}_${version}_${arch}.deb`,
    "Size: 1",
    `SHA256: ${SHA}`,
  ].join("\n");
}

function both(text: string, arch = "amd64") {
  return {
    full: new PackageIndex(parsePackagesIndex(text, "P", { arch }), { arch, label: "t" }),
    scanned: new ScannedPackageIndex(Buffer.from(text), { arch, label: "t" }),
  };
}

/** Every name the text mentions as a package or in a relation: the questions to compare the answers on. */
function namesIn(text: string): string[] {
  return [...new Set(text.match(/[a-z0-9][a-z0-9+.-]*/g) ?? [])];
}

function assertSameAnswers(text: string, arch = "amd64"): void {
  const { full, scanned } = both(text, arch);
  for (const name of namesIn(text)) {
    assert.deepEqual(scanned.candidates(name), full.candidates(name), `candidates(${name})`);
    assert.deepEqual(scanned.versions(name), full.versions(name), `versions(${name})`);
  }
}

describe("ScannedPackageIndex", () => {
  test("answers as PackageIndex does: versions, duplicates, providers, other architectures", () => {
    assertSameAnswers(
      [
        stanza("mawk", "1.3.4-1", "amd64", ["Provides: awk"]),
        stanza("mawk", "1.3.4-2", "amd64", ["Provides: awk, mawk-compat (= 1.3.4-2)"]),
        // The same name and version again: the first one stays, and this one provides nothing.
        stanza("mawk", "1.3.4-2", "amd64", ["Provides: other-awk"]),
        stanza("awk", "1", "all"),
        stanza("gawk", "5", "arm64", ["Provides: awk"]),
        stanza("busybox", "1:1.37", "amd64", ["Provides: awk (= 1), sh [amd64], ash [!amd64]"]),
      ].join("\n\n"),
    );
  });

  test("reads the format as parseStanzas does: case, CRLF, comments, blank lines of spaces, continued fields", () => {
    const text = [
      "# a comment before the first stanza",
      stanza("a", "1", "amd64", ["Depends: b"]).replace("Package:", "PACKAGE :"),
      "  \t",
      stanza("b", "2", "amd64", ["provides: x,", " y (= 2),", "# a comment inside a field", " z"]).replace(
        "Architecture:",
        "architecture:",
      ),
      "",
      "",
      stanza("c", "3", "amd64").replace(/\n/g, "\r\n"),
      "",
      // No newline at the end of the last stanza.
      stanza("d", "4", "all", ["Provides: x"]).trimEnd(),
    ].join("\n");
    assertSameAnswers(text);
    const { scanned } = both(text);
    assert.deepEqual(
      scanned.candidates("x").map((c) => c.record.name),
      ["b", "d"],
    );
    assert.equal(scanned.versions("c")[0]?.version, "3");
  });

  test("a malformed stanza is refused when a lookup reaches it, with the same error code", () => {
    const text = [
      stanza("good", "1", "amd64"),
      stanza("bad", "1", "amd64").replace("Size: 1", "Size: one"),
    ].join("\n\n");
    const scanned = new ScannedPackageIndex(Buffer.from(text), { arch: "amd64", label: "t" });
    assert.equal(scanned.versions("good").length, 1);
    assert.throws(() => scanned.versions("bad"), { code: "debian.index-invalid", message: /Size/ });
    assert.throws(() => parsePackagesIndex(text, "P"), { code: "debian.index-invalid" });
  });

  test("random indexes resolve to the same closure as the full parse", () => {
    const name = fc.constantFrom("a", "b", "c", "d", "e", "f", "g");
    const relation = fc
      .tuple(name, fc.option(fc.tuple(fc.constantFrom(">=", "<<", "="), fc.constantFrom("1", "2", "3"))))
      .map(([n, constraint]) => (constraint === null ? n : `${n} (${constraint[0]} ${constraint[1]})`));
    const record = fc.record({
      name,
      version: fc.constantFrom("1", "2", "3"),
      arch: fc.constantFrom("amd64", "all", "arm64"),
      depends: fc.array(fc.array(relation, { minLength: 1, maxLength: 2 }), { maxLength: 3 }),
      provides: fc.array(
        fc
          .tuple(name, fc.boolean(), fc.constantFrom("1", "2"))
          .map(([n, versioned, v]) => (versioned ? `${n} (= ${v})` : n)),
        { maxLength: 2 },
      ),
    });
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: 12 }),
        fc.array(name, { minLength: 1, maxLength: 3 }),
        (records, roots) => {
          const text = records
            .map((r) =>
              stanza(r.name, r.version, r.arch, [
                ...(r.depends.length > 0
                  ? [`Depends: ${r.depends.map((g) => g.join(" | ")).join(", ")}`]
                  : []),
                ...(r.provides.length > 0 ? [`Provides: ${r.provides.join(", ")}`] : []),
              ]),
            )
            .join("\n\n");
          assertSameAnswers(text);
          const { full, scanned } = both(text);
          const resolve = (index: PackageIndex | ScannedPackageIndex) => {
            try {
              return resolveClosure(index, roots, { arch: "amd64" });
            } catch (error) {
              return (error as Error).message;
            }
          };
          assert.deepEqual(resolve(scanned), resolve(full));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a lock from the scanned index is the lock from the full parse", () => {
    const text = [
      stanza("app", "1", "amd64", ["Depends: libc6"]),
      stanza("libc6", "2.41", "amd64"),
      stanza("linux-image-cloud-amd64", "6.12", "amd64", ["Depends: linux-image-6.12-cloud-amd64"]),
      stanza("linux-image-6.12-cloud-amd64", "6.12.48-1", "amd64"),
    ].join("\n\n");
    const { full, scanned } = both(text);
    assert.deepEqual(
      lockFromIndex(scanned, ["app"], "trixie", "amd64"),
      lockFromIndex(full, ["app"], "trixie", "amd64"),
    );
  });
});
