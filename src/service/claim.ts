import { open, readFile, rm } from "node:fs/promises";
import { isLinuxBuilderError, LinuxBuilderError } from "../errors.js";
import { processAlive } from "../vm/lifecycle/deps.js";
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
  const lock = layout.serviceLock;
  await takeLock(lock, layout);
  const release = async () => {
    if ((await lockHolder(lock)) === process.pid) await rm(lock, { force: true });
  };
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

async function takeLock(lock: string, layout: StateLayout): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const file = await open(lock, "wx", 0o600);
      await file.writeFile(`${process.pid}\n`);
      await file.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 2) throw error;
    }
    const holder = await lockHolder(lock);
    if (holder !== undefined && processAlive(holder)) {
      const port = await serviceStatus(layout.serviceSocket)
        .then((status) => status?.port)
        .catch(() => undefined);
      throw alreadyRunning(holder, port);
    }
    // Stale: its serve is gone (or the file is not a pid).
    await rm(lock, { force: true });
  }
}

async function lockHolder(lock: string): Promise<number | undefined> {
  const text = await readFile(lock, "utf8").catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alreadyRunning(pid: number, port: number | undefined): LinuxBuilderError {
  return new LinuxBuilderError(
    "service.running",
    `The service already runs for this state folder (pid ${pid}${port === undefined ? "" : `, port ${port}`})`,
    { hint: "`linux-builder status` shows it; stop it (or its OS service) before starting another." },
  );
}
