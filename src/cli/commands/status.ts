import { builderStatus, type StatusReport } from "../../app/builder-status.js";
import { describeSystems, servedSystems } from "../../app/builder-systems.js";
import { readInstalledRecord } from "../../app/installed-builders.js";
import { poolLine, poolStatus } from "../../app/pool-status.js";
import type { Paths } from "../../config/paths.js";
import { LinuxBuilderError } from "../../errors.js";
import type { InstalledBuilder } from "../../host/install-registry.js";
import type { ServiceStatus } from "../../service/control-protocol.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { formatBytes, formatDuration, warn } from "../output.js";

export const statusCommand = defineCommand({
  path: ["status"],
  description:
    "is the builder running and ready, and how; the service in front of it; the systems it builds; one line for each installed builder",
  flags: { ...BUILDER_FLAGS, json: switchFlag("--json", "print as JSON") },
  async run(context, flags) {
    const { host } = context;
    const config = await loadBuilderConfig(context, flags);
    const { report, instance } = await builderStatus(host, config);
    const systems = servedSystems(config);
    const builders = await poolStatus(host, config, report, await recordedOrWarn(context.paths));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ ...report, systems, builders }, null, 2)}\n`);
      return 0;
    }
    const { service } = report;
    const lines = [
      ...(builders.length === 0
        ? []
        : [
            `Builders: ${builders.length} installed${builders.some((b) => b.selected) ? " (* the one below)" : ""}`,
            ...builders.map(poolLine),
            "",
          ]),
      ...(service === null ? ["Service:  not running"] : serviceLines(service)),
      osServiceLine(report.osService, service !== null),
      service === null
        ? `Builder:  ${report.running ? `running (pid ${report.pid}), ${report.ready ? "ready" : "not ready"}` : "stopped"}`
        : `Builder:  ${vmText(service)}`,
      `Systems:  ${describeSystems(systems)}`,
      ...(instance
        ? [
            `Accel:    ${instance.accel}, ${instance.cpus} CPUs, ${instance.memoryMiB} MiB`,
            `Address:  127.0.0.1:${instance.port}${instance.forwardPort === undefined ? "" : ` (the service's front door; QEMU forwards 127.0.0.1:${instance.forwardPort})`}`,
            `Uptime:   ${report.uptimeSeconds} s`,
            `Image:    ${instance.imageId}`,
            ...(instance.caCertificates === undefined
              ? []
              : [
                  `CAs:      Debian's set${instance.caCertificates === "none" ? "" : `, and ${instance.caCertificates}`}`,
                ]),
          ]
        : []),
      ...(report.disk
        ? [`Disk:     ${formatBytes(report.disk.usedBytes)} used of ${formatBytes(report.disk.sizeBytes)}`]
        : []),
      `State:    ${report.stateDir}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  },
});

/** The recorded builders; a record that cannot be read is warned of (status still reports this builder). */
async function recordedOrWarn(paths: Paths): Promise<readonly InstalledBuilder[]> {
  try {
    return (await readInstalledRecord(paths)).builders;
  } catch (error) {
    if (!(error instanceof LinuxBuilderError) || error.code !== "install.registry") throw error;
    warn(`${error.message}; the other installed builders are not listed. ${error.hint ?? ""}`.trim());
    return [];
  }
}

/** The service's lines of `status`: itself, its connections, the guest's builds, the idle countdown, the last error. */
export function serviceLines(service: ServiceStatus): string[] {
  const door = `127.0.0.1:${service.port}`;
  const connections =
    service.connections === 0
      ? "none open"
      : `${service.connections} open${service.waiting > 0 ? `, ${service.waiting} waiting for the boot` : ""}`;
  return [
    service.listening
      ? `Service:  linux-builder serve (pid ${service.pid}) on ${door}`
      : `Service:  linux-builder serve (pid ${service.pid}), waiting for the port: ${door} is taken (by a builder started without the service, or another program: \`linux-builder doctor\` names it)`,
    `Clients:  ${connections}; ${service.totals.connections} since the service started, ${service.totals.boots} boot${service.totals.boots === 1 ? "" : "s"}`,
    ...(service.guestBuilds === null
      ? []
      : [`Builds:   ${service.guestBuilds} running in the guest (at its last look)`]),
    `Idle:     ${idleText(service)}`,
    ...(service.lastError === null ? [] : [`Error:    the last boot failed: ${service.lastError}`]),
  ];
}

/** Who keeps the service running: the OS's service manager (install set it up), or no one. */
function osServiceLine(registered: StatusReport["osService"], serving: boolean): string {
  if (registered === null) {
    return serving
      ? "Managed:  by no service manager: this serve was started by hand"
      : "Managed:  by no service manager (`linux-builder install` sets one up where launchd or systemd runs; else `linux-builder serve` runs it by hand)";
  }
  const kind = registered.manager === "launchd" ? "launchd daemon" : "systemd unit";
  const state: Record<typeof registered.state, string> = {
    running: "running",
    stopped: "loaded, not running",
    "not-loaded": "not loaded",
    unknown: "its state unknown",
  };
  return `Managed:  ${kind} ${registered.name} (${state[registered.state]}), ${registered.file}`;
}

/** The VM as the service sees it. */
function vmText(service: ServiceStatus): string {
  const { state, pid } = service.vm;
  const process = pid === null ? "" : ` (pid ${pid})`;
  if (state === "off") return "off; the next connection boots it";
  if (state === "up") return `up${process}, ready`;
  return `${state}${process}`;
}

/** When the service powers the VM off for idleness, or why it does not count. */
function idleText(service: ServiceStatus): string {
  if (service.idleMinutes === 0) return "never powered off for idleness (idleMinutes 0)";
  if (service.idlePowerOffInSeconds !== null) {
    return `powers off in ${formatDuration(service.idlePowerOffInSeconds)} with no connection`;
  }
  if (service.vm.state === "off")
    return `not counting: the builder is off (idleMinutes ${service.idleMinutes})`;
  if (service.connections > 0) {
    return `not counting while ${service.connections === 1 ? "a connection is" : `${service.connections} connections are`} open (then ${service.idleMinutes} min)`;
  }
  return `not counting while the builder is ${service.vm.state}`;
}
