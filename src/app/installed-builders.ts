import { resolve } from "node:path";
import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import type { Host } from "../host/host.js";
import {
  installRegistryPath,
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
