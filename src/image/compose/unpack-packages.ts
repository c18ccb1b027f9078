import { LinuxBuilderError } from "../../errors.js";
import { readDebData } from "../archive/deb.js";
import { IMAGE_EXCLUDED_PREFIXES, isDataPackage, isOmittedFromImage } from "../guest/profile.js";
import type { Lock, LockedPackage } from "../lock.js";
import { RootfsTree } from "../rootfs-tree.js";
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

/** A merged-/usr tree of the packages' files, without the excluded paths. */
export async function unpackPackages(
  lock: Lock,
  unpacked: readonly PackageToUnpack[],
  reporter: ComposeReporter,
): Promise<RootfsTree> {
  reporter.step(
    `Unpacking ${unpacked.length} packages (${lock.packages.length - unpacked.length} left out: nothing a builder runs loads them)`,
  );
  const tree = new RootfsTree(IMAGE_EXCLUDED_PREFIXES);
  for (const { pkg, deb } of unpacked) {
    try {
      await tree.addPackage(readDebData(deb));
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
