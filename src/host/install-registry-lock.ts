import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { LinuxBuilderError } from "../errors.js";
import { processAlive } from "../vm/lifecycle/deps.js";

/**
 * An exclusive lock file beside the record of installed builders, so two updates at once (two `run`s,
 * an install beside a run) do not each read the old record and one lose the other's change. It holds
 * the pid of its holder; a lock whose holder is dead is taken over.
 */

const pidIn = (text: string | undefined): number | undefined =>
  text !== undefined && /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;

async function tryTake(lock: string): Promise<boolean> {
  try {
    const handle = await open(lock, "wx", 0o644);
    try {
      await handle.writeFile(String(process.pid));
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Removes the lock if its holder is dead (or it names none after a moment: not being written). It is
 * moved aside first and looked at there: if what moved is a live holder's (taken in between), it goes back.
 */
async function removeIfStale(lock: string): Promise<void> {
  let holder = pidIn(await readFile(lock, "utf8").catch(() => undefined));
  if (holder === undefined) {
    await sleep(50); // Created but not yet written by its taker.
    holder = pidIn(await readFile(lock, "utf8").catch(() => undefined));
  }
  if (holder !== undefined && processAlive(holder)) return;
  const aside = `${lock}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await rename(lock, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // Released meanwhile.
    throw error;
  }
  const moved = pidIn(await readFile(aside, "utf8").catch(() => undefined));
  if (moved !== undefined && moved !== holder && processAlive(moved)) {
    await link(aside, lock).catch(() => undefined);
  }
  await rm(aside, { force: true });
}

/** Runs `work` holding the lock; waits up to `waitMs` for a live holder to let go. */
export async function withRegistryLock<T>(
  lock: string,
  work: () => Promise<T>,
  options: { readonly waitMs?: number; readonly pollMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 10_000);
  while (!(await tryTake(lock))) {
    await removeIfStale(lock);
    if (Date.now() >= deadline) {
      const holder = pidIn(await readFile(lock, "utf8").catch(() => undefined));
      throw new LinuxBuilderError(
        "install.registry",
        `${lock} is held by another linux-builder (pid ${holder ?? "unknown"}) updating the record of installed builders`,
        { hint: `Try again once it is done. If no linux-builder runs, remove ${lock}.` },
      );
    }
    await sleep(options.pollMs ?? 20 + Math.random() * 30);
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}
