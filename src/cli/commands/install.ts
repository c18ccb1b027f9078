import { resolve } from "node:path";
import { planHostInstall } from "../../app/host-plans.js";
import { hostPlanCommand } from "../host-plan-command.js";
import { SERVICE_FLAG, serveFlags } from "../install-flags.js";

export const installCommand = hostPlanCommand({
  name: "install",
  description:
    "hand Nix's Linux builds to the builder: key, machines entry, ssh alias, daemon restart, and a service that boots it on demand (sudo)",
  flags: { service: SERVICE_FLAG },
  async plan(context, config, flags) {
    const { host } = context;
    const serve = flags.service
      ? { self: context.self, flags: serveFlags(flags, resolve(host.cwd, config.stateDir)) }
      : "none";
    const { plan, service } = await planHostInstall(host, config, flags, serve);
    const done =
      service === undefined
        ? "Installed: Nix hands Linux builds to the builder while `linux-builder serve` (which boots it on demand) or `linux-builder start` runs."
        : `Installed: Nix's Linux builds now boot the builder on demand (service ${service.name}).`;
    return { plan, done };
  },
});
