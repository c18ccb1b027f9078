/**
 * `linux-builder doctor` as pure logic: facts about the host go in (gathered by host/probe/), one
 * verdict per check comes out. No I/O in doctor/, so every verdict is tested with literal inputs:
 * sw_vers strings, lsof output, `nix show-config --json`, file modes.
 */
export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do about it, for warn and fail. */
  readonly fix?: string;
}

/** One verdict; `fix` only where there is something to do. */
export function check(name: string, status: CheckStatus, detail: string, fix?: string): Check {
  return fix === undefined ? { name, status, detail } : { name, status, detail, fix };
}
