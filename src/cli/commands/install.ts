import { installPlan } from "../../app/host-plans.js";
import { hostPlanCommand } from "../host-plan-command.js";

export const installCommand = hostPlanCommand({
  name: "install",
  description:
    "hand Nix's Linux builds to the builder: key, machines entry, ssh alias, daemon restart (sudo)",
  plan: installPlan,
  done: "Installed: Nix hands Linux builds to the builder while it runs (`linux-builder start`).",
});
