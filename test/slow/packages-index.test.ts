/**
 * The scanned index against the full parse on Debian's real index (with the test cache): every name
 * gets the same answers, and the guest's lock is the same.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { ContentCache } from "../../src/image/cache/content-cache.js";
import { lockFromIndex } from "../../src/image/compose/lock-from-index.js";
import {
  decompressPackagesIndex,
  packagesIndexSource,
} from "../../src/image/compose/packages-index-source.js";
import { verifyInRelease } from "../../src/image/debian/inrelease.js";
import { loadKeyring } from "../../src/image/debian/keyring.js";
import { PackageIndex, parsePackagesIndex } from "../../src/image/debian/packages-index.js";
import { ScannedPackageIndex } from "../../src/image/debian/scanned-packages-index.js";
import { DEFAULT_MIRROR, DEFAULT_SUITE, GUEST_ROOT_PACKAGES } from "../../src/image/guest/profile.js";
import { fetchBytes } from "../../src/net/fetch-bytes.js";
import { testHome } from "../support/guest-vm.js";

test("on trixie's amd64 index the scanned index answers every name as the full parse (slow, network)", {
  timeout: 10 * 60_000,
}, async () => {
  const base = `${DEFAULT_MIRROR}/dists/${DEFAULT_SUITE}`;
  const verified = await verifyInRelease(
    (await fetchBytes(`${base}/InRelease`, "InRelease")).toString("utf8"),
    await loadKeyring(),
    { now: new Date(), checkValidUntil: true, source: `${base}/InRelease` },
  );
  const source = packagesIndexSource(verified.release, base, "amd64");
  const cache = new ContentCache(join(testHome(), "cache", "files"));
  const file = await cache.fetch({
    url: source.url,
    ...(source.fallbackUrl === undefined ? {} : { fallbackUrl: source.fallbackUrl }),
    sha256: source.entry.sha256,
    size: source.entry.size,
    label: "the index",
  });
  const text = await decompressPackagesIndex(source, await readFile(file));

  const label = `${DEFAULT_SUITE}/main amd64`;
  const full = new PackageIndex(parsePackagesIndex(text.toString("utf8"), label, { arch: "amd64" }), {
    arch: "amd64",
    label,
  });
  const scanned = new ScannedPackageIndex(text, { arch: "amd64", label });
  const roots = [...GUEST_ROOT_PACKAGES];
  assert.deepEqual(
    lockFromIndex(scanned, roots, DEFAULT_SUITE, "amd64"),
    lockFromIndex(full, roots, DEFAULT_SUITE, "amd64"),
  );
  const names = new Set<string>();
  for (const record of full.records()) {
    names.add(record.name);
    for (const provided of record.provides) names.add(provided.name);
  }
  assert.ok(names.size > 50_000, `a real index (${names.size} names)`);
  const differing = [...names].filter(
    (name) => !isDeepStrictEqual(scanned.candidates(name), full.candidates(name)),
  );
  assert.deepEqual(differing, []);
});
