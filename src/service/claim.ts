import { rm } from "node:fs/promises";
import { isLinuxBuilderError, LinuxBuilderError } from "../errors.js";
import { type PidLock, releasePidLock, takeOverPidLock } from "../lock/pid-lock.js";
import type { StateLayout } from "../vm/state.js";
import { serviceStatus } from "./control-client.js";

/**
 * One serve per state folder. The lock closes the race of two serves starting at once (each would
 * find no socket, delete it and listen); a lock whose pid is dead (a serve killed -9) is taken
 * over. Then serve.sock: removed only when nothing listens there; whatever answers (a serve of
 * another version, one that does not answer in time) is left alone and refuses this serve.
 * Resolves to the release (call when serve stops).
 */
export async function claimService(layout: StateLayout): Promise<() => Promise<void>> {
  // Held for days: a clock stepped forward would make it look older than the host's boot.
  const lock: PidLock = { path: layout.serviceLock, mode: 0o600, newline: true, staleBeforeBoot: false };
  await takeLock(lock, layout);
  const release = () => releasePidLock(lock.path);
  try {
    const running = await serviceStatus(layout.serviceSocket).catch((error: unknown) => {
      if (!isLinuxBuilderError(error)) throw error;
      throw new LinuxBuilderError(
        "service.running",
        `Something answers on ${layout.serviceSocket}, but not as this version's service does (${error.message})`,
        { hint: "Is another version's `linux-builder serve` running? Stop it (or its OS service) first." },
      );
    });
    if (running !== undefined) throw alreadyRunning(running.pid, running.port);
    await rm(layout.serviceSocket, { force: true });
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

/** Takes serve.lock, or refuses this serve if a live one holds it; a dead serve's lock is taken over. */
async function takeLock(lock: PidLock, layout: StateLayout): Promise<void> {
  const got = await takeOverPidLock(lock);
  if (got.taken) return;
  const port = await serviceStatus(layout.serviceSocket)
    .then((status) => status?.port)
    .catch(() => undefined);
  throw alreadyRunning(got.holder, port);
}

function alreadyRunning(pid: number, port: number | undefined): LinuxBuilderError {
  return new LinuxBuilderError(
    "service.running",
    `The service already runs for this state folder (pid ${pid}${port === undefined ? "" : `, port ${port}`})`,
    { hint: "`linux-builder status` shows it; stop it (or its OS service) before starting another." },
  );
}
