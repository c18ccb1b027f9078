import { execFile } from "node:child_process";
import { constants } from "node:fs";
import {
  access,
  chmod,
  chown,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { parseNixVersion } from "../dotted-version.js";
import { LinuxBuilderError } from "../errors.js";
import type { ConfigManager, DaemonRestart, HostFile, HostState } from "./install-plan.js";
import { foldersToRead, installedPaths, installedPorts, pathsToRead } from "./install-plan.js";
import type { ApplyReport, Plan, Step } from "./plan.js";

const run = promisify(execFile);

/** The host's side of install, read without privileges: what exists, what we may read, what we must not touch. */
export async function readHostFile(path: string): Promise<HostFile> {
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

export interface DaemonFacts {
  readonly platform: NodeJS.Platform;
  /** Labels of the Nix launch daemons installed on macOS (their plists exist). */
  readonly launchDaemons: readonly string[];
  /** Whether systemd runs this system (/run/systemd/system exists). */
  readonly systemd: boolean;
  /** Whether systemd knows a nix-daemon unit. */
  readonly nixDaemonUnit: boolean;
}

/** macOS launch daemons that run the Nix daemon: the official installer's and Determinate's. */
export const NIX_LAUNCH_DAEMONS = ["org.nixos.nix-daemon", "systems.determinate.nix-daemon"] as const;

/** How to make the Nix daemon re-read its configuration on this host. */
export function chooseDaemonRestart(facts: DaemonFacts): DaemonRestart {
  if (facts.platform === "darwin") {
    if (facts.launchDaemons.includes("org.nixos.nix-daemon")) return { kind: "launchctl" };
    if (facts.launchDaemons.length > 0) {
      return {
        kind: "none",
        why: `the daemon is ${facts.launchDaemons[0]}: \`sudo launchctl kickstart -k system/${facts.launchDaemons[0]}\``,
      };
    }
    return { kind: "none", why: "no Nix launch daemon found; single-user Nix reads nix.conf on each run" };
  }
  if (facts.systemd && facts.nixDaemonUnit) return { kind: "systemd" };
  if (facts.systemd)
    return {
      kind: "none",
      why: "systemd has no nix-daemon unit; single-user Nix reads nix.conf on each run",
    };
  return { kind: "none", why: "systemd does not run here: restart nix-daemon however your system runs it" };
}

async function daemonFacts(): Promise<DaemonFacts> {
  const launchDaemons: string[] = [];
  if (process.platform === "darwin") {
    for (const label of NIX_LAUNCH_DAEMONS) {
      if (
        await access(`/Library/LaunchDaemons/${label}.plist`).then(
          () => true,
          () => false,
        )
      )
        launchDaemons.push(label);
    }
  }
  const systemd = await access("/run/systemd/system").then(
    () => true,
    () => false,
  );
  const nixDaemonUnit =
    systemd &&
    (await run("systemctl", ["show", "--property=LoadState", "--value", "nix-daemon.service"]).then(
      ({ stdout }) => stdout.trim() === "loaded",
      () => false,
    ));
  return { platform: process.platform, launchDaemons, systemd, nixDaemonUnit };
}

async function groupExists(name: string): Promise<boolean> {
  // /etc/group on Linux; macOS keeps groups in Directory Services.
  if (process.platform === "darwin") {
    return run("dscl", [".", "-read", `/Groups/${name}`]).then(
      () => true,
      () => false,
    );
  }
  const groups = await readFile("/etc/group", "utf8").catch(() => "");
  return groups.split("\n").some((line) => line.startsWith(`${name}:`));
}

/** Who manages /etc/nix where its files are links into the store: nix-darwin on macOS, else NixOS. */
async function configManager(): Promise<ConfigManager> {
  if (process.platform === "darwin") return "nix-darwin";
  return access("/etc/NIXOS").then(
    () => "nixos" as const,
    () => "unknown" as const,
  );
}

/**
 * The host as install and uninstall plan against, read without privileges. The machines file comes
 * first: it names every builder installed (one block each), whose own files are read too.
 */
export async function readHostState(
  dirs: { nixConfDir: string; sshConfigDir: string },
  port: number,
): Promise<HostState> {
  const machines = await readHostFile(installedPaths(dirs, port).machines);
  const ports = [...new Set([port, ...installedPorts(machines.content)])];
  const files: Record<string, HostFile> = {};
  for (const path of pathsToRead(dirs, ports)) files[path] = await readHostFile(path);
  const nixVersion = await run("nix", ["--version"], { timeout: 10_000 }).then(
    ({ stdout }) => parseNixVersion(stdout),
    () => undefined,
  );
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
    nixbldGroup: await groupExists("nixbld"),
    daemon: chooseDaemonRestart(await daemonFacts()),
    systemSshConfig: await readFile("/etc/ssh/ssh_config", "utf8").catch(() => undefined),
    manager: await configManager(),
    ...(nixVersion === undefined ? {} : { nixVersion }),
  };
}

/** Whether this process can apply the plan itself, or it needs root. */
export async function canApplyDirectly(plan: Plan): Promise<boolean> {
  if (process.getuid?.() === 0) return true;
  for (const step of plan.steps) {
    if (step.kind === "command") return false;
    const dir = dirname(step.path);
    if (
      !(await access(dir, constants.W_OK).then(
        () => true,
        () => false,
      ))
    )
      return false;
  }
  return true;
}

async function gid(group: string): Promise<number | undefined> {
  if (process.platform === "darwin") {
    const { stdout } = await run("dscl", [".", "-read", `/Groups/${group}`, "PrimaryGroupID"]).catch(() => ({
      stdout: "",
    }));
    const id = Number.parseInt(stdout.split(":")[1] ?? "", 10);
    return Number.isInteger(id) ? id : undefined;
  }
  const line = (await readFile("/etc/group", "utf8").catch(() => ""))
    .split("\n")
    .find((l) => l.startsWith(`${group}:`));
  const id = Number.parseInt(line?.split(":")[2] ?? "", 10);
  return Number.isInteger(id) ? id : undefined;
}

/** Writes a whole file or nothing: a temporary file beside it, flushed, then renamed over it. */
async function writeAtomically(
  path: string,
  content: string,
  mode: number,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const temporary = join(dirname(path), `.${path.split("/").pop()}.linux-builder-${process.pid}`);
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode); // The umask narrowed open's mode.
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  } finally {
    await handle.close().catch(() => undefined);
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function changedError(path: string): LinuxBuilderError {
  return new LinuxBuilderError(
    "install.changed",
    `${path} changed since linux-builder looked at it; nothing was changed`,
    { hint: "Run the command again: it plans from what is there now." },
  );
}

/** As root, a file written again keeps its owner; otherwise we cannot (and need not) choose. */
function ownerOf(info: { uid: number; gid: number }): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? { uid: info.uid, gid: info.gid } : undefined;
}

/**
 * Copies `path` to `backup` whole or not at all: a copy beside it, flushed, then linked into place
 * (which fails if a backup exists: the first one is the user's file before we touched it). A torn
 * copy must never be restored over the user's file by a later uninstall.
 */
async function backUp(path: string, backup: string): Promise<void> {
  const temporary = `${backup}.linux-builder-${process.pid}`;
  try {
    await copyFile(path, temporary, constants.COPYFILE_EXCL);
    const handle = await open(temporary, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(temporary, backup);
  } finally {
    await rm(temporary, { force: true });
  }
}

/** What applying one step changed, so a later failure can put it back. */
type Undo = () => Promise<void>;

async function applyStep(step: Exclude<Step, { kind: "command" }>): Promise<Undo> {
  if (step.kind === "mkdir") {
    await mkdir(step.path, { mode: step.mode });
    await chmod(step.path, step.mode); // The umask narrowed mkdir's mode.
    return () => rmdir(step.path);
  }
  if (step.kind === "rmdir") {
    const previous = await stat(step.path);
    if (step.recursive) await rm(step.path, { recursive: true, force: true });
    else await rmdir(step.path); // Fails if something not ours appeared in it meanwhile.
    return async () => {
      await mkdir(step.path, { mode: previous.mode & 0o7777 });
      await chmod(step.path, previous.mode & 0o7777);
    };
  }
  const current = await readFile(step.path, "utf8").catch(() => undefined);
  if (step.kind === "restore") {
    if (step.before !== undefined && current !== step.before) throw changedError(step.path);
    const previous = await stat(step.path).catch(() => undefined);
    await rename(step.from, step.path);
    return async () => {
      await rename(step.path, step.from);
      if (current !== undefined && previous !== undefined)
        await writeAtomically(step.path, current, previous.mode & 0o7777, ownerOf(previous));
    };
  }
  if (!step.secret && step.before !== undefined && current !== step.before) throw changedError(step.path);
  if (!step.secret && step.kind === "write" && step.before === undefined && current !== undefined) {
    throw new LinuxBuilderError(
      "install.changed",
      `${step.path} appeared since linux-builder looked at it; nothing was changed`,
      { hint: "Run the command again: it plans from what is there now." },
    );
  }
  const previous = await stat(step.path).catch(() => undefined);
  if (step.kind === "remove") {
    await rm(step.path, { force: true });
    return async () => {
      if (current !== undefined && previous)
        await writeAtomically(step.path, current, previous.mode & 0o7777, ownerOf(previous));
    };
  }
  if (step.backup) await backUp(step.path, step.backup);
  // An existing file keeps its mode and owner (the key files are always 0600 root).
  const mode = step.exactMode || previous === undefined ? step.mode : previous.mode & 0o7777;
  const isRoot = process.getuid?.() === 0;
  const groupId = step.group && isRoot ? await gid(step.group) : undefined;
  const owner = isRoot
    ? step.exactMode || previous === undefined
      ? { uid: 0, gid: groupId ?? 0 }
      : { uid: previous.uid, gid: previous.gid }
    : undefined;
  await writeAtomically(step.path, step.content, mode, owner);
  if (step.exactMode) await chmod(step.path, mode);
  return async () => {
    if (step.backup) await rm(step.backup, { force: true });
    if (current === undefined || previous === undefined) await rm(step.path, { force: true });
    else {
      await writeAtomically(step.path, current, previous.mode & 0o7777);
      if (isRoot) await chown(step.path, previous.uid, previous.gid);
    }
  };
}

/** A step's failure as the user's error: what failed, that nothing was changed, what to do. */
function describeFailure(step: Step, error: unknown): LinuxBuilderError {
  if (error instanceof LinuxBuilderError) return error;
  const { code } = error as NodeJS.ErrnoException;
  // Something appeared where the plan saw nothing (a folder made, a file put in one we empty).
  if (code === "EEXIST" || code === "ENOTEMPTY") return changedError("path" in step ? step.path : "a file");
  return new LinuxBuilderError(
    "install.failed",
    `Cannot ${step.kind} ${"path" in step ? step.path : ""}: ${(error as Error).message}; nothing was changed`,
    { hint: APPLY_HINTS[code ?? ""] ?? "Check the file and its folder, then run it again.", cause: error },
  );
}

const APPLY_HINTS: Readonly<Record<string, string>> = {
  EACCES: "Run it as root (linux-builder asks sudo when it needs to).",
  EPERM:
    "Run it as root (linux-builder asks sudo when it needs to); a file or folder made immutable (chflags, chattr) must be made writable first.",
  EROFS:
    "That folder is on a read-only file system: make it writable (or point --nix-conf-dir / --ssh-config-dir elsewhere), then run it again.",
  ENOSPC: "The disk is full: free some space, then run it again.",
};

const PAST_TENSE = {
  write: "wrote",
  remove: "removed",
  restore: "restored",
  mkdir: "made the folder",
  rmdir: "removed the folder",
} as const;

/**
 * Applies the file steps in order; if one fails, the ones before it are undone, so the host is
 * as it was. Commands (the daemon restart) run last; their failure is reported, not undone.
 */
export async function applyPlan(
  plan: Plan,
  log: (line: string) => void = () => undefined,
): Promise<ApplyReport> {
  const undo: Undo[] = [];
  const done: string[] = [];
  for (const step of plan.steps) {
    if (step.kind === "command") continue;
    try {
      undo.push(await applyStep(step));
      done.push(`${PAST_TENSE[step.kind]} ${step.path}`);
      log(`${PAST_TENSE[step.kind]} ${step.path}`);
    } catch (error) {
      const notUndone: string[] = [];
      for (let index = undo.length - 1; index >= 0; index--) {
        await (undo[index] as Undo)().catch((undoError: Error) =>
          notUndone.push(`${done[index]} (${undoError.message})`),
        );
      }
      const failure = describeFailure(step, error);
      if (notUndone.length === 0) throw failure;
      // Said plainly: which changes are still in place, so the user can put them back.
      throw new LinuxBuilderError(
        failure.code,
        failure.message.replace(
          /; nothing was changed$/,
          `; and these changes could not be put back: ${notUndone.join(", ")}`,
        ),
        failure.hint === undefined ? { cause: error } : { hint: failure.hint, cause: error },
      );
    }
  }
  const failedCommands: string[] = [];
  for (const step of plan.steps) {
    if (step.kind !== "command") continue;
    const [command, ...args] = step.argv;
    try {
      await run(command ?? "", args, { timeout: 60_000 });
      log(`ran ${step.argv.join(" ")}`);
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
      failedCommands.push(`${step.argv.join(" ")}: ${stderr || (error as Error).message}`);
    }
  }
  return { failedCommands };
}
