import { readFile, rm } from "node:fs/promises";
import { parsePid } from "../../lock/pid-lock.js";
import type { Backend } from "../backend.js";
import type { StateLayout } from "../state.js";
import { hostDeps, type LifecycleDeps } from "./deps.js";

/** The pid of our VM if it runs; a pidfile left by a dead one is removed. */
export async function runningPid(
  layout: Pick<StateLayout, "pidfile">,
  backend: Pick<Backend, "isOurProcess">,
  deps: Pick<LifecycleDeps, "alive" | "cmdline"> = hostDeps,
): Promise<number | undefined> {
  const text = await readFile(layout.pidfile, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const pid = parsePid(text);
  // Not a pid (yet): QEMU may be writing it right now (it truncates, then writes); leave it be.
  if (pid === undefined) return undefined;
  if (deps.alive(pid)) {
    // A recycled pid is not our VM: on Linux, check what runs under it.
    const cmdline = await deps.cmdline(pid);
    if (cmdline === undefined || backend.isOurProcess(cmdline)) return pid;
  }
  await rm(layout.pidfile, { force: true });
  return undefined;
}
