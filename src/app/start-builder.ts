import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import { hostCaDeps } from "../host/ca-certificates.js";
import type { Host } from "../host/host.js";
import type { StoredImage } from "../image/store.js";
import { type StartOptions, type StartResult, startVm } from "../vm/lifecycle/start.js";
import { builderVm } from "./builder-vm.js";
import { type EnsureImageIo, ensureImage } from "./ensure-image.js";

export interface StartBuilderOptions {
  readonly waitReady: boolean;
  readonly readyTimeoutMs: number;
  /** Cancels the start (Ctrl-C): a VM it booted is stopped, and it throws vm.cancelled. */
  readonly signal: AbortSignal;
  /** How an image composed on the way reports. */
  readonly imageIo: EnsureImageIo;
  readonly onWarning: (message: string) => void;
  readonly onBoot: () => void;
  readonly onWait: (owner: number) => void;
  /** The kernel crashed while booting and the VM boots once more: what to warn. */
  readonly onRetry: (warning: string) => void;
}

/** Starts the builder, or finds it running; its image is composed only if this start boots it. */
export async function startBuilder(
  host: Host,
  paths: Paths,
  config: Config,
  options: StartBuilderOptions,
): Promise<StartResult> {
  let image: Promise<StoredImage> | undefined;
  const start: StartOptions = {
    config,
    ...builderVm(host, config.stateDir),
    caDeps: hostCaDeps(host),
    image: (offerProbeKernel) => {
      image ??= ensureImage(paths, config, options.imageIo, offerProbeKernel);
      return image;
    },
    waitReady: options.waitReady,
    readyTimeoutMs: options.readyTimeoutMs,
    signal: options.signal,
    onWarning: options.onWarning,
    onBoot: options.onBoot,
    onWait: options.onWait,
    onRetry: options.onRetry,
  };
  return startVm(start);
}
