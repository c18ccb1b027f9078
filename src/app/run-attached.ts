import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import { stateLayout } from "../vm/state.js";
import { type PreparedBoot, type RunResult, runVm } from "../vm/supervisor.js";
import { type EnsureImageIo, ensureImage } from "./ensure-image.js";

export interface RunAttachedOptions {
  readonly imageIo: EnsureImageIo;
  readonly onWarning: (message: string) => void;
  /** Once, before QEMU takes the terminal: install, print the banner. */
  readonly beforeBoot: (boot: PreparedBoot) => Promise<void>;
}

/** Boots the builder in this terminal, its console attached, until QEMU exits; composes its image first if needed. */
export async function runAttached(
  paths: Paths,
  config: Config,
  options: RunAttachedOptions,
): Promise<RunResult> {
  const image = await ensureImage(paths, config, options.imageIo);
  let prepared = false;
  return runVm({
    config,
    layout: stateLayout(config.stateDir),
    image,
    onWarning: options.onWarning,
    stopDeadlineMs: 60_000,
    beforeBoot: async (boot) => {
      // A boot tried again (a kernel crash) is not installed nor announced twice.
      if (prepared) return;
      prepared = true;
      await options.beforeBoot(boot);
    },
  });
}
