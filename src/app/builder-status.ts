import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import { type InstanceInfo, readInstance } from "../vm/instance.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import { isReady } from "../vm/lifecycle/readiness.js";
import { diskUsage } from "../vm/state.js";
import { builderVm } from "./builder-vm.js";

/** What `status --json` prints: a stable shape for scripts. */
export interface StatusReport {
  readonly running: boolean;
  readonly pid: number | null;
  readonly ready: boolean;
  readonly accel: string | null;
  readonly port: number;
  readonly arch: string;
  readonly uptimeSeconds: number | null;
  readonly image: string | null;
  readonly caCertificates: string | null;
  readonly disk: { readonly usedBytes: number; readonly sizeBytes: number } | null;
  readonly stateDir: string;
  readonly consoleLog: string;
}

/** Whether the builder runs and answers, and how it was started; `instance` for the human summary. */
export async function builderStatus(
  host: Host,
  config: Config,
  /** The time uptime is counted to (tests fix it); by default, once the builder was asked. */
  now?: number,
): Promise<{ report: StatusReport; instance: InstanceInfo | undefined }> {
  const { layout, backend } = builderVm(host, config.stateDir);
  const pid = await runningPid(layout, backend);
  const instance = pid === undefined ? undefined : await readInstance(layout);
  // Without a readable instance.json (a start killed before it wrote one, a foreign file), the
  // configured port is the best guess: a running builder is still asked.
  const ready =
    pid === undefined
      ? false
      : await isReady(layout, instance?.port ?? config.port, { reuse: true, timeoutMs: 15_000 });
  const disk = await diskUsage(layout);
  const report: StatusReport = {
    running: pid !== undefined,
    pid: pid ?? null,
    ready,
    accel: instance?.accel ?? null,
    port: instance?.port ?? config.port,
    arch: instance?.arch ?? config.arch,
    uptimeSeconds:
      instance === undefined
        ? null
        : Math.round(((now ?? Date.now()) - Date.parse(instance.startedAt)) / 1000),
    image: instance?.imageId ?? null,
    caCertificates: instance?.caCertificates ?? null,
    disk: disk === undefined ? null : { usedBytes: disk.allocated, sizeBytes: disk.size },
    stateDir: layout.dir,
    consoleLog: layout.consoleLog,
  };
  return { report, instance };
}
