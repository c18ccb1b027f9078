import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { processAlive } from "../../process/process-alive.js";
import type { LaunchPlan } from "../backend.js";

const run = promisify(execFile);

/**
 * The side effects of the lifecycle besides its state folder: processes and the clock. Real ones
 * here; the lifecycle's unit tests give fakes, so a stop escalation or a boot deadline takes
 * milliseconds.
 */
export interface LifecycleDeps {
  /** Whether a process runs (a zombie or one of another user's counts). */
  alive(pid: number): boolean;
  /** Its command line, NUL-separated; undefined where the host does not show it (macOS). */
  cmdline(pid: number): Promise<string | undefined>;
  kill(pid: number, signal: NodeJS.Signals): void;
  /** Runs a detached launch to its exit (it returns once the VM runs); rejects with its stderr. */
  runDetached(plan: LaunchPlan): Promise<void>;
  /** Milliseconds, for deadlines (Date.now). */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const hostDeps: LifecycleDeps = {
  alive: processAlive,
  cmdline: (pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined),
  kill: (pid, signal) => process.kill(pid, signal),
  runDetached: async (plan) => {
    await run(plan.command, [...plan.args], { timeout: 60_000 });
  },
  now: () => Date.now(),
  sleep: (ms) => sleep(ms),
};
