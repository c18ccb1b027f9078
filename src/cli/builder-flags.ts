import { loadConfig } from "../app/load-config.js";
import { ACCEL_SETTINGS, type Config, type ConfigFile, parseConfigLayer } from "../config/config.js";
import type { CommandContext } from "./command.js";
import { choiceFlag, type FlagValues, valueFlag, wholeNumber } from "./flags.js";
import { warn } from "./output.js";

/** The settings every builder command takes as flags; they override the config file. */
export const BUILDER_FLAGS = {
  arch: valueFlag("--arch <arch>", "guest architecture: amd64 or arm64"),
  cpus: valueFlag("--cpus <n>", "virtual CPUs (default: all of the host's)"),
  memory: valueFlag("--memory <MiB>", "guest memory in MiB"),
  disk: valueFlag("--disk <GiB>", "size of the /nix disk in GiB (grown when raised, never shrunk)"),
  port: valueFlag("--port <port>", "host port for the builder's ssh, on 127.0.0.1 (default 31022)"),
  stateDir: valueFlag("--state-dir <dir>", "where this builder keeps its disk, keys and logs"),
  accel: choiceFlag("--accel <accel>", "accelerator", ACCEL_SETTINGS),
  maxJobs: valueFlag("--max-jobs <n>", "builds Nix may run on the builder at once"),
};

export type BuilderFlags = FlagValues<typeof BUILDER_FLAGS>;

/** The flags as the top layer of settings, validated like the config file, with the flags named. */
export function builderSettings(flags: BuilderFlags): ConfigFile {
  const raw: Record<string, unknown> = {
    arch: flags.arch,
    cpus: wholeNumber(flags.cpus, "--cpus"),
    memoryMiB: wholeNumber(flags.memory, "--memory"),
    diskGiB: wholeNumber(flags.disk, "--disk"),
    port: wholeNumber(flags.port, "--port"),
    stateDir: flags.stateDir,
    accel: flags.accel,
    maxJobs: wholeNumber(flags.maxJobs, "--max-jobs"),
  };
  return parseConfigLayer(
    Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined)),
    "the command-line flags",
  );
}

/** The builder's settings for a command: the defaults, the config file, then its flags. */
export async function loadBuilderConfig(context: CommandContext, flags: BuilderFlags): Promise<Config> {
  return loadConfig(context.host, context.paths, builderSettings(flags), warn);
}
