/** The host's side of install and uninstall, read without privileges: the plans start from it. */
import { lstat, readdir, readFile, realpath } from "node:fs/promises";
import { parseNixVersion } from "../dotted-version.js";
import {
  builderService,
  definitionOwner,
  type ServiceCondition,
  serviceCondition,
} from "../service/os/installed-service.js";
import type { ServiceManager } from "../service/os/service-definition.js";
import type { Host } from "./host.js";
import { foldersToRead, installedPaths, installedPorts, pathsToRead } from "./installed-paths.js";
import { hostIo } from "./platform/io.js";
import { type ConfigManager, type DaemonRestart, type PlatformIo, platformOf } from "./platform/platform.js";

/** One file as it is on the host. */
export interface HostFile {
  readonly exists: boolean;
  /** Undefined where it does not exist, or we may not read it (a root-only key, before sudo). */
  readonly content?: string;
  /** Why we must not write it (a symlink into the Nix store, no write permission), if so. */
  readonly readOnly?: string;
}

export interface HostState {
  /** /etc/nix by default. */
  readonly nixConfDir: string;
  /** /etc/ssh/ssh_config.d by default. */
  readonly sshConfigDir: string;
  /** Every file install may touch (see pathsToRead), and their backups, by path. */
  readonly files: Readonly<Record<string, HostFile>>;
  /** The folders install may make or remove (see foldersToRead): their entries' names, or undefined where missing. */
  readonly folders: Readonly<Record<string, readonly string[] | undefined>>;
  /** Whether the group `nixbld` exists (the Nix daemon's build users). */
  readonly nixbldGroup: boolean;
  readonly daemon: DaemonRestart;
  /** The system ssh_config (/etc/ssh/ssh_config), to check it includes our directory. */
  readonly systemSshConfig: string | undefined;
  readonly manager: ConfigManager;
  /** What keeps `linux-builder serve` running here (its files are in `files`), or why nothing can. */
  readonly serviceManager: ServiceManager;
  /**
   * What the manager says of these builders' services, by name: launchd's labels always (one can be
   * loaded without its plist; bootstrap of a loaded one fails), systemd's units where install wrote one.
   */
  readonly services: Readonly<Record<string, ServiceCondition>>;
  /** The host's Nix (`nix --version`), for what only some versions refuse; undefined when unknown. */
  readonly nixVersion?: readonly number[];
}

/** What the state says the file holds (undefined: missing, or not readable before sudo). */
export const fileContent = (state: HostState, path: string): string | undefined => state.files[path]?.content;
export const fileExists = (state: HostState, path: string): boolean => state.files[path]?.exists ?? false;

/** The host's side of install, read without privileges: what exists, what we may read, what we must not touch. */
async function readHostFile(path: string): Promise<HostFile> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return { exists: false };
  const content = await readFile(path, "utf8").catch(() => undefined);
  const file = { exists: true, ...(content === undefined ? {} : { content }) };
  if (info.isSymbolicLink()) {
    const target = await realpath(path).catch(() => "a missing file");
    // nix-darwin and NixOS link /etc/nix files into the store: writing there is never right.
    return { ...file, readOnly: `a symlink to ${target}` };
  }
  if (!info.isFile()) return { ...file, readOnly: "not a regular file" };
  // A file its owner cannot write was made read-only on purpose (root would bypass the mode).
  if ((info.mode & 0o200) === 0) return { ...file, readOnly: "read-only" };
  return file;
}

/**
 * The host as install and uninstall plan against, read without privileges. The machines file comes
 * first: it names every builder installed (one block each), whose own files are read too.
 */
export async function readHostState(
  host: Pick<Host, "kind">,
  dirs: {
    nixConfDir: string;
    sshConfigDir: string;
    /** Where the service definitions are, instead of the manager's own folder (tests). */
    serviceDir?: string;
  },
  port: number,
  io: PlatformIo = hostIo,
): Promise<HostState> {
  const platform = platformOf(host.kind);
  const machines = await readHostFile(installedPaths(dirs, port).machines);
  const ports = [...new Set([port, ...installedPorts(machines.content)])];
  const files: Record<string, HostFile> = {};
  for (const path of pathsToRead(dirs, ports)) files[path] = await readHostFile(path);
  const found = await platform.serviceManager(io);
  const serviceManager =
    found.kind === "none" || dirs.serviceDir === undefined ? found : { ...found, dir: dirs.serviceDir };
  const services: Record<string, ServiceCondition> = {};
  if (serviceManager.kind !== "none") {
    for (const alias of ports.map((each) => installedPaths(dirs, each).alias)) {
      const service = builderService(serviceManager, alias);
      const file = await readHostFile(service.file);
      files[service.file] = file;
      if (service.manager === "launchd" || definitionOwner(file) === "install")
        services[service.name] = await serviceCondition(service, io);
    }
  }
  const nix = await io.run("nix", ["--version"], { timeoutMs: 10_000 });
  const nixVersion = nix.kind === "ran" ? parseNixVersion(nix.stdout) : undefined;
  const folders: Record<string, readonly string[] | undefined> = {};
  for (const folder of foldersToRead(dirs)) {
    folders[folder] = await readdir(folder).catch((error: NodeJS.ErrnoException) =>
      // A folder we may not list (root's 0700 socket folder) exists all the same.
      error.code === "EACCES" ? [] : undefined,
    );
  }
  return {
    ...dirs,
    files,
    folders,
    nixbldGroup: await platform.groupExists("nixbld", io),
    daemon: await platform.daemonRestart(io),
    systemSshConfig: await io.readText("/etc/ssh/ssh_config"),
    manager: await platform.configManager(io),
    serviceManager,
    services,
    ...(nixVersion === undefined ? {} : { nixVersion }),
  };
}
