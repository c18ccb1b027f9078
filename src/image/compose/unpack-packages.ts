import { LinuxBuilderError } from "../../errors.js";
import type { TarEntry } from "../archive/tar.js";
import { IMAGE_EXCLUDED_PREFIXES, isDataPackage, isOmittedFromImage } from "../guest/profile.js";
import type { Lock, LockedPackage } from "../lock.js";
import { RootfsTree } from "../rootfs-tree.js";
import type { DebResults } from "./deb-results.js";
import type { FetchedPackages } from "./fetch-packages.js";
import type { ComposeReporter } from "./reporter.js";

/** A package the image contains, and its cached .deb. */
export interface PackageToUnpack {
  readonly pkg: LockedPackage;
  readonly deb: string;
}

/** The packages of the lock that go into the image: not those left out, not the data packages. */
export function packagesToUnpack(lock: Lock, debs: FetchedPackages): PackageToUnpack[] {
  return lock.packages.flatMap((pkg, i) =>
    isOmittedFromImage(pkg.name) || isDataPackage(pkg.name) ? [] : [{ pkg, deb: debs.packages[i] as string }],
  );
}

/**
 * A merged-/usr tree of the packages' files, without the excluded paths. Each package's entries come
 * from the cache or the workers, all at once; they go into the tree in the lock's order.
 */
export async function unpackPackages(
  lock: Lock,
  unpacked: readonly PackageToUnpack[],
  results: DebResults,
  reporter: ComposeReporter,
): Promise<RootfsTree> {
  reporter.step(
    `Unpacking ${unpacked.length} packages (${lock.packages.length - unpacked.length} left out: nothing a builder runs loads them)`,
  );
  const tree = new RootfsTree(IMAGE_EXCLUDED_PREFIXES);
  const entries = unpacked.map(({ pkg, deb }) => results.imageEntries(pkg, deb));
  // Each rejection is handled where the loop reaches it; the others must not go unhandled meanwhile.
  for (const pending of entries) pending.catch(() => undefined);
  for (const [i, { pkg, deb }] of unpacked.entries()) {
    try {
      await tree.addPackage(await (entries[i] as Promise<TarEntry[]>));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new LinuxBuilderError(
        error instanceof LinuxBuilderError ? error.code : "image.unpack",
        `Cannot unpack ${pkg.name} ${pkg.version}: ${reason}`,
        {
          hint: `The cached file ${deb} passed its hash check; run \`linux-builder cache prune --all\` and try again, or report it.`,
          cause: error,
        },
      );
    }
  }
  return tree;
}
