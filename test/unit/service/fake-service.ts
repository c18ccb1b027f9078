/**
 * Fakes for the supervisor's unit tests: a clock whose timers fire only when a test advances it,
 * and a VM control whose boots the test ends (ready or failed) and whose process it can kill.
 */

import type { RunningVm, Timers, VmControl } from "../../../src/service/supervisor.js";
import type { Endpoint } from "../../../src/vm/backend.js";

export interface FakeClock extends Timers {
  /** Moves the clock on, firing the timers due on the way (and letting their promises settle). */
  advance(ms: number): Promise<void>;
  /** Timers waiting to fire. */
  pending(): number;
}

export function fakeClock(): FakeClock {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout: (handle) => {
      timers.delete(handle as number);
    },
    pending: () => timers.size,
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()]
          .filter(([, timer]) => timer.at <= end)
          .sort(([, a], [, b]) => a.at - b.at)[0];
        if (due === undefined) break;
        const [id, timer] = due;
        timers.delete(id);
        now = Math.max(now, timer.at);
        timer.callback();
        await settle();
      }
      now = end;
      await settle();
    },
  };
}

/** Lets pending promise callbacks run (several rounds: chains of awaits). */
export async function settle(): Promise<void> {
  for (let round = 0; round < 20; round += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

export interface FakeControl extends VmControl {
  /** The boots asked for, in order; the test ends each with `ready()` or `fail()`. */
  readonly boots: Deferred<RunningVm>[];
  /** What the control was asked, in order. */
  readonly calls: string[];
  /** The VM's process, while it runs. */
  pid: number | undefined;
  /** What guestBuilds answers. */
  builds: number | undefined;
  /** The latest boot's abort signal. */
  signal: AbortSignal | undefined;
  /** Runs while guestBuilds is asking (a connection arriving then, say). */
  duringGuestBuilds: (() => void) | undefined;
  /** Ends the latest boot: the VM up with a new pid. */
  ready(): RunningVm;
  fail(message: string): void;
}

export const FAKE_TARGET: Endpoint = { kind: "unix", path: "/fake/guest.sock" };

export function fakeControl(): FakeControl {
  let nextPid = 100;
  const control: FakeControl = {
    boots: [],
    calls: [],
    pid: undefined,
    builds: 0,
    signal: undefined,
    duringGuestBuilds: undefined,
    boot(signal) {
      control.calls.push("boot");
      control.signal = signal;
      const boot = deferred<RunningVm>();
      control.boots.push(boot);
      // As startVm does: an abort stops what it booted and fails the boot.
      signal.addEventListener("abort", () =>
        boot.reject(new Error("Cancelled: the builder was stopped while it booted")),
      );
      return boot.promise;
    },
    async stop() {
      control.calls.push("stop");
      const outcome = control.pid === undefined ? "not-running" : "powered-off";
      control.pid = undefined;
      return { outcome, seconds: 1 };
    },
    async runningPid() {
      return control.pid;
    },
    async guestBuilds() {
      control.calls.push("guestBuilds");
      control.duringGuestBuilds?.();
      return control.builds;
    },
    ready() {
      const vm: RunningVm = { pid: nextPid++, forwardPort: 40_000, target: FAKE_TARGET };
      control.pid = vm.pid;
      const boot = control.boots.at(-1);
      if (boot === undefined) throw new Error("no boot to end");
      boot.resolve(vm);
      return vm;
    },
    fail(message) {
      const boot = control.boots.at(-1);
      if (boot === undefined) throw new Error("no boot to end");
      boot.reject(new Error(message));
    },
  };
  return control;
}
