import { mkdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { LinuxBuilderError } from "../../errors.js";
import {
  type PidLock,
  type PidLockSeen,
  readPidLock,
  releasePidLock,
  removeStalePidLock,
  takeOverPidLock,
  takePidLock,
} from "../../lock/pid-lock.js";
import type { StateLayout } from "../state.js";
import { throwIfCancelled } from "./cancel.js";

/**
 * The state folder's start lock: a file holding the pid of the linux-builder that is starting the
 * builder (preparing, booting, waiting for ready). Whoever holds it is the only one that may boot a
 * QEMU for this state folder; a start that finds it held by a live process waits for it.
 */

/** The start lock as found (free, or held by a live or dead owner). */
export type LockSeen = PidLockSeen;

/** Held for a boot's minutes only, so one older than the host's boot is stale (its pid recycled). */
const startLock = (layout: StateLayout): PidLock => ({
  path: layout.startLock,
  mode: 0o600,
  newline: false,
  staleBeforeBoot: true,
});

/** Takes the lock if it is free. */
export async function tryTakeStartLock(layout: StateLayout): Promise<boolean> {
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  return takePidLock(startLock(layout));
}

export function readStartLock(layout: StateLayout): Promise<LockSeen> {
  return readPidLock(startLock(layout));
}

/** Removes a lock whose owner is dead (or unknown); one a live start took meanwhile stays. */
export function removeStaleStartLock(layout: StateLayout): Promise<void> {
  return removeStalePidLock(startLock(layout));
}

/** Gives the lock up, if it is still ours. */
export function releaseStartLock(layout: StateLayout): Promise<void> {
  return releasePidLock(layout.startLock);
}

/** What a start does next while it does not hold the lock. */
export type LockWaitStep = "take-lock" | "remove-stale-lock" | "wait" | "running" | "timed-out";

export function lockWaitStep(seen: {
  readonly lock: LockSeen;
  /** Whether our QEMU runs (its pidfile names a live QEMU). */
  readonly vmRunning: boolean;
  /** false for `start --no-wait`: a QEMU that runs is enough. */
  readonly waitReady: boolean;
  readonly timedOut: boolean;
}): LockWaitStep {
  if (!seen.lock.held) return "take-lock";
  if (seen.lock.owner === undefined || !seen.lock.ownerAlive) return "remove-stale-lock";
  if (!seen.waitReady && seen.vmRunning) return "running";
  if (seen.timedOut) return "timed-out";
  return "wait";
}

/** What a start does once it holds the lock. */
export type LockedStep = "boot" | "running" | "wait-ready";

export function lockedStep(seen: { readonly vmRunning: boolean; readonly waitReady: boolean }): LockedStep {
  if (!seen.vmRunning) return "boot";
  return seen.waitReady ? "wait-ready" : "running";
}

/** What a start waiting for a running builder to be ready does next. */
export type ReadyWaitStep = "ready" | "died" | "failed" | "timed-out" | "poll";

export function readyWaitStep(seen: {
  readonly vmRunning: boolean;
  readonly ready: boolean;
  /** The guest said its boot failed (it waits in a rescue shell: it will never be ready). */
  readonly bootFailed: boolean;
  readonly timedOut: boolean;
}): ReadyWaitStep {
  if (!seen.vmRunning) return "died";
  if (seen.ready) return "ready";
  if (seen.bootFailed) return "failed";
  if (seen.timedOut) return "timed-out";
  return "poll";
}

/**
 * Takes the start lock, waiting (until `deadline`) while a live process holds it and removing it when
 * its owner is dead. With `waitReady` false (`start --no-wait`), a QEMU that runs ends the wait too:
 * then the lock is not taken. The caller releases a lock it got (releaseStartLock).
 */
export async function acquireStartLock(
  layout: StateLayout,
  options: {
    readonly deadline: number;
    readonly waitReady: boolean;
    /** Our QEMU's pid if it runs. */
    readonly vmPid: () => Promise<number | undefined>;
    /** Said once, when another process holds the lock. */
    readonly onWait?: (owner: number) => void;
    readonly pollMs?: number;
    /** Gives up waiting (Ctrl-C). */
    readonly signal?: AbortSignal;
  },
): Promise<{ readonly kind: "locked" } | { readonly kind: "running"; readonly pid: number }> {
  let told = false;
  for (;;) {
    throwIfCancelled(options.signal, "the builder was not started");
    if (await tryTakeStartLock(layout)) return { kind: "locked" };
    const lock = await readStartLock(layout);
    const pid = lock.held && lock.ownerAlive && !options.waitReady ? await options.vmPid() : undefined;
    const step = lockWaitStep({
      lock,
      vmRunning: pid !== undefined,
      waitReady: options.waitReady,
      timedOut: Date.now() >= options.deadline,
    });
    const owner = lock.held ? lock.owner : undefined;
    switch (step) {
      case "take-lock":
        continue; // Released between our attempt and our look.
      case "remove-stale-lock":
        await removeStaleStartLock(layout);
        continue;
      case "running":
        return { kind: "running", pid: pid as number };
      case "timed-out":
        throw new LinuxBuilderError(
          "vm.still-starting",
          `Another linux-builder (pid ${owner}) was still starting the builder when the wait ran out`,
          {
            hint: `Wait longer (--timeout), or see \`linux-builder status\`. If no linux-builder runs, remove ${layout.startLock}.`,
          },
        );
      case "wait":
        if (!told && owner !== undefined) options.onWait?.(owner);
        told = true;
        await sleep(options.pollMs ?? 100);
    }
  }
}

/**
 * Takes the lock without waiting (`run`: it cannot wait for a start only to find the builder
 * running): a live owner is an error; a dead one's lock is removed.
 */
export async function takeStartLockNow(layout: StateLayout): Promise<void> {
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  const got = await takeOverPidLock(startLock(layout));
  if (got.taken) return;
  throw new LinuxBuilderError(
    "vm.starting",
    `Another linux-builder (pid ${got.holder}) is starting the builder`,
    {
      hint: "Wait for it, then run `linux-builder status`.",
    },
  );
}
