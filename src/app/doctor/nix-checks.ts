import { join } from "node:path";
import {
  type Check,
  checkNix,
  checkTrustedUser,
  machinesMention,
  type NixRoute,
  nixRoute,
  parseNixConfig,
  parseNixVersion,
  settingList,
  trustedVia,
} from "../../host/doctor.js";
import { buildersText, currentUser, nixConfigJson, nixRouteFacts, runTool } from "../../host/host-probe.js";
import { DEFAULT_NIX_CONF_DIR } from "../../host/install-plan.js";

import type { DoctorOptions } from "./doctor-options.js";
/** Nix itself, and whether it trusts this user; what the rest needs to know of how it builds. */
export async function nixChecks(
  nixConfDir: string,
  options: DoctorOptions,
  alias: string,
): Promise<{
  checks: Check[];
  route: NixRoute;
  daemonBuilder: boolean;
  trusted: boolean;
  version: number[] | undefined;
}> {
  const nixVersionResult = await runTool("nix", ["--version"]);
  const nix = checkNix(nixVersionResult);
  const config = await nixConfigJson(
    options.nixConfDir ?? options.host.env.NIX_CONF_DIR ?? DEFAULT_NIX_CONF_DIR,
  );
  let builders: unknown;
  let trustedUsers: string[] = [];
  if (config.kind === "ran") {
    try {
      const settings = parseNixConfig(config.stdout);
      builders = settings.get("builders");
      trustedUsers = settingList(settings.get("trusted-users"));
    } catch {
      // checkTrustedUser reports the unreadable settings.
    }
  }
  // Nix's default is @<conf dir>/machines; install adds our line there.
  const daemonBuilder = machinesMention(
    await buildersText(builders ?? `@${join(nixConfDir, "machines")}`),
    alias,
  );
  const route = nixRoute(await nixRouteFacts());
  const user = await currentUser();
  const trusted = checkTrustedUser({
    user,
    config,
    route,
    daemonBuilder,
    nixConf: join(nixConfDir, "nix.conf"),
    restartDaemon:
      options.host.kind === "darwin"
        ? "sudo launchctl kickstart -k system/org.nixos.nix-daemon"
        : "sudo systemctl restart nix-daemon",
  });
  return {
    checks: [nix, trusted],
    route,
    daemonBuilder,
    trusted: trustedVia(user, trustedUsers) !== undefined,
    version: nixVersionResult.kind === "ran" ? parseNixVersion(nixVersionResult.stdout) : undefined,
  };
}
