import { resolve } from "node:path";
import { planHostInstall } from "../../app/host-plans.js";
import { recordInstalled } from "../../app/installed-builders.js";
import type { FailedCommand, Plan } from "../../host/plan.js";
import type { InstalledService } from "../../service/os/installed-service.js";
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
    const { plan, service, serveCommand } = await planHostInstall(host, config, flags, serve);
    const done = (failed: readonly FailedCommand[]) =>
      installedMessage(plan, service, serveCommand ?? "linux-builder serve", failed);
    const record = () => recordInstalled(host, context.paths, config, flags);
    return { plan, done, record };
  },
});

/**
 * What install says once applied: the builder boots on demand only when the service's commands
 * all ran; else which failed (their output is above), and what to run meanwhile.
 */
export function installedMessage(
  plan: Plan,
  service: InstalledService | undefined,
  serveCommand: string,
  failed: readonly FailedCommand[],
): string {
  if (service === undefined)
    return "Installed: Nix hands Linux builds to the builder while `linux-builder serve` (which boots it on demand) or `linux-builder start` runs.";
  const same = (a: readonly string[], b: readonly string[]) => a.join("\0") === b.join("\0");
  const serviceFailed = failed.filter((failure) =>
    plan.steps.some((step) => step.kind === "command" && step.service && same(step.argv, failure.argv)),
  );
  if (serviceFailed.length === 0)
    return `Installed: Nix's Linux builds now boot the builder on demand (service ${service.name}).`;
  const which = serviceFailed.map((failure) => `\`${failure.argv.join(" ")}\``).join(", ");
  return [
    `Installed, but the service ${service.name} may not be running: ${which} failed (said above).`,
    `  Once that is fixed, run \`linux-builder install\` again (it starts the service); meanwhile run \`${serveCommand}\` in the background, or \`linux-builder start\` before builds.`,
  ].join("\n");
}
