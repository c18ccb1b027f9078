import { executePlan } from "../app/apply-host-plan.js";
import { readInstalledRecord } from "../app/installed-builders.js";
import type { Config } from "../config/config.js";
import type { FailedCommand, Plan } from "../host/plan.js";
import { describePlan } from "../host/plan-description.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "./builder-flags.js";
import { type CommandContext, defineCommand } from "./command.js";
import type { FlagSpecs, FlagValues } from "./flags.js";
import { DRY_RUN_FLAG, HOST_DIR_FLAGS } from "./install-flags.js";
import { say } from "./output.js";

const HOST_PLAN_FLAGS = { ...BUILDER_FLAGS, dryRun: DRY_RUN_FLAG, ...HOST_DIR_FLAGS };

/**
 * install and uninstall: a plan of host changes, shown (with --dry-run, or when there is nothing to
 * do) or applied, through sudo when needed, then `done` said.
 */
export function hostPlanCommand<Extra extends FlagSpecs>(spec: {
  readonly name: string;
  readonly description: string;
  /** The command's own flags, beside the builder's, --dry-run and the host folders. */
  readonly flags: Extra;
  readonly plan: (
    context: CommandContext,
    config: Config,
    flags: FlagValues<typeof HOST_PLAN_FLAGS & Extra>,
  ) => Promise<{
    readonly plan: Plan;
    /** What is said once the plan is applied, knowing which of its commands failed (said above it). */
    readonly done: (failed: readonly FailedCommand[]) => string;
    /** Notes the outcome in the user's record of installed builders, once applied (or already so). */
    readonly record: () => Promise<void>;
  }>;
}) {
  return defineCommand({
    path: [spec.name],
    description: spec.description,
    flags: { ...HOST_PLAN_FLAGS, ...spec.flags },
    async run(context, flags) {
      const { plan, done, record } = await spec.plan(context, await loadBuilderConfig(context, flags), flags);
      if (flags.dryRun) {
        process.stdout.write(describePlan(plan));
        return 0;
      }
      // A corrupt record stops the command here, before the host changes (its error says what to do).
      await readInstalledRecord(context.paths);
      if (plan.steps.length === 0) {
        // Nothing to change on the host, yet the record may predate it (an install before the record existed).
        await record();
        process.stdout.write(describePlan(plan));
        return 0;
      }
      const failed = await executePlan(context.host, plan, context.self, say);
      await record();
      say(done(failed));
      return 0;
    },
  });
}
