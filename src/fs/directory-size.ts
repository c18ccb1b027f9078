import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/** The bytes of the files below `path` (a missing path is 0), as `du --apparent-size` counts them. */
export async function directorySize(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += await directorySize(join(path, name));
  return total;
}
