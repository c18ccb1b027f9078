import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { hostCaDeps } from "../host/ca-certificates.js";
import type { Host } from "../host/host.js";
import type { StoredImage } from "../image/store.js";
import { serviceStatus } from "../service/control-client.js";
import type { PreparedBoot } from "../vm/lifecycle/prepare.js";
import { type RunResult, runVm } from "../vm/lifecycle/run.js";
import { builderVm } from "./builder-vm.js";
import { type EnsureImageIo, ensureImage } from "./ensure-image.js";

export interface RunAttachedOptions {
  readonly imageIo: EnsureImageIo;
  /** Ends a KVM probe running beside the composition (Ctrl-C before the VM takes the terminal). */
  readonly signal?: AbortSignal;
  readonly onWarning: (message: string) => void;
  /** The kernel crashed while booting and the VM boots once more: what to warn. */
  readonly onRetry: (warning: string) => void;
  /** Once, before QEMU takes the terminal (not again for a boot tried once more): install, print the banner. */
  readonly beforeBoot: (boot: PreparedBoot) => Promise<void>;
}

/**
 * Boots the builder in this terminal, its console attached, until QEMU exits; composes its image
 * first if needed, the accelerator's probe beside it. Refused while a service owns the builder (its port, its boots).
 */
export async function runAttached(
  host: Host,
  paths: Paths,
  config: Config,
  options: RunAttachedOptions,
): Promise<RunResult> {
  const vm = builderVm(host, config.stateDir);
  const service = await serviceStatus(vm.layout.serviceSocket);
  if (service !== undefined) {
    throw new LinuxBuilderError(
      "service.running",
      `A linux-builder service (serve, pid ${service.pid}) owns this builder and 127.0.0.1:${service.port}: \`run\` cannot boot another`,
      {
        hint:
          "Builds and `linux-builder ssh` reach the builder through the service, which boots it when needed. " +
          "`linux-builder stop` powers the VM off, but the service keeps the port: to run the builder here, stop the " +
          `service itself (systemctl or launchctl, whichever runs it; or \`kill ${service.pid}\` when you started it by hand).`,
      },
    );
  }
  // Asked for once: a boot tried once more after a kernel crash boots the same image.
  let image: Promise<StoredImage> | undefined;
  return runVm({
    config,
    ...vm,
    caDeps: hostCaDeps(host),
    image: (offerProbeKernel) => {
      image ??= ensureImage(paths, config, options.imageIo, offerProbeKernel);
      return image;
    },
    onWarning: options.onWarning,
    onRetry: options.onRetry,
    stopDeadlineMs: 60_000,
    ...(options.signal ? { signal: options.signal } : {}),
    beforeBoot: options.beforeBoot,
  });
}
