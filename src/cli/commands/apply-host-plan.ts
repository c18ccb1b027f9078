import { parsePlan, planFromTerminalError } from "../../app/parse-plan.js";
import { applyPlan } from "../../host/apply-plan.js";
import type { ApplyReport } from "../../host/plan.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { say } from "../output.js";

/** The root half of install, run through sudo: reads the plan the user's half made from stdin. */
export const applyHostPlanCommand = defineCommand({
  path: ["apply-host-plan"],
  hidden: true,
  description: "(internal) apply an install plan from stdin as root",
  flags: { json: switchFlag("--json", "say how it ended as JSON on stdout: the report, or the error") },
  async run(context) {
    if (process.stdin.isTTY) throw planFromTerminalError();
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const plan = parsePlan(Buffer.concat(chunks).toString("utf8"));
    const report: ApplyReport = await applyPlan(context.host, plan, (line) => say(`  ${line}`));
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  },
});
