import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import { hostCaDeps } from "../host/ca-certificates.js";
import type { Host } from "../host/host.js";
import type { StoredImage } from "../image/store.js";
import { lifecycleControl } from "../service/lifecycle-control.js";
import { type RunningService, startService } from "../service/serve.js";
import { serviceLog } from "../service/service-log.js";
import { builderVm } from "./builder-vm.js";
import { type EnsureImageIo, ensureImage } from "./ensure-image.js";

/** How long a boot of the service's VM may take to be ready (an image composed first counts apart). */
const SERVICE_READY_TIMEOUT_MS = 600_000;

/**
 * `linux-builder serve` for this install: the front door on config.port, the VM booted over the
 * lifecycle on demand, its image composed (or found) only at the first boot.
 */
export async function serveBuilder(
  host: Host,
  paths: Paths,
  config: Config,
  options: { readonly imageIo: EnsureImageIo },
): Promise<RunningService & { readonly logPath: string }> {
  const vm = builderVm(host, config.stateDir);
  const log = serviceLog(vm.layout.serviceLog);
  let image: Promise<StoredImage> | undefined;
  const control = lifecycleControl({
    config,
    ...vm,
    caDeps: hostCaDeps(host),
    // Asked at each boot: a failed composition is tried again by the next connection.
    image: (offerProbeKernel) => {
      image ??= ensureImage(paths, config, options.imageIo, offerProbeKernel).catch((error: unknown) => {
        image = undefined;
        throw error;
      });
      return image;
    },
    readyTimeoutMs: SERVICE_READY_TIMEOUT_MS,
    onWarning: (message) => log(`warning: ${message}`),
    onRetry: (message) => log(`warning: ${message}`),
  });
  const service = await startService({
    layout: vm.layout,
    port: config.port,
    idleMinutes: config.idleMinutes,
    control,
    log,
  });
  return { ...service, logPath: vm.layout.serviceLog };
}
