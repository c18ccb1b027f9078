import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  decompressPackagesIndex,
  packagesIndexSource,
} from "../../../../src/image/compose/packages-index-source.js";
import { parseRelease } from "../../../../src/image/debian/release.js";

const XZ = "a".repeat(64);
const GZ = "b".repeat(64);
const BASE = "http://mirror/debian/dists/trixie";

function release(lines: string[], byHash: boolean) {
  const sha256 = lines.map((line) => ` ${line}`).join("\n");
  return parseRelease(
    `Codename: trixie\n${byHash ? "Acquire-By-Hash: yes\n" : ""}SHA256:\n${sha256}\n`,
    "test Release",
  );
}

test("the gz index is preferred, fetched by hash with the plain path as the fallback", () => {
  const source = packagesIndexSource(
    release([`${XZ} 10 main/binary-arm64/Packages.xz`, `${GZ} 20 main/binary-arm64/Packages.gz`], true),
    BASE,
    "arm64",
  );
  assert.equal(source.plainPath, "main/binary-arm64/Packages");
  assert.equal(source.compressedPath, "main/binary-arm64/Packages.gz");
  assert.deepEqual(source.entry, { size: 20, sha256: GZ });
  assert.equal(source.url, `${BASE}/main/binary-arm64/by-hash/SHA256/${GZ}`);
  assert.equal(source.fallbackUrl, `${BASE}/main/binary-arm64/Packages.gz`);
});

test("without Acquire-By-Hash the index is fetched by its path, and xz serves where there is no gz", () => {
  const source = packagesIndexSource(
    release([`${XZ} 10 main/binary-amd64/Packages.xz`], false),
    BASE,
    "amd64",
  );
  assert.equal(source.compressedPath, "main/binary-amd64/Packages.xz");
  assert.equal(source.url, `${BASE}/main/binary-amd64/Packages.xz`);
  assert.equal(source.fallbackUrl, undefined);
});

test("a gz index is inflated, and one that is not gzip is refused as the archive readers refuse it", async () => {
  const text = Buffer.from("Package: a\nVersion: 1\n");
  const gz = packagesIndexSource(release([`${GZ} 20 main/binary-amd64/Packages.gz`], false), BASE, "amd64");
  assert.deepEqual(await decompressPackagesIndex(gz, gzipSync(text)), text);
  await assert.rejects(decompressPackagesIndex(gz, Buffer.from("not gzip")), {
    code: "archive.compression",
  });
});

test("a Release listing no compressed index of the architecture is refused, naming the index", () => {
  assert.throws(
    () => packagesIndexSource(release([`${XZ} 10 main/binary-arm64/Packages.xz`], false), BASE, "amd64"),
    { code: "debian.index-missing", message: /main\/binary-amd64\/Packages\.xz.*trixie/ },
  );
});
