/** Top-level directories that merged-/usr turns into symlinks into usr/. */
export const MERGED_USR_ALIASES: readonly string[] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/** Maps a path as a package ships it to where it lives on a merged-/usr system. */
export function mergedUsrPath(path: string): string {
  const slash = path.indexOf("/");
  const top = slash === -1 ? path : path.slice(0, slash);
  return MERGED_USR_ALIASES.includes(top) ? `usr/${path}` : path;
}
