import type { TarEntry } from "./archive/tar.js";

/**
 * The image is all root's (the cpio has uid/gid 0), so a setuid or setgid bit granted to another
 * owner or group would become root's: drop it. (unix_chkpwd is root:shadow 2755 in Debian.)
 */
export function rootOwnedMode(entry: Pick<TarEntry, "mode" | "uid" | "gid">): number {
  let mode = entry.mode;
  if (entry.uid !== 0) mode &= ~0o4000;
  if (entry.gid !== 0) mode &= ~0o2000;
  return mode;
}
