import { SYSTEM_SSH_CONFIG } from "../../app/doctor/daemon-side-checks.js";
import { runChecks } from "../../app/doctor/run-checks.js";
import { formatChecks, worstStatus } from "../../host/doctor/format.js";
import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR } from "../../host/installed-paths.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { negatedSwitch, switchFlag, valueFlag } from "../flags.js";
import { say, stderrIsTty } from "../output.js";

export const doctorCommand = defineCommand({
  path: ["doctor"],
  description: "check the host, the builder and a real build through it; exits 1 when a check fails",
  flags: {
    ...BUILDER_FLAGS,
    json: switchFlag("--json", "print the checks as JSON"),
    build: negatedSwitch("--no-build", "skip the check build through the builder"),
    // Unset, not defaulted: Nix's own settings are then read where Nix reads them (NIX_CONF_DIR).
    nixConfDir: valueFlag(
      "--nix-conf-dir <dir>",
      `where \`install\` put the builder's key and machines line (default ${DEFAULT_NIX_CONF_DIR})`,
    ),
    sshConfigDir: valueFlag(
      "--ssh-config-dir <dir>",
      `where \`install\` put the ssh alias (default ${DEFAULT_SSH_CONFIG_DIR}; ssh reads it only when ${SYSTEM_SSH_CONFIG} includes it)`,
    ),
  },
  async run(context, flags) {
    const checks = await runChecks({
      host: context.host,
      paths: context.paths,
      loadConfig: () => loadBuilderConfig(context, flags),
      nixConfDir: flags.nixConfDir,
      sshConfigDir: flags.sshConfigDir,
      build: flags.build,
      // Some checks take seconds (a KVM probe boot, a build): say so on a terminal.
      progress: (message) => {
        if (!flags.json && stderrIsTty(context.host.env)) say(message);
      },
    });
    const status = worstStatus(checks);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ok: status !== "fail", status, checks }, null, 2)}\n`);
    } else {
      process.stdout.write(formatChecks(checks));
    }
    return status === "fail" ? 1 : 0;
  },
});
