import { resolve } from "node:path";
import { uninstallPlan } from "../../app/host-plans.js";
import { installRegistryPath, updateInstallRegistry, withoutBuilder } from "../../host/install-registry.js";
import { hostPlanCommand } from "../host-plan-command.js";

export const uninstallCommand = hostPlanCommand({
  name: "uninstall",
  description: "undo `install` exactly, restoring every file and removing the service",
  flags: {},
  async plan(context, config, flags) {
    return {
      plan: await uninstallPlan(context.host, config, flags),
      record: () =>
        updateInstallRegistry(installRegistryPath(context.paths), (registry) =>
          withoutBuilder(registry, {
            nixConfDir: resolve(context.host.cwd, flags.nixConfDir),
            port: config.port,
          }),
        ),
      done: () => "Uninstalled: the host's files are as they were before `linux-builder install`.",
    };
  },
});
