import { rm } from "node:fs/promises";
import type { Backend } from "../backend.js";
import type { StateLayout } from "../state.js";
import { bootFailure } from "./boot-failure.js";
import { hostDeps, type LifecycleDeps } from "./deps.js";
import { runningPid } from "./pidfile.js";

/** How a stop ended, mildest first. */
export const STOP_OUTCOMES = [
  "not-running",
  "powered-off",
  "quit",
  "quit-failed-boot",
  "terminated",
  "killed",
] as const;

export type StopOutcome = (typeof STOP_OUTCOMES)[number];

/**
 * How often a stop looks whether QEMU is gone: a signal-0 kill, nothing for the host; a guest
 * powers off in well under a second, so tenths of a second were a large share of a stop.
 */
const GONE_POLL_MS = 10;

/**
 * Stops the VM: the backend's stop request (ACPI power-down: the guest stops its daemons and unmounts
 * /nix); after the deadline its force stop (QMP `quit`); then SIGTERM and SIGKILL. Says how it ended.
 */
export async function stopVm(
  layout: StateLayout,
  backend: Pick<Backend, "isOurProcess" | "requestStop" | "forceStop">,
  deadlineMs: number,
  deps: LifecycleDeps = hostDeps,
): Promise<{ outcome: StopOutcome; seconds: number }> {
  const started = deps.now();
  const seconds = () => (deps.now() - started) / 1000;
  const pid = await runningPid(layout, backend, deps);
  if (pid === undefined) return { outcome: "not-running", seconds: 0 };
  // Exited: no such process, or a zombie its parent has not reaped yet (Linux shows a zombie's
  // command line empty), which holds no file any more. A daemonized QEMU's parent is the host's
  // init, which reaped it only 1.1 s later here: a stop waited for that.
  const exited = async () => !deps.alive(pid) || (await deps.cmdline(pid)) === "";
  const gone = async (ms: number): Promise<boolean> => {
    const deadline = deps.now() + ms;
    while (deps.now() < deadline) {
      if (await exited()) return true;
      await deps.sleep(GONE_POLL_MS);
    }
    return exited();
  };
  let outcome: StopOutcome | undefined;
  // A guest whose boot failed waits in a rescue shell that no power button reaches: the VM is
  // ended at once instead of after the deadline.
  const failed = (await bootFailure(layout)) !== undefined;
  // A request that did not reach the VM (its control socket does not answer) means the force stop
  // would not reach it either: straight to the signals.
  const requested = !failed && (await backend.requestStop());
  if (requested && (await gone(deadlineMs))) outcome = "powered-off";
  else if ((failed || requested) && (await backend.forceStop()) && (await gone(5_000)))
    outcome = failed ? "quit-failed-boot" : "quit";
  if (outcome === undefined) {
    deps.kill(pid, "SIGTERM");
    if (await gone(5_000)) outcome = "terminated";
    else {
      deps.kill(pid, "SIGKILL");
      await gone(5_000);
      outcome = "killed";
    }
  }
  await cleanUpAfterVm(layout);
  return { outcome, seconds: seconds() };
}

/** Once the VM is gone: its pidfile and sockets. */
export async function cleanUpAfterVm(layout: StateLayout): Promise<void> {
  for (const file of [layout.pidfile, layout.qmpSocket, layout.consoleSocket])
    await rm(file, { force: true });
}
