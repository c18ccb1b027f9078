import { uninstallPlan } from "../../app/host-plans.js";
import { forgetInstalled } from "../../app/installed-builders.js";
import { hostPlanCommand } from "../host-plan-command.js";

export const uninstallCommand = hostPlanCommand({
  name: "uninstall",
  description: "undo `install` exactly, restoring every file and removing the service",
  flags: {},
  async plan(context, config, flags) {
    return {
      plan: await uninstallPlan(context.host, config, flags),
      record: () => forgetInstalled(context.host, context.paths, config, flags),
      done: () => "Uninstalled: the host's files are as they were before `linux-builder install`.",
    };
  },
});
