/**
 * The OS service that keeps `linux-builder serve` running: what it runs, as whom, with which
 * environment, as data. launchd-plist.ts and systemd-unit.ts render it; install writes the result.
 */
import { join } from "node:path";
import { LinuxBuilderError } from "../../errors.js";

/** The service managers linux-builder installs a service for. */
export type ServiceManagerKind = "launchd" | "systemd";

/** The host's service manager, or why there is none (install then says how to run serve by hand). */
export type ServiceManager =
  | {
      readonly kind: ServiceManagerKind;
      /** Where its service definitions live. */
      readonly dir: string;
    }
  | { readonly kind: "none"; readonly why: string };

/** Where each manager keeps system services: launch daemons, and the administrator's units. */
export const SERVICE_DIRS: Readonly<Record<ServiceManagerKind, string>> = {
  launchd: "/Library/LaunchDaemons",
  systemd: "/etc/systemd/system",
};

/**
 * Seconds the manager waits for serve to exit once told to stop: serve powers the VM off as
 * `linux-builder stop` does (60 s for the guest, then QMP quit, SIGTERM, SIGKILL: 5 s each).
 */
export const STOP_TIMEOUT_SECONDS = 90;

/** Said in each file install writes: uninstall removes a service definition only when it says this. */
export const SERVICE_MARKER = "managed by `linux-builder install`, removed by `linux-builder uninstall`";

export interface ServiceDefinition {
  /** The builder's ssh alias (machines, ssh_config): one service per builder, named after it. */
  readonly alias: string;
  /** The installing user, whom serve runs as (the VM's files are theirs). */
  readonly user: string;
  /** [node, script, "serve", flags…]: absolute paths, the same program install ran. */
  readonly argv: readonly string[];
  /** HOME, PATH and the variables that choose linux-builder's folders, as install saw them. */
  readonly environment: Readonly<Record<string, string>>;
  /** The builder's state folder: serve's working folder under systemd (when it exists). */
  readonly stateDir: string;
  /** serve.log in the state folder. */
  readonly logFile: string;
}

/** A builder's service names: launchd's label and systemd's unit, both from the builder's alias. */
export function serviceName(manager: ServiceManagerKind, alias: string): string {
  // Not org.nixos.linux-builder: that is nix-darwin's own darwin-builder daemon.
  return manager === "launchd" ? `local.${alias}` : `${alias}.service`;
}

/** The file a builder's service definition is in. */
export function serviceFile(manager: { kind: ServiceManagerKind; dir: string }, alias: string): string {
  const name = serviceName(manager.kind, alias);
  return join(manager.dir, manager.kind === "launchd" ? `${name}.plist` : name);
}

/**
 * Neither format can carry a control character (a newline would end a unit's line; XML 1.0 has no
 * way to write most of them): such a value is refused, naming where it came from.
 */
export function checkServiceValue(value: string, what: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new LinuxBuilderError(
      "install.service",
      `Cannot write the builder's service: ${what} holds a control character (${JSON.stringify(value)}); nothing was changed`,
      {
        hint: "Run install from a setting without it, or with --no-service and run `linux-builder serve` yourself.",
      },
    );
  }
  return value;
}

/** Every value of the definition checked (see checkServiceValue), before either format is written. */
export function checkServiceDefinition(service: ServiceDefinition): void {
  service.argv.forEach((word, index) => {
    checkServiceValue(word, `word ${index + 1} of serve's command line`);
  });
  for (const [name, value] of Object.entries(service.environment)) checkServiceValue(value, name);
  checkServiceValue(service.user, "the user name");
  checkServiceValue(service.stateDir, "the state folder");
  checkServiceValue(service.logFile, "the log file");
}
