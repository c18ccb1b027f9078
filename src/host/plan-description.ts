import type { Plan } from "./plan.js";

/** A readable account of a plan, for --dry-run: every file change as a diff, every command. */
export function describePlan(plan: Plan): string {
  const out: string[] = [];
  for (const step of plan.steps) {
    if (step.kind === "command" && step.untilFailsWithinSeconds !== undefined) {
      out.push(
        `wait until \`${step.argv.join(" ")}\` fails (${step.untilFailsWithinSeconds} s at most)    # ${step.why}`,
      );
    } else if (step.kind === "command") {
      out.push(`run: ${step.argv.join(" ")}    # ${step.why}`);
    } else if (step.kind === "remove") {
      out.push(`remove: ${step.path}`);
    } else if (step.kind === "mkdir") {
      out.push(`create folder: ${step.path} (mode ${step.mode.toString(8)})`);
    } else if (step.kind === "rmdir") {
      out.push(`remove folder: ${step.path}`);
    } else if (step.kind === "restore") {
      out.push(`restore: ${step.path} from ${step.from}`);
    } else if (step.secret) {
      out.push(
        `write: ${step.path} (mode ${step.mode.toString(8)}${step.group ? `, group ${step.group}` : ""}; a private key, not shown)`,
      );
      if (step.backup) out.push(`  (the current one is kept as ${step.backup})`);
    } else {
      out.push(`${step.before === undefined ? "create" : "change"}: ${step.path}`);
      if (step.backup) out.push(`  (the current one is kept as ${step.backup})`);
      out.push(...unifiedDiff(step.before ?? "", step.content));
    }
  }
  if (plan.steps.length === 0) out.push("Nothing to change.");
  for (const note of plan.notes) out.push(`note: ${note}`);
  return `${out.join("\n")}\n`;
}

/** A minimal line diff: our changes are one block added or removed, so prefix/suffix trimming suffices. */
function unifiedDiff(before: string, after: string): string[] {
  const a = before === "" ? [] : before.replace(/\r?\n$/, "").split(/\r?\n/);
  const b = after === "" ? [] : after.replace(/\r?\n$/, "").split(/\r?\n/);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  return [
    ...a.slice(head, a.length - tail).map((line) => `  - ${line}`),
    ...b.slice(head, b.length - tail).map((line) => `  + ${line}`),
  ];
}
