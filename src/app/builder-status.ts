import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import { serviceStatus } from "../service/control-client.js";
import type { ServiceStatus } from "../service/control-protocol.js";
import {
  type InstalledService,
  installedService,
  type ServiceManagerState,
  serviceManagerState,
} from "../service/os/installed-service.js";
import { type InstanceInfo, readInstance } from "../vm/instance.js";
import { directSshPort } from "../vm/lifecycle/direct-port.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import { isReady } from "../vm/lifecycle/readiness.js";
import { diskUsage } from "../vm/state.js";
import { builderVm } from "./builder-vm.js";

/** What `status --json` prints: a stable shape for scripts. */
export interface StatusReport {
  /** The VM: whether QEMU runs, its pid, and whether its guest answers. */
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
  /** The `linux-builder serve` answering on the state folder's control socket, as it reports itself; null: none. */
  readonly service: ServiceStatus | null;
  /** The launchd daemon or systemd unit install set up to keep the service running, and its manager's word; null: none. */
  readonly osService: (InstalledService & { readonly state: ServiceManagerState }) | null;
}

/** Whether the builder runs and answers, how it was started, and the service in front of it. */
export async function builderStatus(
  host: Host,
  config: Config,
  /** The time uptime is counted to (tests fix it); by default, once the builder was asked. */
  now?: number,
): Promise<{ report: StatusReport; instance: InstanceInfo | undefined }> {
  const { layout, backend } = builderVm(host, config.stateDir);
  const service = (await serviceStatus(layout.serviceSocket)) ?? null;
  // With a service, its own state says what the VM does: ssh to the front door would open a
  // connection (keeping the VM awake) or even boot it.
  const pid = service === null ? await runningPid(layout, backend) : (service.vm.pid ?? undefined);
  const instance = pid === undefined ? undefined : await readInstance(layout);
  // Without a service, the VM is asked where it listens itself (a dead serve's VM: its forward).
  const ready =
    pid === undefined
      ? false
      : service !== null
        ? service.vm.state === "up"
        : await isReady(layout, directSshPort(instance, config.port), { reuse: true, timeoutMs: 15_000 });
  const startedAt = instance?.startedAt ?? (service?.vm.state === "up" ? service.vm.since : undefined);
  const disk = await diskUsage(layout);
  const registered = await installedService(host, config.port);
  const report: StatusReport = {
    running: pid !== undefined,
    pid: pid ?? null,
    ready,
    accel: instance?.accel ?? null,
    port: service?.port ?? instance?.port ?? config.port,
    arch: instance?.arch ?? config.arch,
    uptimeSeconds:
      startedAt === undefined ? null : Math.round(((now ?? Date.now()) - Date.parse(startedAt)) / 1000),
    image: instance?.imageId ?? null,
    caCertificates: instance?.caCertificates ?? null,
    disk: disk === undefined ? null : { usedBytes: disk.allocated, sizeBytes: disk.size },
    stateDir: layout.dir,
    consoleLog: layout.consoleLog,
    service,
    osService:
      registered === undefined ? null : { ...registered, state: await serviceManagerState(registered) },
  };
  return { report, instance };
}
