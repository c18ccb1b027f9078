import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR } from "../host/installed-paths.js";
import { BUILDER_FLAGS, type BuilderFlags } from "./builder-flags.js";
import { defaultedFlag, negatedSwitch, switchFlag } from "./flags.js";

/** Where install writes on the host (install, uninstall, and run, which installs first). */
export const HOST_DIR_FLAGS = {
  nixConfDir: defaultedFlag(
    "--nix-conf-dir <dir>",
    "where nix.conf, machines and the key go",
    DEFAULT_NIX_CONF_DIR,
  ),
  sshConfigDir: defaultedFlag(
    "--ssh-config-dir <dir>",
    "where the ssh_config alias goes",
    DEFAULT_SSH_CONFIG_DIR,
  ),
};

/** install and uninstall: show every change and do nothing. */
export const DRY_RUN_FLAG = switchFlag("--dry-run", "show every file change and command, and do nothing");

/** install: without the OS service that runs `linux-builder serve` (and without one set up before). */
export const SERVICE_FLAG = negatedSwitch(
  "--no-service",
  "no launchd daemon / systemd unit running `linux-builder serve` (one set up before is removed)",
);

/**
 * The builder flags given on install's command line, as `serve` takes them, so the service runs
 * the builder install set up; the state folder always, absolute: the service does not start where
 * install ran (a relative stateDir in the config file would name another folder there).
 */
export function serveFlags(flags: BuilderFlags, stateDir: string): string[] {
  const given = Object.entries(BUILDER_FLAGS).flatMap(([key, spec]) => {
    const value = flags[key as keyof BuilderFlags];
    if (value === undefined || key === "stateDir") return [];
    const [name = ""] = spec.syntax.split(" ");
    return [name, value];
  });
  return [...given, "--state-dir", stateDir];
}
