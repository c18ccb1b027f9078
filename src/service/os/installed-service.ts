/**
 * The OS service install sets up for a builder: its name and file, whether the file there is one
 * install wrote, and what its manager says of it. Install's plan and status both ask here.
 */
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

/** The builder `alias`'s service under `manager`: its name and the file install writes it to. */
export function builderService(
  manager: { readonly kind: ServiceManagerKind; readonly dir: string },
  alias: string,
): InstalledService {
  return { manager: manager.kind, name: serviceName(manager.kind, alias), file: serviceFile(manager, alias) };
}

/** Whose the file at a service's path is: install's (its marker says so), nobody's (none there), or another's (it stays). */
export type DefinitionOwner = "install" | "none" | "other";

export function definitionOwner(file: {
  readonly exists: boolean;
  readonly content?: string;
}): DefinitionOwner {
  if (!file.exists) return "none";
  return file.content?.includes(SERVICE_MARKER) ? "install" : "other";
}

/** The service definition install wrote for the builder on `port`, if there is one (its marker says so). */
export async function installedService(
  host: Pick<Host, "kind">,
  port: number,
  io: PlatformIo = hostIo,
): Promise<InstalledService | undefined> {
  const manager = await platformOf(host.kind).serviceManager(io);
  if (manager.kind === "none") return undefined;
  const service = builderService(manager, builderNames(port).alias);
  const content = await io.readText(service.file);
  const file = content === undefined ? { exists: false } : { exists: true, content };
  return definitionOwner(file) === "install" ? service : undefined;
}

/** What the manager says of the service: running, loaded but not running, or not loaded at all. */
export type ServiceManagerState = "running" | "stopped" | "not-loaded" | "unknown";

/**
 * The manager's own view: launchd's `launchctl print system/<label>` (which fails exactly when
 * the label is not loaded; `state = running` when serve runs), systemd's `systemctl is-active`
 * (which exits non-zero for anything but active: inactive, failed, activating).
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

/** What install plans from: the manager's state, and whether the service starts at every boot. */
export interface ServiceCondition {
  readonly state: ServiceManagerState;
  /**
   * systemd's `systemctl is-enabled` (exit 0: enabled; disabled, masked and the rest fail);
   * undefined where unknown. launchd loads every plist in /Library/LaunchDaemons at boot: not asked.
   */
  readonly enabled?: boolean;
}

export async function serviceCondition(
  service: Pick<InstalledService, "manager" | "name">,
  io: PlatformIo = hostIo,
): Promise<ServiceCondition> {
  const state = await serviceManagerState(service, io);
  if (service.manager === "launchd") return { state };
  const enabled = await io.run("systemctl", ["is-enabled", service.name], { timeoutMs: 10_000 });
  return enabled.kind === "missing" ? { state } : { state, enabled: enabled.kind === "ran" };
}
