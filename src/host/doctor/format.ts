/** The report: the checks' worst status, and the checks as text. */
import type { Check, CheckStatus } from "./check.js";

export function worstStatus(checks: readonly Check[]): CheckStatus {
  if (checks.some((c) => c.status === "fail")) return "fail";
  return checks.some((c) => c.status === "warn") ? "warn" : "ok";
}

const LABEL: Record<CheckStatus, string> = { ok: "ok", warn: "warn", fail: "FAIL" };

/** The checks as aligned text: status, name, detail; the fix on its own line below. */
export function formatChecks(checks: readonly Check[]): string {
  const nameWidth = Math.max(0, ...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${LABEL[c.status].padEnd(4)}  ${c.name.padEnd(nameWidth)}  ${c.detail}`);
    if (c.fix !== undefined && c.status !== "ok") lines.push(`${" ".repeat(6 + nameWidth + 2)}fix: ${c.fix}`);
  }
  const failures = checks.filter((c) => c.status === "fail").length;
  const warnings = checks.filter((c) => c.status === "warn").length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  lines.push(
    "",
    failures + warnings === 0
      ? "All checks passed."
      : `${plural(failures, "failure")}, ${plural(warnings, "warning")}.`,
  );
  return `${lines.join("\n")}\n`;
}
