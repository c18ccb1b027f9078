/**
 * What linux-builder does differently on macOS and on Linux, behind one interface: darwin.ts and
 * linux.ts implement it, `platformOf(host.kind)` picks one. The host's files and commands come in
 * through `PlatformIo`, so each platform's exact argv and paths are tested on any host with a fake.
 */
import type { Paths } from "../../config/paths.js";
import type { NixManager } from "../../nix/declarative-snippet.js";
import type { ServiceManager } from "../../service/os/service-definition.js";
import type { HostSystem } from "../doctor/host.js";
import type { Host, HostKind } from "../host.js";
import type { RunTool } from "../tool.js";
import { darwin } from "./darwin.js";
import { linux } from "./linux.js";

/** The host's files and commands as a platform probes them. */
export interface PlatformIo {
  readonly run: RunTool;
  /** Whether the path exists (access(2)). */
  exists(path: string): Promise<boolean>;
  /** The file's text, or undefined where it cannot be read. */
  readText(path: string): Promise<string | undefined>;
  /** The running kernel's release (uname -r). */
  kernelRelease(): string;
}

/** How to make the Nix daemon re-read its configuration: a command run as root, or why there is none. */
export type DaemonRestart =
  | { readonly kind: "command"; readonly argv: readonly string[] }
  | { readonly kind: "none"; readonly why: string };

/** Who manages a symlinked /etc/nix here, for the snippet a refusal prints. */
export type ConfigManager = NixManager | "unknown";

/** A command that exports the system's trusted CAs as PEM, for the guest. */
export interface CaExport {
  readonly command: string;
  readonly args: readonly string[];
  /** Where the certificates come from, for status and doctor. */
  readonly source: string;
}

export interface Platform {
  readonly kind: HostKind;
  /** Where linux-builder keeps its files by this platform's convention (LINUX_BUILDER_HOME aside). */
  folders(home: string, env: Host["env"]): Paths;
  /** root's home, where its ssh reads ~/.ssh/known_hosts. */
  readonly rootHome: string;
  /** The usual Nix daemon's restart, as the messages tell the user to run it (with sudo). */
  readonly nixDaemonRestart: readonly string[];
  /** The service manager that can keep `linux-builder serve` running here, or why there is none. */
  serviceManager(io: PlatformIo): Promise<ServiceManager>;
  /** How to restart the Nix daemon installed on this host. */
  daemonRestart(io: PlatformIo): Promise<DaemonRestart>;
  /** Whether the group exists. */
  groupExists(name: string, io: PlatformIo): Promise<boolean>;
  /** The group's id, or undefined where it does not exist. */
  groupId(name: string, io: PlatformIo): Promise<number | undefined>;
  /** Who manages /etc/nix where its files are links into the store. */
  configManager(io: PlatformIo): Promise<ConfigManager>;
  /** The OS and its version, for doctor's host check. */
  system(host: Pick<Host, "os">, io: PlatformIo): Promise<HostSystem>;
  /** Whether the OS's hypervisor is usable; undefined when this platform cannot tell. */
  hypervisorSupport(io: PlatformIo): Promise<boolean | undefined>;
  /** The system store of CAs the guest trusts when neither the config nor the host Nix names a file. */
  readonly caExport: CaExport | undefined;
}

export function platformOf(kind: HostKind): Platform {
  return kind === "darwin" ? darwin : linux;
}

/** The Nix daemon's restart as the user types it, for messages. */
export function nixDaemonRestartHint(kind: HostKind): string {
  return `sudo ${platformOf(kind).nixDaemonRestart.join(" ")}`;
}
