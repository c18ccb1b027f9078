import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ImageStore } from "../store.js";

/**
 * Removes cached files no image needs to be composed again: every file whose hash is not in the lock
 * of an image in `store` (package indexes are always removable; they are fetched again by hash), and
 * the files derived from them.
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
      for (const p of [lock.kernel, ...lock.packages]) keep.add(p.sha256);
    }
  }
  let files = 0;
  let bytes = 0;
  const root = join(cacheDir, "files");
  await rm(join(root, "tmp"), { recursive: true, force: true });
  for (const prefix of await readdir(join(root, "sha256")).catch(() => [] as string[])) {
    for (const name of await readdir(join(root, "sha256", prefix))) {
      if (keep.has(name)) continue;
      const path = join(root, "sha256", prefix, name);
      bytes += (await stat(path)).size;
      await rm(path, { force: true });
      files++;
    }
  }
  for (const source of await readdir(join(root, "derived")).catch(() => [] as string[])) {
    if (keep.has(source)) continue;
    const folder = join(root, "derived", source);
    for (const name of await readdir(folder)) {
      bytes += (await stat(join(folder, name))).size;
      files++;
    }
    await rm(folder, { recursive: true, force: true });
  }
  return { files, bytes };
}
