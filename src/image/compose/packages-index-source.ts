import { type IndexEntry, indexEntry, type Release } from "../debian/release.js";
import type { Arch } from "../guest/profile.js";

/** Where the Packages index of one architecture is fetched from, and what it must hash to. */
export interface PackagesIndexSource {
  /** The uncompressed index's path in the Release file (its hash, when listed, is checked too). */
  readonly plainPath: string;
  /** The compressed file's path in the Release file; its extension says how to decompress it. */
  readonly compressedPath: string;
  readonly entry: IndexEntry;
  readonly url: string;
  readonly fallbackUrl?: string;
}

/** The compressed Packages index of `arch` that the signed Release lists, xz first, below `base` (…/dists/SUITE). */
export function packagesIndexSource(release: Release, base: string, arch: Arch): PackagesIndexSource {
  const plainPath = `main/binary-${arch}/Packages`;
  const compressedPath = [".xz", ".gz"].map((ext) => plainPath + ext).find((p) => release.sha256.has(p));
  if (compressedPath === undefined) {
    // indexEntry throws the error that names the missing index.
    indexEntry(release, `${plainPath}.xz`);
    throw new Error("unreachable");
  }
  const entry = indexEntry(release, compressedPath);
  // By hash where the archive offers it: the file for that hash never changes during a mirror sync.
  const byHashUrl = `${base}/${compressedPath.slice(0, compressedPath.lastIndexOf("/"))}/by-hash/SHA256/${entry.sha256}`;
  const plainUrl = `${base}/${compressedPath}`;
  return {
    plainPath,
    compressedPath,
    entry,
    url: release.acquireByHash ? byHashUrl : plainUrl,
    ...(release.acquireByHash ? { fallbackUrl: plainUrl } : {}),
  };
}
