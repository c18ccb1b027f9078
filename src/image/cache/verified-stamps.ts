import { randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { parseJsonAs } from "../../json.js";

/**
 * What stat said of a cache file when its bytes were last found to hash right, as git's index
 * remembers a clean file: its size, inode, and modification and change times to the nanosecond.
 */
const stampSchema = z
  .object({
    size: z.string().regex(/^\d+$/),
    ino: z.string().regex(/^\d+$/),
    mtimeNs: z.string().regex(/^\d+$/),
    ctimeNs: z.string().regex(/^\d+$/),
  })
  .strict();

type Stamp = z.infer<typeof stampSchema>;

/**
 * A file whose change time is this close to when its hash was checked may have been written again
 * within the same tick of the file system's clock (ext4 and APFS: a few ms; HFS+ and ext3: 1 s):
 * the stamp could not tell, so none is kept, and the next use hashes it again (git's "racily clean").
 */
export const RACY_MS = 2000;

function stampOf(info: BigIntStats): Stamp {
  return {
    size: info.size.toString(),
    ino: info.ino.toString(),
    mtimeNs: info.mtimeNs.toString(),
    ctimeNs: info.ctimeNs.toString(),
  };
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.size === b.size && a.ino === b.ino && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** Whether two stats describe the same file, unchanged in between. */
export function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return sameStamp(stampOf(a), stampOf(b));
}

/**
 * Stamps that let a compose use a cached file without hashing it again (0.76 s for a guest's ~170 MB
 * on a slow host): one small file per entry, under `root`/<first two hex digits>/<sha256>.
 *
 * A stamp matches only while the file keeps its size, inode, mtime and ctime. That catches what
 * re-hashing on every use caught in practice: a file truncated, replaced (cp, a restore from backup:
 * a new inode or ctime), rewritten in place even at the same size and with its mtime set back (the
 * kernel moves ctime, which no one can set), or renamed over. It does not catch what leaves all four
 * alone: bits rotting on the disk, writes to the raw device, or the system clock set back to the
 * stamp's ctime; nor anyone who can write the cache, who could rewrite the stamps and the remembered
 * resolutions alike. Nor a same-size rewrite within the clock tick of the stat the stamp recorded,
 * where ctime does not move: Linux since 6.13 and APFS leave no such tick (a ctime read by stat is
 * fine-grained), older kernels a few ms. A file found unstamped is therefore stamped only if it last
 * changed RACY_MS before it was hashed; a download, written by us into our own new file, at once.
 */
export class VerifiedStamps {
  constructor(private readonly root: string) {}

  /** Whether `sha256`'s stamp says the file now described by `info` was hashed and found right. */
  async vouchFor(sha256: string, info: BigIntStats): Promise<boolean> {
    const text = await readFile(this.#path(sha256), "utf8").catch(() => undefined);
    const stamp = text === undefined ? undefined : parseJsonAs(stampSchema, text);
    return stamp !== undefined && sameStamp(stamp, stampOf(info));
  }

  /**
   * Records that the file described by `info` hashes to `sha256`. The caller vouches that the
   * bytes it hashed are the ones `info` describes: it wrote them itself, or its stat before and after
   * hashing agree and the file's ctime is older than the hash by RACY_MS (see isRacy).
   */
  async record(sha256: string, info: BigIntStats): Promise<void> {
    const path = this.#path(sha256);
    await mkdir(dirname(path), { recursive: true });
    // Atomic for readers; not synced: a stamp lost in a crash only costs one more hash.
    const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(stampOf(info)));
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** Forgets `sha256`'s stamp (its file is being removed or replaced). */
  async forget(sha256: string): Promise<void> {
    await rm(this.#path(sha256), { force: true });
  }

  #path(sha256: string): string {
    return join(this.root, sha256.slice(0, 2), sha256);
  }
}

/** Whether a file changed too shortly before `hashedAtMs` for its stat to vouch for what was hashed. */
export function isRacy(info: BigIntStats, hashedAtMs: number): boolean {
  const changedMs = Number(info.ctimeNs / 1_000_000n);
  const modifiedMs = Number(info.mtimeNs / 1_000_000n);
  return hashedAtMs - Math.max(changedMs, modifiedMs) < RACY_MS;
}
