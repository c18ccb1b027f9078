import { createHash } from "node:crypto";
import { lstat, readFile, readlink } from "node:fs/promises";
import { join, relative } from "node:path";
import { listFiles } from "../../fs/list-files.js";
import { packageRoot } from "../../host/package-root.js";
import {
  type Arch,
  FALLBACK_SYMLINKS,
  GUEST_DATA_PACKAGES,
  GUEST_DIRECTORIES,
  GUEST_LATE_MODULES,
  GUEST_MODULES,
  IMAGE_EXCLUDED_PREFIXES,
  IMAGE_OMITTED_PACKAGES,
  kernelMetaPackage,
  OVERLAY_MODES,
} from "../guest/profile.js";
import { type Lock, serializeLock } from "../lock.js";

/**
 * Bumped whenever the composer's output for the same inputs changes: it is part of the image's reuse
 * key and of the name of every result kept in the content cache (derivedName). Those names cover the
 * data that shapes each result (the profile's exclusions and module lists, the merged-/usr aliases:
 * derivedNames), not the code: bump this when the output of pvhKernel, entriesForImage,
 * kernelPartsOf, the tar or .deb reader, or the entry pack's format changes, or the cache serves
 * results of the old code.
 */
// 7: the manifest records the emulators the image carries (an image of 6 has them, and no record).
// 8: the manifest records the fingerprints of the CAs in the image's bundle.
export const COMPOSER_FORMAT = 8;

/**
 * A hash of everything besides the packages that shapes the image: the composer's format, the guest
 * profile and our guest files. Equal keys mean an existing image can be
 * reused as it is.
 */
export async function composerKey(guestDir: string, arch: Arch): Promise<string> {
  const profile = {
    format: COMPOSER_FORMAT,
    kernel: kernelMetaPackage(arch),
    modules: GUEST_MODULES[arch],
    lateModules: [...GUEST_LATE_MODULES],
    excluded: IMAGE_EXCLUDED_PREFIXES,
    omitted: IMAGE_OMITTED_PACKAGES.map((pattern) => pattern.source),
    data: GUEST_DATA_PACKAGES,
    overlayModes: OVERLAY_MODES,
    fallbackSymlinks: FALLBACK_SYMLINKS,
    directories: GUEST_DIRECTORIES,
  };
  const hash = createHash("sha256").update(`${JSON.stringify(profile)}\n`);
  for (const file of await listFiles(guestDir)) {
    const info = await lstat(file);
    hash.update(`${relative(guestDir, file)}\0${info.mode & 0o111 ? "x" : "-"}\0`);
    hash.update(info.isSymbolicLink() ? `-> ${await readlink(file)}` : await readFile(file));
  }
  return hash.digest("hex");
}

/**
 * The reuse key of an image composed from `lock` by this version of the composer: the lock, the
 * composer's format, the guest profile and our guest files. An image whose manifest says otherwise
 * was composed by another version of linux-builder.
 */
export async function imageInputs(lock: Lock): Promise<string> {
  return createHash("sha256")
    .update(serializeLock(lock))
    .update(await composerKey(guestFilesDir(), lock.arch))
    .digest("hex");
}

/** Our guest files: init.sh and the overlay in rootfs/. */
export function guestFilesDir(): string {
  return join(packageRoot(), "guest");
}
