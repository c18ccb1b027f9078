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
import { ARCHITECTURES } from "../image/guest/profile.js";
import { nativeArch } from "./native-arch.js";

/**
 * Embedded defaults (from the host), then the config file, then `overrides` (the command-line
 * flags); each layer validated with its source named. A setting that does nothing is warned of.
 */
export async function loadConfig(
  host: Pick<Host, "cpus" | "memoryMiB" | "arch">,
  paths: Paths,
  overrides: ConfigFile,
  onWarning: (message: string) => void = () => {},
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
  const idle = idleEmulation(merged);
  if (idle !== undefined) onWarning(idle);
  // Unless set, a builder takes as many jobs as it has CPUs.
  if (file.maxJobs === undefined && overrides.maxJobs === undefined)
    return { ...merged, maxJobs: merged.cpus };
  return merged;
}

/** emulatedSystems naming only the guest's native system changes nothing: the user likely meant something else. */
export function idleEmulation(config: Pick<Config, "arch" | "emulatedSystems">): string | undefined {
  const native = ARCHITECTURES[config.arch].nixSystem;
  const named = config.emulatedSystems;
  if (named === undefined || named.length === 0 || named.some((system) => system !== native))
    return undefined;
  return `emulatedSystems names only ${native}, which the ${config.arch} guest runs natively: it emulates nothing (as with []). To emulate the other Linux system, name it (or leave the setting out).`;
}
