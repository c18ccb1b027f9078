import { setTimeout as sleep } from "node:timers/promises";
import { LinuxBuilderError } from "../errors.js";
import { type PidLock, releasePidLock, takeOverPidLock } from "../lock/pid-lock.js";

/**
 * An exclusive lock file beside the record of installed builders, so two updates at once (two `run`s,
 * an install beside a run) do not each read the old record and one lose the other's change. It holds
 * the pid of its holder; a lock whose holder is dead is taken over.
 */

/** Runs `work` holding the lock; waits up to `waitMs` for a live holder to let go. */
export async function withRegistryLock<T>(
  path: string,
  work: () => Promise<T>,
  options: { readonly waitMs?: number; readonly pollMs?: number } = {},
): Promise<T> {
  const lock: PidLock = { path, mode: 0o644, newline: false, staleBeforeBoot: false };
  const deadline = Date.now() + (options.waitMs ?? 10_000);
  for (;;) {
    const got = await takeOverPidLock(lock);
    if (got.taken) break;
    if (Date.now() >= deadline) {
      throw new LinuxBuilderError(
        "install.registry",
        `${path} is held by another linux-builder (pid ${got.holder}) updating the record of installed builders`,
        { hint: `Try again once it is done. If no linux-builder runs, remove ${path}.` },
      );
    }
    await sleep(options.pollMs ?? 20 + Math.random() * 30);
  }
  try {
    return await work();
  } finally {
    await releasePidLock(path);
  }
}
