import { randomBytes } from "node:crypto";
import { chmod, open, rename, rm } from "node:fs/promises";

/**
 * Writes `data` to `path` so that a reader sees the old file or the whole new one, never a part:
 * a temp file in the same folder (rename is atomic only within a filesystem), synced, given `mode`
 * (open's mode is filtered by the umask), then renamed over `path`. A failed write leaves no temp file.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode: number): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const handle = await open(temp, "w", mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(temp, mode);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
