import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR } from "../host/installed-paths.js";
import { defaultedFlag, switchFlag } from "./flags.js";

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
