import { join } from "node:path";
import { parseNixVersion } from "../../dotted-version.js";
import type { Check } from "../../host/doctor/check.js";
import {
  checkNix,
  checkTrustedUser,
  machinesMention,
  type NixRoute,
  nixRoute,
  parseNixConfig,
  settingList,
  trustedVia,
} from "../../host/doctor/nix.js";
import { DEFAULT_NIX_CONF_DIR } from "../../host/installed-paths.js";
import { nixDaemonRestartHint } from "../../host/platform/platform.js";
import { buildersText } from "../../host/probe/builders-settings.js";
import { currentUser, nixConfigJson, nixRouteFacts } from "../../host/probe/nix.js";
import { runTool } from "../../host/tool.js";
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
    options.host,
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
  const route = nixRoute(await nixRouteFacts(options.host));
  const user = await currentUser(options.host);
  const trusted = checkTrustedUser({
    user,
    config,
    route,
    daemonBuilder,
    nixConf: join(nixConfDir, "nix.conf"),
    restartDaemon: nixDaemonRestartHint(options.host.kind),
  });
  return {
    checks: [nix, trusted],
    route,
    daemonBuilder,
    trusted: trustedVia(user, trustedUsers) !== undefined,
    version: nixVersionResult.kind === "ran" ? parseNixVersion(nixVersionResult.stdout) : undefined,
  };
}
