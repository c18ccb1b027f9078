import { constants } from "node:os";
import { poweredOff } from "../guest/console-lines.js";
import type { RunResult } from "../vm/lifecycle/run.js";

/** How the run ended, from QEMU's exit and what the guest printed last. */
export function describeRunEnd(result: RunResult, consoleLog: string): string {
  const took = `after ${formatDuration(result.seconds)}`;
  if (result.signal !== null) return `QEMU was stopped by ${result.signal} ${took}.`;
  if (/Kernel panic/.test(result.consoleTail)) {
    return `The guest's kernel panicked ${took}; ${consoleLog} has its last words.`;
  }
  if (poweredOff(result.consoleTail)) {
    return `The builder powered off cleanly ${took}.`;
  }
  if (result.code === 0) return `QEMU quit without the guest powering off (the monitor's quit?) ${took}.`;
  return `QEMU exited with status ${result.code} ${took}; ${consoleLog} has the guest's console.`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return minutes < 60
    ? `${minutes} min ${whole % 60} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** QEMU's status as ours; killed by a signal, the shell's 128 + its number. */
export function exitStatus(result: Pick<RunResult, "code" | "signal">): number {
  if (result.code !== null) return result.code;
  return 128 + (result.signal === null ? 0 : (constants.signals[result.signal] ?? 0));
}
