import type { Config } from "../../config/config.js";
import type { Paths } from "../../config/paths.js";
import type { Host } from "../../host/host.js";

/** What `doctor` checks with: the host, the settings, where install put its files, whether to build. */
export interface DoctorOptions {
  readonly host: Host;
  readonly paths: Paths;
  /** The builder's settings (a failure is the config check's, not the doctor's). */
  readonly loadConfig: () => Promise<Config>;
  /** Where `install` put its files; unset: the defaults (and Nix's own NIX_CONF_DIR for its settings). */
  readonly nixConfDir: string | undefined;
  readonly sshConfigDir: string | undefined;
  /** Whether to build a trivial derivation through the builder. */
  readonly build: boolean;
  /** Before a check that takes seconds (a KVM probe boot, a build). */
  readonly progress: (message: string) => void;
}
