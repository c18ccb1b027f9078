import { readFile } from "node:fs/promises";
import {
  type Config,
  type ConfigFile,
  defaultConfig,
  mergeConfig,
  parseConfigFile,
} from "../config/config.js";
import type { Paths } from "../config/paths.js";
import type { Host } from "../host/host.js";
import { nativeArch } from "./native-arch.js";

/**
 * Embedded defaults (from the host), then the config file, then `overrides` (the command-line
 * flags); each layer validated with its source named.
 */
export async function loadConfig(
  host: Pick<Host, "cpus" | "memoryMiB" | "arch">,
  paths: Paths,
  overrides: ConfigFile,
): Promise<Config> {
  const defaults = defaultConfig({
    cpus: host.cpus,
    memoryMiB: host.memoryMiB,
    arch: nativeArch(host),
    stateDir: paths.state,
  });
  const text = await readFile(paths.config, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  const file = parseConfigFile(text, paths.config);
  const merged = mergeConfig(defaults, file, overrides);
  // Unless set, a builder takes as many jobs as it has CPUs.
  if (file.maxJobs === undefined && overrides.maxJobs === undefined)
    return { ...merged, maxJobs: merged.cpus };
  return merged;
}
