/** The systemd unit (Linux) that keeps `linux-builder serve` running: systemd.service(5) as text. */
import {
  checkServiceDefinition,
  SERVICE_MARKER,
  type ServiceDefinition,
  STOP_TIMEOUT_SECONDS,
} from "./service-definition.js";

/** systemd expands %-specifiers in these settings: a literal % is written %%. */
const literalPercent = (value: string): string => value.replaceAll("%", "%%");

/**
 * One word of ExecStart= or Environment= (systemd.syntax(7)): bare when it has nothing systemd reads
 * specially, else in double quotes with \ and " escaped; % doubled everywhere, and $ in ExecStart=
 * (where $NAME is substituted).
 */
export function systemdWord(value: string, setting: "ExecStart" | "Environment"): string {
  const escaped =
    setting === "ExecStart" ? literalPercent(value).replaceAll("$", "$$$$") : literalPercent(value);
  if (/^[A-Za-z0-9_+=:,./@-]+$/.test(value)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * /etc/systemd/system/<alias>.service: serve as the installing user, started at boot and again
 * after a crash. KillMode=process: the stop signal goes to serve alone, which powers QEMU (started
 * in the same cgroup) off cleanly; and when serve crashes, QEMU is left running for the restarted
 * serve to adopt. KillMode=mixed would SIGKILL QEMU on any final stop, a crash's too
 * (systemd.kill(5)), so no crash would ever be recovered from without losing the VM.
 */
export function systemdUnit(service: ServiceDefinition): string {
  checkServiceDefinition(service);
  const environment = Object.entries(service.environment).map(([name, value]) =>
    systemdWord(`${name}=${value}`, "Environment"),
  );
  return [
    `# ${SERVICE_MARKER}`,
    "[Unit]",
    `Description=linux-builder serve: Nix's Linux builder (${service.alias}), booted on demand`,
    "After=network.target",
    "",
    "[Service]",
    "Type=simple",
    `User=${literalPercent(service.user)}`,
    // "-": a missing state folder (deleted to start afresh) is no reason to fail (200/CHDIR) and restart in a loop.
    `WorkingDirectory=-${literalPercent(service.stateDir)}`,
    ...(environment.length === 0 ? [] : [`Environment=${environment.join(" ")}`]),
    `ExecStart=${service.argv.map((word) => systemdWord(word, "ExecStart")).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=2",
    "KillMode=process",
    `TimeoutStopSec=${STOP_TIMEOUT_SECONDS}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
