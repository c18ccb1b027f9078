import { resolve } from "node:path";
import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import type { Host } from "../host/host.js";
import {
  type InstalledBuilder,
  type InstallRegistry,
  installRegistryPath,
  readInstallRegistry,
  updateInstallRegistry,
  withBuilder,
  withoutBuilder,
} from "../host/install-registry.js";
import { builderSystems } from "./builder-systems.js";
import type { HostDirs } from "./host-plans.js";

/** Notes in the user's record that this builder is installed into these folders (install, run). */
export function recordInstalled(host: Host, paths: Paths, config: Config, dirs: HostDirs): Promise<void> {
  return updateInstallRegistry(installRegistryPath(paths), (registry) =>
    withBuilder(registry, {
      nixConfDir: resolve(host.cwd, dirs.nixConfDir),
      sshConfigDir: resolve(host.cwd, dirs.sshConfigDir),
      port: config.port,
      stateDir: resolve(host.cwd, config.stateDir),
      arch: config.arch,
      systems: builderSystems(config),
    }),
  );
}

/** Takes the builder of this state folder out of the user's record for these folders (uninstall). */
export function forgetInstalled(host: Host, paths: Paths, config: Config, dirs: HostDirs): Promise<void> {
  return updateInstallRegistry(installRegistryPath(paths), (registry) =>
    withoutBuilder(registry, {
      nixConfDir: resolve(host.cwd, dirs.nixConfDir),
      stateDir: resolve(host.cwd, config.stateDir),
    }),
  );
}

/** Whether a recorded builder is the one these settings name: its state folder is the builder (status, doctor). */
export function isSelectedBuilder(
  builder: InstalledBuilder,
  host: Host,
  config: Pick<Config, "stateDir">,
): boolean {
  return builder.stateDir === resolve(host.cwd, config.stateDir);
}

/**
 * The user's record, read before install or uninstall change anything: a corrupt one stops them then
 * (its error names the file and what to do), not after the host was changed and the record could not
 * be updated. Replacing it instead would silently drop the other builders status and doctor show.
 */
export function readInstalledRecord(paths: Paths): Promise<InstallRegistry> {
  return readInstallRegistry(installRegistryPath(paths));
}
