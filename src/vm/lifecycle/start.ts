import { LinuxBuilderError } from "../../errors.js";
import { kernelCrash, scanConsole } from "../../guest/console-lines.js";
import { consoleOffset, readConsoleSince } from "../../guest/console-log.js";
import type { StoredImage } from "../../image/store.js";
import { type InstanceInfo, readInstance } from "../instance.js";
import type { StateLayout } from "../state.js";
import { bootFailure } from "./boot-failure.js";
import { throwIfCancelled } from "./cancel.js";
import { hostDeps } from "./deps.js";
import { directSshPort } from "./direct-port.js";
import { type ProbeKernel, removeLeftProbeKernel, withEarlyAccel } from "./early-accel.js";
import { bootWithCrashRetry, KernelCrashedError } from "./kernel-crash.js";
import { runningPid } from "./pidfile.js";
import { portTakenError } from "./port-check.js";
import { type BootOptions, bootForwardPort, prepareBoot } from "./prepare.js";
import { bootReadiness, isReady, type ReadinessCheck } from "./readiness.js";
import { recordInstance } from "./record-instance.js";
import { acquireStartLock, lockedStep, readyWaitStep, releaseStartLock } from "./start-lock.js";
import { stopVm } from "./stop.js";

export interface StartOptions extends Omit<BootOptions, "image"> {
  /**
   * The image to boot: asked for only when this start boots the VM (it may compose one). It offers
   * a kernel for the KVM probe as soon as it has one (an older image's, or the composer's), so the
   * probe runs beside the composition.
   */
  readonly image: (offerProbeKernel: (kernel: ProbeKernel) => void) => Promise<StoredImage>;
  readonly waitReady: boolean;
  /** How long to wait in all: for another start to finish, then for the builder to be ready. */
  readonly readyTimeoutMs: number;
  /** This start boots the VM (said once the image is there, before the VM starts). */
  readonly onBoot?: () => void;
  /** Another linux-builder (`owner`) is starting the builder: this start waits for it. */
  readonly onWait?: (owner: number) => void;
  /** The kernel crashed while booting and the VM boots once more: what to warn. */
  readonly onRetry?: (warning: string) => void;
  /** Cancels the start (Ctrl-C): a VM it booted is stopped, and it throws vm.cancelled. */
  readonly signal?: AbortSignal;
  /** Whether the store answers (tests pass their own; isReady over the reused connection otherwise). */
  readonly storeAnswers?: (layout: StateLayout, port: number, timeoutMs: number) => Promise<boolean>;
}

/** This start booted the VM. */
export interface StartBooted {
  readonly kind: "booted";
  readonly instance: InstanceInfo;
  readonly ready: boolean;
  readonly readySeconds?: number;
  /** Where the time went, in seconds from the VM's start: the VM running, the guest's sshd up, the store's answer. */
  readonly phases?: { readonly qemu: number; readonly guest: number; readonly store: number };
}

/** The VM was running already, or another start booted it; `ready` once it answered (never with --no-wait). */
export interface StartFoundRunning {
  readonly kind: "running";
  readonly pid: number;
  readonly ready: boolean;
  /** How long this start waited: for the other start, then for ready. */
  readonly waitedSeconds: number;
}

export type StartResult = StartBooted | StartFoundRunning;

const storeAnswersOverReuse = (layout: StateLayout, port: number, timeoutMs: number) =>
  isReady(layout, port, { reuse: true, timeoutMs });

/**
 * Makes sure the builder runs, and with `waitReady` that it is ready: idempotent, and safe to run
 * many times at once on one state folder. Under the start lock, exactly one start boots the VM; a
 * start that finds the lock held by a live process waits until it is given up (a start that died
 * leaves a stale lock, which is removed), then looks again: the VM running, it waits for it to be
 * ready (still under the lock, so one start at a time sets up the shared ssh connection); else it
 * boots it, and once more if its kernel crashed. All within `readyTimeoutMs`, except a boot's own
 * wait for ready, which has all of it from the VM's start.
 */
export function startVm(options: StartOptions): Promise<StartResult> {
  return bootWithCrashRetry(
    () => startOnce(options),
    () => false,
    (crash) => options.onRetry?.(`${crash?.message}; starting it once more`),
  );
}

async function startOnce(options: StartOptions): Promise<StartResult> {
  const { layout, backend } = options;
  const deps = options.deps ?? hostDeps;
  const began = deps.now();
  const deadline = began + options.readyTimeoutMs;
  const waited = () => (deps.now() - began) / 1000;
  const got = await acquireStartLock(layout, {
    deadline,
    waitReady: options.waitReady,
    vmPid: () => runningPid(layout, backend, deps),
    ...(options.onWait ? { onWait: options.onWait } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (got.kind === "running") return { kind: "running", pid: got.pid, ready: false, waitedSeconds: waited() };
  try {
    await removeLeftProbeKernel(layout.dir);
    const pid = await runningPid(layout, backend, deps);
    switch (lockedStep({ vmRunning: pid !== undefined, waitReady: options.waitReady })) {
      case "boot":
        return await withEarlyAccel(options, (image, accel) => {
          throwIfCancelled(options.signal, "the builder was not started");
          options.onBoot?.();
          return bootDetached({ ...options, image, accel });
        });
      case "running":
        return { kind: "running", pid: pid as number, ready: false, waitedSeconds: waited() };
      case "wait-ready": {
        const instance = await readInstance(layout);
        // The store is asked where this start's ssh goes: the forward behind a front door, if any
        // (a dead serve's VM too: it listens there, not on the configured port).
        const port =
          options.forwardPort === undefined
            ? directSshPort(instance, options.config.port)
            : (instance?.forwardPort ?? options.forwardPort);
        const ready = await waitUntilReady(options, port, pid as number, deadline);
        return { kind: "running", pid: pid as number, ready, waitedSeconds: waited() };
      }
    }
  } finally {
    await releaseStartLock(layout);
  }
}

/**
 * Waits for a VM this start did not boot to be ready; false when the deadline comes first. A VM that
 * stops meanwhile, or whose guest says its boot failed, is an error, as for a boot of our own.
 */
async function waitUntilReady(
  options: StartOptions,
  port: number,
  pid: number,
  deadline: number,
): Promise<boolean> {
  const { layout, backend } = options;
  const deps = options.deps ?? hostDeps;
  const storeAnswers = options.storeAnswers ?? storeAnswersOverReuse;
  const offset = (await readInstance(layout))?.consoleOffset;
  for (;;) {
    // Not ours to stop: a cancelled wait only ends.
    throwIfCancelled(options.signal, "stopped waiting for the builder to be ready");
    const vmRunning = (await runningPid(layout, backend, deps)) === pid;
    const ready =
      vmRunning && (await storeAnswers(layout, port, Math.min(15_000, Math.max(1, deadline - deps.now()))));
    const failure = vmRunning && !ready ? await bootFailure(layout) : undefined;
    switch (
      readyWaitStep({ vmRunning, ready, bootFailed: failure !== undefined, timedOut: deps.now() >= deadline })
    ) {
      case "ready":
        return true;
      case "timed-out":
        return false;
      case "poll":
        await deps.sleep(200);
        continue;
      case "failed":
        throw guestFailed(layout, failure as string);
      case "died": {
        const crash =
          offset === undefined ? undefined : kernelCrash(await readConsoleSince(layout.consoleLog, offset));
        if (crash) throw new KernelCrashedError(crash);
        throw new LinuxBuilderError(
          "vm.died",
          `The builder (pid ${pid}) stopped while this start waited for it to be ready; its console log is ${layout.consoleLog}`,
          { hint: "`linux-builder logs` shows what the guest printed." },
        );
      }
    }
  }
}

function guestFailed(layout: StateLayout, reason: string): LinuxBuilderError {
  return new LinuxBuilderError("vm.guest-failed", `The builder failed to boot: ${reason}`, {
    hint: `\`linux-builder logs\` shows the console (${layout.consoleLog}); \`linux-builder stop\` stops it.`,
  });
}

/** Boots the VM detached, under the start lock: the shared preparation, the backend's launch, then waits for ready. */
async function bootDetached(
  options: Omit<StartOptions, "image"> & { readonly image: StoredImage },
): Promise<StartBooted> {
  const { layout, backend } = options;
  const deps = options.deps ?? hostDeps;
  const boot = await prepareBoot(options, "detached");
  const logOffset = await consoleOffset(layout.consoleLog);
  const started = deps.now();
  try {
    await deps.runDetached(boot);
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
    if (backend.launchFailure(stderr) === "port-taken") throw portTakenError(bootForwardPort(options));
    throw new LinuxBuilderError(
      "vm.qemu-failed",
      `Cannot start the builder: ${boot.command} failed: ${stderr || (error as Error).message}`,
      { hint: `Is ${backend.name} installed (${boot.command})? \`linux-builder doctor\` checks.` },
    );
  }
  const pid = await runningPid(layout, backend, deps);
  if (pid === undefined) {
    throw new LinuxBuilderError(
      "vm.qemu-failed",
      `${backend.name} started but left no running process (see ${layout.consoleLog})`,
    );
  }
  const instance = await recordInstance(options, boot, pid, false, logOffset);
  if (!options.waitReady) {
    // Cancelled while the VM launched: it is not left behind.
    if (options.signal?.aborted) await stopVm(layout, backend, 0, deps);
    throwIfCancelled(options.signal, "the builder was stopped as it started");
    return { kind: "booted", instance, ready: false };
  }
  try {
    return await waitForBoot(options, instance, logOffset, started);
  } catch (error) {
    // A cancelled start leaves no VM behind: it ends the one it booted (no guest to wait for).
    if (options.signal?.aborted) await stopVm(layout, backend, 0, deps);
    throw error;
  }
}

/**
 * Runs the readiness checks in order (bootReadiness), each polled until it passes, with the time
 * each passed at as the boot's phases. Between polls: the guest saying FAILED is an error, and so is
 * the VM ending (a kernel crash named as one); the deadline ends the wait, not ready.
 */
async function waitForBoot(
  options: Omit<StartOptions, "image"> & { readonly image: StoredImage },
  instance: InstanceInfo,
  logOffset: number,
  started: number,
): Promise<StartBooted> {
  const { layout, backend } = options;
  const deps = options.deps ?? hostDeps;
  const storeAnswers = options.storeAnswers ?? storeAnswersOverReuse;
  const deadline = deps.now() + options.readyTimeoutMs;
  const seconds = () => (deps.now() - started) / 1000;
  const console = () => readConsoleSince(layout.consoleLog, logOffset);
  const checks = bootReadiness({
    console,
    storeAnswers: (ms) => storeAnswers(layout, bootForwardPort(options), ms),
  });
  const passedAt = new Map<ReadinessCheck["name"], number>();
  const qemu = seconds();
  for (const check of checks) {
    for (;;) {
      if (deps.now() >= deadline) return { kind: "booted", instance, ready: false };
      throwIfCancelled(options.signal, "the builder was stopped while it booted");
      const said = scanConsole(await console());
      if (said?.kind === "failed") throw guestFailed(layout, said.reason);
      if ((await runningPid(layout, backend, deps)) === undefined) {
        const crash = kernelCrash(await console());
        if (crash) throw new KernelCrashedError(crash);
        throw new LinuxBuilderError(
          "vm.died",
          `The builder stopped while booting; its console log is ${layout.consoleLog}`,
          { hint: "`linux-builder logs` shows what the guest printed." },
        );
      }
      if (await check.passed(Math.max(1, deadline - deps.now()))) break;
      await deps.sleep(check.pollMs);
    }
    passedAt.set(check.name, seconds());
  }
  const guest = passedAt.get("guest") ?? qemu;
  const store = passedAt.get("store") ?? guest;
  return { kind: "booted", instance, ready: true, readySeconds: store, phases: { qemu, guest, store } };
}
