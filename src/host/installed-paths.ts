/** Where install writes: the default folders, each builder's files, their backups, the folder markers. */
import { join } from "node:path";
import { BUILDER_HOST_ALIAS, builderNames, DEFAULT_BUILDER_PORT } from "../nix/builders.js";
import { blockIds } from "../nix/managed-block.js";

/** Where install writes by default: Nix's configuration folder, and the folder ssh_config includes. */
export const DEFAULT_NIX_CONF_DIR = "/etc/nix";
export const DEFAULT_SSH_CONFIG_DIR = "/etc/ssh/ssh_config.d";

/** nix.conf's block is shared by every builder; the machines file has one block per builder. */
export const NIX_CONF_BLOCK = "linux-builder";
const BACKUP_SUFFIX = ".backup-before-linux-builder";
/** Left in a folder install made, so that uninstall knows to remove it again (and only it). */
const FOLDER_MARKER = ".linux-builder-made-this-folder";

export function backupPath(path: string): string {
  return `${path}${BACKUP_SUFFIX}`;
}

export function installedPaths(dirs: { nixConfDir: string; sshConfigDir: string }, port: number) {
  const names = builderNames(port);
  return {
    alias: names.alias,
    nixConf: join(dirs.nixConfDir, "nix.conf"),
    /** Determinate Nix's file for the user's settings (its nix.conf is its own). */
    customNixConf: join(dirs.nixConfDir, "nix.custom.conf"),
    machines: join(dirs.nixConfDir, "machines"),
    key: join(dirs.nixConfDir, names.keyFile),
    publicKey: join(dirs.nixConfDir, `${names.keyFile}.pub`),
    sshConfig: join(dirs.sshConfigDir, names.sshConfigFile),
    /** Shared by every builder: sockets are named by ssh's connection hash. */
    controlDir: join(dirs.nixConfDir, "linux-builder-ssh"),
  };
}

/**
 * ssh's ControlPath is a Unix socket: DIR/%C (a 40-character hash) plus the 17-character temporary
 * name ssh binds first must fit in 104 bytes (macOS; Linux allows 108), or ssh fails outright.
 */
export function controlPathFits(controlDir: string): boolean {
  return Buffer.byteLength(controlDir) + 1 + 40 + 17 < 104;
}

/** The ports of the builders installed in a machines file (one marked block each). */
export function installedPorts(machines: string | undefined): number[] {
  if (machines === undefined) return [];
  return blockIds(machines, BUILDER_HOST_ALIAS).flatMap((id) => {
    if (id === BUILDER_HOST_ALIAS) return [DEFAULT_BUILDER_PORT];
    const port = /^linux-builder-(\d+)$/.exec(id)?.[1];
    return port === undefined ? [] : [Number(port)];
  });
}

export function markerPath(folder: string): string {
  return join(folder, FOLDER_MARKER);
}

/** The folders whose presence and entries planning needs. */
export function foldersToRead(dirs: { nixConfDir: string; sshConfigDir: string }): string[] {
  return [dirs.nixConfDir, dirs.sshConfigDir, installedPaths(dirs, DEFAULT_BUILDER_PORT).controlDir];
}

/** Every path whose state planning needs: the files of these builders, the shared ones, their backups. */
export function pathsToRead(
  dirs: { nixConfDir: string; sshConfigDir: string },
  ports: readonly number[],
): string[] {
  const shared = installedPaths(dirs, DEFAULT_BUILDER_PORT);
  const own = ports.flatMap((port) => {
    const paths = installedPaths(dirs, port);
    return [paths.key, paths.publicKey, paths.sshConfig];
  });
  const files = [...new Set([shared.nixConf, shared.customNixConf, shared.machines, ...own])];
  return [...files, ...files.map(backupPath), markerPath(dirs.nixConfDir), markerPath(dirs.sshConfigDir)];
}

/** The ids of our builders' blocks in a machines file. */
export const ourBlocks = (text: string | undefined): string[] => blockIds(text ?? "", BUILDER_HOST_ALIAS);
