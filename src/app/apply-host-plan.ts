import { spawn } from "node:child_process";
import { errorReportSchema, isErrorCode, LinuxBuilderError } from "../errors.js";
import { applyPlan, canApplyDirectly } from "../host/apply-plan.js";
import type { Host } from "../host/host.js";
import { applyReportSchema, type FailedCommand, type Plan } from "../host/plan.js";
import { parseJsonText } from "../json.js";

/** This program as sudo runs it again: node and the script. */
export interface SelfCommand {
  readonly node: string;
  readonly script: string;
}

/**
 * The command that applies a plan as root, as the seed does (`sudo --reset-timestamp
 * install-credentials`): always asking for the password, so the user sees what they allow.
 */
export function sudoCommand(node: string, script: string): string[] {
  return ["sudo", "--reset-timestamp", node, script, "apply-host-plan", "--json"];
}

/**
 * Applies the plan here, or through one sudo that reads it on stdin; says what happened. The
 * commands that failed are returned (and said, with what to do): the files are in place all the same.
 */
export async function executePlan(
  host: Host,
  plan: Plan,
  self: SelfCommand,
  say: (line: string) => void,
): Promise<readonly FailedCommand[]> {
  if (plan.steps.length === 0) return [];
  let failedCommands: readonly FailedCommand[];
  if (await canApplyDirectly(host, plan)) {
    ({ failedCommands } = await applyPlan(host, plan, (line) => say(`  ${line}`)));
  } else {
    const [command, ...args] = sudoCommand(self.node, self.script);
    say(
      `Root is needed to change ${[...new Set(plan.steps.flatMap((s) => ("path" in s ? [s.path] : [])))].join(", ")}:`,
    );
    say(`+ ${command} ${args.join(" ")}`);
    failedCommands = await applyWithSudo(command ?? "sudo", args, plan);
  }
  for (const failure of failedCommands) {
    say(`linux-builder: warning: ${failure.argv.join(" ")}: ${failure.message}`);
    const step = plan.steps.find(
      (each) => each.kind === "command" && each.argv.join(" ") === failure.argv.join(" "),
    );
    // A wait that timed out is not a command to run again: what follows it is.
    if (step?.kind === "command" && step.untilFailsWithinSeconds !== undefined) continue;
    say("  The files are in place; run that command yourself (with sudo) once its cause is fixed.");
  }
  for (const note of plan.notes) say(`note: ${note}`);
  return failedCommands;
}

/** Runs the root half through `command args` (sudo), the plan on its stdin; returns its report. */
export async function applyWithSudo(
  command: string,
  args: string[],
  plan: Plan,
): Promise<readonly FailedCommand[]> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  // sudo refused (a wrong password) exits without reading the plan: its exit status says so.
  child.stdin.on("error", () => undefined);
  child.stdin.end(JSON.stringify(plan));
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => resolve({ code, signal }));
    },
  );
  // The root half's last line: its report, or the error it stopped with (it undid what it had done).
  const last = parseJsonText(output.trim().split("\n").pop() ?? "");
  const failure = errorReportSchema.safeParse(last);
  if (failure.success) {
    const { code, message, hint } = failure.data.error;
    // The root half is this same program, so its codes are ours; any other is its failure all the same.
    throw new LinuxBuilderError(
      isErrorCode(code) ? code : "install.sudo",
      message,
      hint === null ? {} : { hint },
    );
  }
  const report = applyReportSchema.safeParse(last);
  if (ended.code === 0 && report.success) return report.data.failedCommands;
  const hint = `Run the command again and give ${command} your password; \`--dry-run\` shows every change it would make first.`;
  if (ended.signal !== null || ended.code === 130) {
    throw new LinuxBuilderError(
      "install.sudo-cancelled",
      `The privileged step was cancelled (${ended.signal ?? "interrupted"}); nothing was changed`,
      { hint },
    );
  }
  if (ended.code === 1 && output === "") {
    throw new LinuxBuilderError(
      "install.sudo-refused",
      `${command} did not run linux-builder's privileged step (a wrong or missing password, or this user may not use ${command}); nothing was changed`,
      { hint },
    );
  }
  throw new LinuxBuilderError(
    "install.sudo",
    `The privileged step failed (exit status ${ended.code}; its message is above)`,
    {
      hint: "Each file is replaced whole and a failure puts back what was done: run `linux-builder doctor`, then the command again.",
    },
  );
}
