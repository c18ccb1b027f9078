/** The OS service install set up for a builder, as status reports it: which, and what its manager says. */
import { readFile } from "node:fs/promises";
import type { Host } from "../../host/host.js";
import { hostIo } from "../../host/platform/io.js";
import { type PlatformIo, platformOf } from "../../host/platform/platform.js";
import { builderNames } from "../../nix/builders.js";
import { SERVICE_MARKER, type ServiceManagerKind, serviceFile, serviceName } from "./service-definition.js";

export interface InstalledService {
  readonly manager: ServiceManagerKind;
  /** launchd's label, or systemd's unit name. */
  readonly name: string;
  /** The plist or unit file install wrote. */
  readonly file: string;
}

/** The service definition install wrote for the builder on `port`, if there is one (its marker says so). */
export async function installedService(
  host: Pick<Host, "kind">,
  port: number,
  io: PlatformIo = hostIo,
  /** Tests': instead of the manager's own folder. */
  serviceDir?: string,
): Promise<InstalledService | undefined> {
  const found = await platformOf(host.kind).serviceManager(io);
  if (found.kind === "none") return undefined;
  const manager = serviceDir === undefined ? found : { ...found, dir: serviceDir };
  const { alias } = builderNames(port);
  const file = serviceFile(manager, alias);
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (!text?.includes(SERVICE_MARKER)) return undefined;
  return { manager: manager.kind, name: serviceName(manager.kind, alias), file };
}

/** `launchctl print system/<label>` succeeds exactly when launchd has the daemon loaded. */
export async function launchdLoaded(label: string, io: PlatformIo = hostIo): Promise<boolean> {
  return (await io.run("launchctl", ["print", `system/${label}`], { timeoutMs: 10_000 })).kind === "ran";
}

/** What the manager says of the service: running, loaded but not running, or not loaded at all. */
export type ServiceManagerState = "running" | "stopped" | "not-loaded" | "unknown";

/**
 * The manager's own view: launchd's `state = running` in `launchctl print`, systemd's
 * `systemctl is-active` (which exits non-zero for anything but active: inactive, failed, activating).
 */
export async function serviceManagerState(
  service: Pick<InstalledService, "manager" | "name">,
  io: PlatformIo = hostIo,
): Promise<ServiceManagerState> {
  if (service.manager === "launchd") {
    const printed = await io.run("launchctl", ["print", `system/${service.name}`], { timeoutMs: 10_000 });
    if (printed.kind === "missing") return "unknown";
    if (printed.kind === "failed") return "not-loaded";
    return /^\s*state = running$/m.test(printed.stdout) ? "running" : "stopped";
  }
  const active = await io.run("systemctl", ["is-active", service.name], { timeoutMs: 10_000 });
  if (active.kind === "missing") return "unknown";
  return active.kind === "ran" ? "running" : "stopped";
}
