import { randomBytes } from "node:crypto";
import { link, lstat, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { uptime } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { processAlive } from "../process/process-alive.js";

/**
 * A lock file that names the pid of its holder: the start lock, serve's claim and the lock of the
 * record of installed builders. Taking it is exclusive; a holder that died (killed -9) leaves it
 * behind, so a taker that finds it looks whether its holder lives and takes a dead one's over. What
 * a caller does while a live process holds it (wait, fail) is the caller's.
 */
export interface PidLock {
  readonly path: string;
  /** The file's permissions (filtered by the umask, as open's are). */
  readonly mode: number;
  /** Whether the pid ends with a newline (serve.lock's does; the others' do not). */
  readonly newline: boolean;
  /**
   * Whether a lock older than the host's boot is stale though its pid runs (recycled since). Only
   * for a lock held briefly (the start lock): one held for days (serve.lock) would look older than
   * the boot after the clock steps forward (NTP correcting a host without an RTC), and be taken from
   * its live holder.
   */
  readonly staleBeforeBoot: boolean;
}

/** What reading a lock needs: where it is, and how its age counts. */
export type PidLockPlace = Pick<PidLock, "path" | "staleBeforeBoot">;

/** The lock as found: free, or held by `owner` (undefined: not a pid, so nobody's), alive or not. */
export type PidLockSeen =
  | { readonly held: false }
  | { readonly held: true; readonly owner: number; readonly ownerAlive: boolean }
  | { readonly held: true; readonly owner: undefined; readonly ownerAlive: false };

/** The pid a lock or pid file names: a positive whole number, alone on its line; else undefined. */
export function parsePid(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** Errors of link(2) on a file system without hard links. */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/**
 * Takes the lock if it is free. The pid is written to a temporary file first and linked into place
 * (link fails when the lock exists), so the lock is never seen empty, half-written; where the file
 * system has no hard links, an exclusive create, whose empty moment readPidLock allows for. Once
 * taken, what dead takers left beside it is removed.
 */
export async function takePidLock(lock: PidLock): Promise<boolean> {
  const taken = await linkPidLock(lock);
  if (taken) await removeDeadTakersLeftovers(lock.path);
  return taken;
}

/** The temporary file a try writes beside the lock: `<lock>.<pid>.<8 hex>.tmp`. */
const tempOf = (lockPath: string) => `${lockPath}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;

/**
 * Removes what takers killed in the middle of a try (their pid is dead) left beside the lock, which
 * would stay there (the user's registry) for good: temporary files (tempOf) and stale locks moved
 * aside (removeStalePidLock). Only this lock's: the exact patterns.
 */
async function removeDeadTakersLeftovers(lockPath: string): Promise<void> {
  const folder = dirname(lockPath);
  const escaped = basename(lockPath).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const leftover = new RegExp(`^${escaped}\\.(?:(\\d+)\\.[0-9a-f]{8}\\.tmp|stale\\.(\\d+)\\.[0-9a-f]{8})$`);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    const match = leftover.exec(name);
    const pid = Number(match?.[1] ?? match?.[2]);
    if (pid > 0 && pid !== process.pid && !processAlive(pid)) await rm(join(folder, name), { force: true });
  }
}

/** One try: true if the lock was free and is now ours. */
async function linkPidLock(lock: PidLock): Promise<boolean> {
  const text = lock.newline ? `${process.pid}\n` : String(process.pid);
  // Unique even among tries in one process (callers race them).
  const temp = tempOf(lock.path);
  await writeFile(temp, text, { mode: lock.mode });
  try {
    await link(temp, lock.path);
    return true;
  } catch (error) {
    if (errnoOf(error) === "EEXIST") return false;
    if (!NO_HARD_LINKS.has(errnoOf(error) ?? "")) throw error;
    try {
      await writeFile(lock.path, text, { flag: "wx", mode: lock.mode });
      return true;
    } catch (fallback) {
      if (errnoOf(fallback) === "EEXIST") return false;
      throw fallback;
    }
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Undefined for a file that is not there. Any other failure to read it is thrown, with its path (Node
 * leaves it off a failed read, as EISDIR's), so the CLI names the file: a lock it cannot read is not free.
 */
async function unlessAbsent<T>(path: string, reading: Promise<T>): Promise<T | undefined> {
  try {
    return await reading;
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return undefined;
    throw Object.assign(error as NodeJS.ErrnoException, { path });
  }
}

/** When this host booted: a lock older than that is left from before a reboot, its pid recycled. */
function hostBootTime(): number {
  return Date.now() - uptime() * 1000;
}

/**
 * Reads the lock at `path`: who holds it, and whether that process still runs. A symbolic link (even
 * a dangling one, which link(2) finds there but a read does not) or a special file is not a pid: held,
 * by nobody, so removed as stale (a link's target is left alone). A folder is an error naming it.
 */
export async function readPidLock(lock: PidLockPlace): Promise<PidLockSeen> {
  const { path } = lock;
  for (let look = 0; ; look++) {
    // lstat first: a read would follow a link, and block on a FIFO.
    const info = await unlessAbsent(path, lstat(path));
    if (info === undefined) return { held: false };
    if (!info.isFile() && !info.isDirectory()) return { held: true, owner: undefined, ownerAlive: false };
    const text = await unlessAbsent(path, readFile(path, "utf8"));
    if (text === undefined) return { held: false };
    // Empty: being written by the exclusive-create fallback; look once more before calling it stale.
    if (text === "" && look === 0) {
      await sleep(50);
      continue;
    }
    const owner = parsePid(text);
    if (owner === undefined) return { held: true, owner: undefined, ownerAlive: false };
    // A minute of slack for the clock and uptime's rounding.
    const beforeBoot = lock.staleBeforeBoot && info.mtimeMs < hostBootTime() - 60_000;
    return { held: true, owner, ownerAlive: !beforeBoot && processAlive(owner) };
  }
}

/**
 * Removes a lock found stale. It is moved aside first, atomically, so of two that remove it one
 * does, and looked at there: if another taker had replaced it in the meantime (what moved names a
 * live holder), it is put back. (Put back with link, which fails if a third took the free path in
 * that moment: then both would hold it. It takes three at once beside a dead holder's lock.)
 */
export async function removeStalePidLock(lock: PidLockPlace): Promise<void> {
  const { path } = lock;
  // Named for removeDeadTakersLeftovers: `<lock>.stale.<pid>.<8 hex>`.
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return; // Removed by another meanwhile.
    throw error;
  }
  try {
    const moved = await readPidLock({ ...lock, path: aside });
    if (moved.held && moved.ownerAlive) await link(aside, path).catch(() => undefined);
  } finally {
    await rm(aside, { force: true });
  }
}

/** How many times takeOverPidLock finds the lock it failed to take free before it gives up. */
const MAX_FREE_WHEN_LOOKED = 300;

/**
 * Takes the lock, taking a dead holder's over; if a live process holds it, says which (whether to
 * wait for it or give up is the caller's).
 */
export async function takeOverPidLock(
  lock: PidLock,
): Promise<{ readonly taken: true } | { readonly taken: false; readonly holder: number }> {
  for (let freeWhenLooked = 0; ; ) {
    if (await takePidLock(lock)) return { taken: true };
    const seen = await readPidLock(lock);
    if (!seen.held) {
      // Let go between our try and our look: rare, so many times running means the file system
      // says "exists" to link(2) and "absent" to a read, and we would spin forever.
      if (++freeWhenLooked >= MAX_FREE_WHEN_LOOKED) {
        throw new Error(
          `Cannot take the lock ${lock.path}: ${MAX_FREE_WHEN_LOOKED} times it was there to take, and not there to read`,
        );
      }
      continue;
    }
    if (seen.ownerAlive) return { taken: false, holder: seen.owner };
    await removeStalePidLock(lock);
  }
}

/** Gives the lock up, if it is still ours. */
export async function releasePidLock(path: string): Promise<void> {
  const text = await readFile(path, "utf8").catch(() => undefined);
  if (text !== undefined && parsePid(text) === process.pid) await rm(path, { force: true });
}
