import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { decompressBuffer } from "../archive/decompress.js";
import { type IndexEntry, indexEntry, type Release } from "../debian/release.js";
import type { Arch } from "../guest/profile.js";

const gunzipAsync = promisify(gunzip);

/**
 * zlib's output chunk when inflating the index off the main thread: each chunk is one trip to the
 * thread pool and back. At zlib's default 16 KiB, trixie's 56 MB took 1.0–1.2 s (3,500 trips); at
 * 1 MiB, 0.23 s.
 */
const INFLATE_CHUNK = 1 << 20;

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

/**
 * The compressed Packages index of `arch` that the signed Release lists, below `base` (…/dists/SUITE):
 * gzip first, then xz. Node inflates gzip natively, trixie's 56 MB in about 0.25 s on a slow 2-core
 * host, where xz goes through WASM and takes 1.4–2.7 s; the gzip file is 3.6 MB (37 %) larger.
 */
export function packagesIndexSource(release: Release, base: string, arch: Arch): PackagesIndexSource {
  const plainPath = `main/binary-${arch}/Packages`;
  const compressedPath = [".gz", ".xz"].map((ext) => plainPath + ext).find((p) => release.sha256.has(p));
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

/** The decompressed index, from the bytes of `source.compressedPath`; gzip off the main thread, in zlib. */
export async function decompressPackagesIndex(
  source: PackagesIndexSource,
  compressed: Buffer,
): Promise<Buffer> {
  if (!source.compressedPath.endsWith(".gz")) return decompressBuffer(source.compressedPath, compressed);
  // decompressBuffer gives the same bytes through a stream of small chunks, 4× slower; on bad data it
  // is asked again for its error, which says what is wrong in the words the rest of the composer uses.
  return gunzipAsync(compressed, { chunkSize: INFLATE_CHUNK }).catch(() =>
    decompressBuffer(source.compressedPath, compressed),
  );
}
