import type { TarEntry } from "../archive/tar.js";
import { mergedUsrPath } from "../merged-usr.js";
import { isExcludedPath } from "../rootfs-tree.js";

/**
 * The entries of one package's data.tar that the image can use: all but the excluded paths
 * (RootfsTree drops those anyway), keeping an excluded file a kept hard link of the same package
 * takes its content from. Adding these to a RootfsTree gives the same tree as adding them all.
 */
export function entriesForImage(entries: readonly TarEntry[], excluded: readonly string[]): TarEntry[] {
  const excludedHere = (entry: TarEntry) => isExcludedPath(mergedUsrPath(entry.path), excluded);
  const linkTargets = new Set(
    entries
      .filter((entry) => entry.type === "hardlink" && !excludedHere(entry))
      .map((entry) => mergedUsrPath(entry.linkname ?? "")),
  );
  return entries.filter((entry) => !excludedHere(entry) || linkTargets.has(mergedUsrPath(entry.path)));
}
