import { readdir } from "node:fs/promises";
import { join } from "node:path";

/** Every file below `dir`, sorted, symlinks listed and not followed. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    // Symlinks are listed, not followed: the overlay keeps them as symlinks.
    else out.push(full);
  }
  return out.sort();
}
