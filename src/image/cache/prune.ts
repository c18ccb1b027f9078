import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { currentDerivedNames } from "../compose/derived-results.js";
import { isFetched } from "../compose/fetch-packages.js";
import type { ImageStore } from "../store.js";
import { derivedStampKey } from "./content-cache.js";

/**
 * Removes cached files no image needs to be composed again: every file whose hash is not in the lock
 * of an image in `store` (package indexes are always removable; they are fetched again by hash) or
 * is the .deb of a package the image leaves out (never fetched since), the files derived from them,
 * the derived files of the kept ones that this composer no longer reads (made by an older format or
 * profile), and the stamps (verified/) of every file no longer there.
 */
export async function pruneCache(
  cacheDir: string,
  store: ImageStore,
  options: { all: boolean },
): Promise<{ files: number; bytes: number }> {
  const keep = new Set<string>();
  if (!options.all) {
    for (const image of await store.list()) {
      const lock = await store.readLock(image);
      for (const p of [lock.kernel, ...lock.packages.filter(isFetched)]) keep.add(p.sha256);
    }
  }
  let files = 0;
  let bytes = 0;
  const remove = async (path: string) => {
    bytes += (await stat(path)).size;
    await rm(path, { force: true });
    files++;
  };
  // The stamps of the files that stay; every other stamp goes.
  const stamped = new Set<string>();
  const root = join(cacheDir, "files");
  await rm(join(root, "tmp"), { recursive: true, force: true });
  for (const prefix of await readdir(join(root, "sha256")).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, "sha256", prefix))) {
      if (keep.has(name)) stamped.add(name);
      else await remove(join(root, "sha256", prefix, name));
    }
  }
  const current = currentDerivedNames();
  for (const source of await readdir(join(root, "derived")).catch(() => [] as string[])) {
    const folder = join(root, "derived", source);
    for (const entry of await readdir(folder)) {
      const name = entry.slice(0, entry.lastIndexOf("@"));
      if (keep.has(source) && current.has(name)) stamped.add(derivedStampKey(source, entry));
      else await remove(join(folder, entry));
    }
    if (!keep.has(source)) await rm(folder, { recursive: true, force: true });
  }
  const stamps = join(root, "verified");
  for (const prefix of await readdir(stamps).catch(() => [] as string[])) {
    for (const name of await readdir(join(stamps, prefix))) {
      if (stamped.has(name)) continue;
      bytes += (await stat(join(stamps, prefix, name))).size;
      await rm(join(stamps, prefix, name), { force: true });
    }
  }
  return { files, bytes };
}
