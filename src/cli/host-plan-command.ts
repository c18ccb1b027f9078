import { executePlan } from "../app/apply-host-plan.js";
import type { HostDirs } from "../app/host-plans.js";
import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import type { Plan } from "../host/plan.js";
import { describePlan } from "../host/plan-description.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "./builder-flags.js";
import { defineCommand } from "./command.js";
import { DRY_RUN_FLAG, HOST_DIR_FLAGS } from "./install-flags.js";
import { say } from "./output.js";

/**
 * install and uninstall: a plan of host changes, shown (with --dry-run, or when there is nothing to
 * do) or applied, through sudo when needed, then `done` said.
 */
export function hostPlanCommand(spec: {
  readonly name: string;
  readonly description: string;
  readonly plan: (host: Host, config: Config, dirs: HostDirs) => Promise<Plan>;
  readonly done: string;
}) {
  return defineCommand({
    path: [spec.name],
    description: spec.description,
    flags: { ...BUILDER_FLAGS, dryRun: DRY_RUN_FLAG, ...HOST_DIR_FLAGS },
    async run(context, flags) {
      const plan = await spec.plan(context.host, await loadBuilderConfig(context, flags), flags);
      if (flags.dryRun || plan.steps.length === 0) {
        process.stdout.write(describePlan(plan));
        return 0;
      }
      await executePlan(context.host, plan, context.self, say);
      say(spec.done);
      return 0;
    },
  });
}
