import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import { hostCaDeps } from "../host/ca-certificates.js";
import type { Host } from "../host/host.js";
import type { PreparedBoot } from "../vm/lifecycle/prepare.js";
import { type RunResult, runVm } from "../vm/lifecycle/run.js";
import { builderVm } from "./builder-vm.js";
import { type EnsureImageIo, ensureImage } from "./ensure-image.js";

export interface RunAttachedOptions {
  readonly imageIo: EnsureImageIo;
  readonly onWarning: (message: string) => void;
  /** The kernel crashed while booting and the VM boots once more: what to warn. */
  readonly onRetry: (warning: string) => void;
  /** Once, before QEMU takes the terminal (not again for a boot tried once more): install, print the banner. */
  readonly beforeBoot: (boot: PreparedBoot) => Promise<void>;
}

/** Boots the builder in this terminal, its console attached, until QEMU exits; composes its image first if needed. */
export async function runAttached(
  host: Host,
  paths: Paths,
  config: Config,
  options: RunAttachedOptions,
): Promise<RunResult> {
  const image = await ensureImage(paths, config, options.imageIo);
  return runVm({
    config,
    ...builderVm(host, config.stateDir),
    caDeps: hostCaDeps(host),
    image,
    onWarning: options.onWarning,
    onRetry: options.onRetry,
    stopDeadlineMs: 60_000,
    beforeBoot: options.beforeBoot,
  });
}
