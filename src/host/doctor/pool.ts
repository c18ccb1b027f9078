import { type InstalledBuilder, stateFolderMissing } from "../install-registry.js";
import { type Check, type CheckStatus, check } from "./check.js";

/** Another recorded builder of the pool, and the verdict on its machines line. */
export interface PoolMemberFacts {
  readonly builder: InstalledBuilder;
  readonly machines: Check;
  /** Its state folder is gone (deleted by hand): only uninstall is left to do for it. */
  readonly stateDirMissing?: boolean;
}

const RANK: Record<CheckStatus, number> = { ok: 0, warn: 1, fail: 2 };

/**
 * Which of the installed builders doctor checked in full (the one its flags name), and the other
 * ones' machines lines, each the same check as the selected one's; how to check one of them fully.
 * Undefined when no other builder is recorded (then there is nothing more to say).
 */
export function checkPool(facts: {
  readonly selected: { readonly port: number; readonly stateDir: string };
  readonly others: readonly PoolMemberFacts[];
}): Check | undefined {
  if (facts.others.length === 0) return undefined;
  const where = (port: number, stateDir: string) => `127.0.0.1:${port} (${stateDir})`;
  const verdict = (other: PoolMemberFacts): CheckStatus =>
    other.stateDirMissing === true && other.machines.status === "ok" ? "warn" : other.machines.status;
  const status = facts.others
    .map(verdict)
    .reduce<CheckStatus>((worst, next) => (RANK[next] > RANK[worst] ? next : worst), "ok");
  const others = facts.others.map(
    (other) =>
      `${where(other.builder.port, other.builder.stateDir)}: ${verdict(other)}, ${other.machines.detail}${other.stateDirMissing === true ? `; ${stateFolderMissing(other.builder)}` : ""}`,
  );
  const first = (facts.others.find((other) => verdict(other) !== "ok") ?? facts.others[0]) as PoolMemberFacts;
  return check(
    "installed builders",
    status,
    `${facts.others.length + 1} installed; the checks above are for ${where(facts.selected.port, facts.selected.stateDir)}; the others' machines lines: ${others.join("; ")}`,
    status === "ok"
      ? undefined
      : first.stateDirMissing === true
        ? `Its ${stateFolderMissing(first.builder)} (from Nix's machines file and the record).`
        : `Check one in full with its own flags, e.g. \`linux-builder doctor --state-dir ${first.builder.stateDir} --port ${first.builder.port}\`; \`linux-builder install\` with them rewrites its line.`,
  );
}

/** The record of installed builders cannot be read: doctor says so (and goes on with the rest). */
export function unreadablePool(problem: string, fix: string | undefined): Check {
  return check("installed builders", "fail", problem, fix);
}
