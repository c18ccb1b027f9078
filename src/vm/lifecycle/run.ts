import { type ChildProcess, spawn } from "node:child_process";
import { LinuxBuilderError } from "../../errors.js";
import { kernelCrash, reachedReady } from "../../guest/console-lines.js";
import { consoleOffset, readConsoleSince } from "../../guest/console-log.js";
import type { StoredImage } from "../../image/store.js";
import type { StateLayout } from "../state.js";
import { hostDeps } from "./deps.js";
import { type ProbeKernel, removeLeftProbeKernel, withEarlyAccel } from "./early-accel.js";
import { bootWithCrashRetry } from "./kernel-crash.js";
import { runningPid } from "./pidfile.js";
import {
  assertBootable,
  type BootOptions,
  type PreparedBoot,
  prepareBoot,
  type VmBackend,
} from "./prepare.js";
import { recordInstance } from "./record-instance.js";
import { releaseStartLock, takeStartLockNow } from "./start-lock.js";
import { cleanUpAfterVm, stopVm } from "./stop.js";

export interface RunOptions extends Omit<BootOptions, "image" | "accel"> {
  /**
   * The image to boot, asked for under the start lock once nothing refuses the boot (it may compose
   * one; see StartOptions.image): the accelerator's probe runs beside its composition.
   */
  readonly image: (offerProbeKernel: (kernel: ProbeKernel) => void) => Promise<StoredImage>;
  /** Ends a KVM probe running beside the composition (Ctrl-C before the VM takes the terminal). */
  readonly signal?: AbortSignal;
  /** Runs once the VM is prepared, before it takes the terminal (the first boot only): prints, installs. */
  readonly beforeBoot?: (boot: PreparedBoot) => Promise<void>;
  /** On SIGTERM or SIGHUP, how long the guest may take to power off, as `stop --timeout`. */
  readonly stopDeadlineMs: number;
  /** The kernel crashed while booting and the VM boots once more: what to warn. */
  readonly onRetry?: (warning: string) => void;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly seconds: number;
  /** The end of what this boot printed on the console, to tell how it ended. */
  readonly consoleTail: string;
}

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/**
 * Runs the VM attached to this terminal (`nix run nixpkgs#darwin.builder`): the shared preparation,
 * `beforeBoot`, then the VM in the foreground with the console (and QEMU's monitor) on stdio, until it
 * exits; once more if its kernel crashed while booting. Cleans up as `stop` does and returns the
 * VM's exit status.
 */
export function runVm(options: RunOptions): Promise<RunResult> {
  return bootWithCrashRetry(
    (attempt) => runOnce(options, attempt === 1 ? options.beforeBoot : undefined),
    crashedWhileBooting,
    () => options.onRetry?.("the builder's kernel crashed while booting; booting it once more"),
  );
}

/** A boot that ended by itself within a minute, with a kernel crash and no READY on its console. */
function crashedWhileBooting(result: RunResult): boolean {
  return (
    result.code === 0 &&
    result.seconds < 60 &&
    kernelCrash(result.consoleTail) !== undefined &&
    !reachedReady(result.consoleTail)
  );
}

async function runOnce(options: RunOptions, beforeBoot: RunOptions["beforeBoot"]): Promise<RunResult> {
  const { layout, backend } = options;
  const logOffset = await consoleOffset(layout.consoleLog);
  // Set once the VM is spawned: from then on, whatever happens, its files are cleaned up.
  let restoreSignals: (() => void) | undefined;
  try {
    await takeStartLockNow(layout);
    const { ended, started } = await (async () => {
      try {
        const { boot, image } = await prepareAttachedBoot(options);
        await beforeBoot?.(boot);
        const child = spawn(boot.command, [...boot.args], { stdio: "inherit" });
        restoreSignals = holdSignals(layout, backend, options.stopDeadlineMs, child);
        const started = performance.now();
        const ended = new Promise<Ended>((resolve) => {
          child.once("error", (error) => resolve({ code: null, signal: null, error }));
          child.once("exit", (code, signal) => resolve({ code, signal }));
        });
        const pid = child.pid;
        const early = pid === undefined ? await ended : await waitForPidfile(layout, backend, pid, ended);
        if (early !== undefined || pid === undefined) {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          // The VM printed its own message on the terminal (stderr is inherited).
          const why =
            (early?.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT"
              ? "is not installed"
              : early?.error
                ? `failed: ${early.error.message}`
                : `exited with status ${early?.code ?? early?.signal} (its message is above)`;
          throw new LinuxBuilderError("vm.qemu-failed", `Cannot start the builder: ${boot.command} ${why}`, {
            hint: "`linux-builder doctor` checks QEMU and the port.",
          });
        }
        await recordInstance({ ...options, image }, boot, pid, true, logOffset);
        return { ended, started };
      } finally {
        await releaseStartLock(layout);
      }
    })();
    const end = await ended;
    return {
      code: end.code,
      signal: end.signal,
      seconds: (performance.now() - started) / 1000,
      consoleTail: await readConsoleSince(layout.consoleLog, logOffset),
    };
  } finally {
    if (restoreSignals !== undefined) {
      restoreSignals();
      await cleanUpAfterVm(layout);
    }
  }
}

/**
 * Under the start lock: refuses a boot that cannot be before composing anything, then the image with
 * the accelerator chosen beside it (as `start` does), then the rest of the preparation.
 */
async function prepareAttachedBoot(options: RunOptions): Promise<{ boot: PreparedBoot; image: StoredImage }> {
  await assertBootable(options, "attached");
  await removeLeftProbeKernel(options.layout.dir);
  return await withEarlyAccel(options, async (image, accel) => ({
    boot: await prepareBoot({ ...options, image, accel }, "attached"),
    image,
  }));
}

/**
 * While an attached VM runs, this process must outlive it to clean up. Ctrl-c reaches the guest
 * through the terminal (QEMU's signal=off), and a SIGINT sent to the whole process group reaches QEMU
 * too, which decides: we ignore it. A SIGTERM for us (a service manager, `kill PID`) or a SIGHUP (the
 * terminal went away; when we lead the session, QEMU is not told) stops the guest cleanly, as `stop`
 * does. Returns the function that restores the default handlers.
 */
function holdSignals(
  layout: StateLayout,
  backend: VmBackend,
  stopDeadlineMs: number,
  child: ChildProcess,
): () => void {
  let stopping = false;
  const ignore = () => {};
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Before the VM wrote its pidfile there is nothing for `stop` to find: signal it directly.
    void stopVm(layout, backend, stopDeadlineMs)
      .then(({ outcome }) => outcome === "not-running" && child.kill("SIGTERM"))
      .catch(() => undefined);
  };
  process.on("SIGINT", ignore);
  process.on("SIGHUP", stop);
  process.on("SIGTERM", stop);
  return () => {
    process.off("SIGINT", ignore);
    process.off("SIGHUP", stop);
    process.off("SIGTERM", stop);
  };
}

/** Waits until the VM's pidfile names `pid`, or the VM ends first (then says how). */
async function waitForPidfile(
  layout: StateLayout,
  backend: VmBackend,
  pid: number,
  ended: Promise<Ended>,
): Promise<Ended | undefined> {
  let end: Ended | undefined;
  void ended.then((value) => {
    end = value;
  });
  const deadline = Date.now() + 30_000;
  while (end === undefined && Date.now() < deadline) {
    if ((await runningPid(layout, backend, hostDeps)) === pid) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return end ?? { code: null, signal: null, error: new Error("QEMU wrote no pidfile within 30 s") };
}
