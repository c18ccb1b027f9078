import { LinuxBuilderError } from "../../errors.js";
import type { TarEntry } from "../archive/tar.js";
import { IMAGE_EXCLUDED_PREFIXES, isDataPackage, isOmittedFromImage } from "../guest/profile.js";
import type { Lock, LockedPackage } from "../lock.js";
import { RootfsTree } from "../rootfs-tree.js";
import type { DebResults } from "./deb-results.js";
import { debOf, isFetched, type LockDebs } from "./fetch-packages.js";

/** A package the image contains, and its cached .deb (or the promise of it, while it downloads). */
export interface PackageToUnpack<D = Promise<string>> {
  readonly pkg: LockedPackage;
  readonly deb: D;
}

/** Whether a package of the lock goes into the image: not one left out, not a data package. */
function isUnpacked(pkg: LockedPackage): boolean {
  return !isOmittedFromImage(pkg.name) && !isDataPackage(pkg.name);
}

/** The packages of the lock that go into the image, each with its .deb. */
export function packagesToUnpack<D>(lock: Lock, debs: LockDebs<D>): PackageToUnpack<D>[] {
  return lock.packages.flatMap((pkg, i) => (isUnpacked(pkg) ? [{ pkg, deb: debOf(debs, i) }] : []));
}

/**
 * What the composer says before the downloads begin, as each package is unpacked once it has arrived.
 * The data packages (CA certificates, the emulators) are read, not unpacked: neither count.
 */
export function unpackingStep(lock: Lock): string {
  const unpacked = lock.packages.filter(isUnpacked).length;
  const notFetched = lock.packages.filter((pkg) => !isFetched(pkg)).length;
  return `Unpacking ${unpacked} packages, each as soon as its .deb is downloaded or found in the cache (${notFetched} left out, not downloaded: nothing a builder runs loads them)`;
}

/** What it says when the downloads end, if `left` packages of `total` are still being unpacked. */
export function unpackingLeftStep(left: number, total: number): string | undefined {
  return left > 0 ? `Unpacking the last ${left} of the ${total} packages` : undefined;
}

/**
 * A merged-/usr tree of the packages' files, without the excluded paths. Each package's entries come
 * from the cache or the workers as soon as its .deb has arrived, all at once; they go into the tree
 * in the lock's order once `downloaded` settles, so that the main thread, which receives and hashes
 * the downloads, serves them first. A download's failure comes out as it is; a package that cannot
 * be read is named. `onRead` is called as each package's entries are ready.
 */
export async function unpackPackages(
  unpacked: readonly PackageToUnpack[],
  results: DebResults,
  downloaded: Promise<unknown> = Promise.resolve(),
  onRead: () => void = () => undefined,
): Promise<RootfsTree> {
  const tree = new RootfsTree(IMAGE_EXCLUDED_PREFIXES);
  const entries = unpacked.map(({ pkg, deb }) =>
    deb
      .then((path) => results.imageEntries(pkg, path))
      .then((read) => {
        onRead();
        return read;
      }),
  );
  // Each rejection is handled where the loop reaches it; the others must not go unhandled meanwhile.
  for (const pending of entries) pending.catch(() => undefined);
  await downloaded;
  for (const [i, { pkg, deb }] of unpacked.entries()) {
    const path = await deb;
    try {
      await tree.addPackage(await (entries[i] as Promise<TarEntry[]>));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new LinuxBuilderError(
        error instanceof LinuxBuilderError ? error.code : "image.unpack",
        `Cannot unpack ${pkg.name} ${pkg.version}: ${reason}`,
        {
          hint: `The cached file ${path} passed its hash check; run \`linux-builder cache prune --all\` and try again, or report it.`,
          cause: error,
        },
      );
    }
  }
  return tree;
}
