import { join } from "node:path";
import { LinuxBuilderError } from "../errors.js";
import { indentLines } from "../indent.js";
import {
  BUILDER_HOST_ALIAS,
  type BuilderEntry,
  builderNames,
  DEFAULT_BUILDER_PORT,
  machinesLine,
  sshConfigBlock,
} from "../nix/builders.js";
import { declarativeSnippet } from "../nix/declarative-snippet.js";
import { builderFiles, parseMachines, refusedBy } from "../nix/machines-file.js";
import { blockIds, hasBlock, hasDamagedBlock, withBlock, withoutBlock } from "../nix/managed-block.js";
import { parseNixConf } from "../nix/nix-conf.js";
import type { Plan, Step, WriteStep } from "./plan.js";
import type { ConfigManager, DaemonRestart } from "./platform/platform.js";
import { shellWord } from "./shell-word.js";

export type { Plan, Step } from "./plan.js";

/**
 * `install` and `uninstall` as pure data: what the host's files hold now goes in, the exact file
 * changes and commands come out. The executor applies them (as root, through one sudo), `--dry-run`
 * prints them, tests check them for every platform.
 */

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
  /** The host's Nix (`nix --version`), for what only some versions refuse; undefined when unknown. */
  readonly nixVersion?: readonly number[];
}

export interface BuilderKeys {
  readonly privateKey: string;
  readonly publicKey: string;
}

// No ";" here: Nix splits machines files on ";" as well as on newlines.
const COMMENT = "managed by `linux-builder install`, removed by `linux-builder uninstall`";
/** nix.conf's block is shared by every builder; the machines file has one block per builder. */
const NIX_CONF_BLOCK = "linux-builder";
const BACKUP_SUFFIX = ".backup-before-linux-builder";
/** Left in a folder install made, so that uninstall knows to remove it again (and only it). */
const FOLDER_MARKER = ".linux-builder-made-this-folder";
const FOLDER_MARKER_TEXT =
  "linux-builder install made this folder; linux-builder uninstall removes it once nothing else is in it.\n";

/** Where install writes by default: Nix's configuration folder, and the folder ssh_config includes. */
export const DEFAULT_NIX_CONF_DIR = "/etc/nix";
export const DEFAULT_SSH_CONFIG_DIR = "/etc/ssh/ssh_config.d";

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

function markerPath(folder: string): string {
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

function daemonStep(daemon: DaemonRestart): Step | string {
  const why = "restart the Nix daemon so it reads the new configuration";
  if (daemon.kind === "command") return { kind: "command", argv: [...daemon.argv], why };
  return `Restart the Nix daemon yourself so it reads the new configuration (${daemon.why}).`;
}

/** Whether ssh reads files in `dir`: the system ssh_config must Include them (Debian and macOS do). */
export function sshIncludesDir(systemSshConfig: string | undefined, file: string): boolean {
  if (systemSshConfig === undefined) return false;
  return systemSshConfig.split(/\r?\n/).some((line) => {
    const match = /^\s*Include\s+(.+?)\s*$/i.exec(line);
    if (!match) return false;
    return (match[1] ?? "").split(/\s+/).some((pattern) => globMatches(pattern, file));
  });
}

function globMatches(pattern: string, path: string): boolean {
  const regex = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]*");
  return new RegExp(`^${regex}$`).test(path);
}

/**
 * Determinate Nix writes its own /etc/nix/nix.conf (and rewrites it on upgrade), ending in
 * `!include nix.custom.conf` for the user's settings: ours go there.
 */
export function includesCustomConf(nixConf: string | undefined): boolean {
  return (
    nixConf !== undefined && /^[ \t]*!?include[ \t]+(?:\S*\/)?nix\.custom\.conf[ \t]*\r?$/m.test(nixConf)
  );
}

const content = (state: HostState, path: string): string | undefined => state.files[path]?.content;
const exists = (state: HostState, path: string): boolean => state.files[path]?.exists ?? false;
const ourBlocks = (text: string | undefined): string[] => blockIds(text ?? "", BUILDER_HOST_ALIAS);

/**
 * A `builders =` of the user's that does not read our machines file makes Nix ignore it: installing
 * would change files for nothing, so install stops and says which line to change. Read as Nix reads
 * it: nix.conf and the files it includes (those planning has read), the last setting winning.
 */
function checkBuildersSetting(state: HostState, nixConf: string, machinesPath: string): void {
  let last: { path: string; line: number; value: string } | undefined;
  const visit = (path: string, depth: number) => {
    const text = content(state, path);
    if (text === undefined || depth > 8) return;
    for (const item of parseNixConf(text, path)) {
      if (item.kind === "include") visit(item.path, depth + 1);
      else if (item.kind === "setting" && item.name === "builders") last = { path, ...item };
    }
  };
  visit(nixConf, 0);
  if (last === undefined || builderFiles(last.value).includes(machinesPath)) return;
  throw new LinuxBuilderError(
    "install.builders-override",
    `${last.path} line ${last.line}, \`builders = ${last.value}\`, replaces Nix's default builders (@${machinesPath}), so Nix would never use the builder; nothing was changed`,
    {
      // Entries are separated by ';' (white space separates an entry's fields).
      hint: `Add @${machinesPath} to that line (builders = @${machinesPath} ; ${last.value}), or remove the line, then run install again.`,
    },
  );
}

/**
 * One entry Nix cannot read makes it refuse the whole machines file, so no remote build would start:
 * install stops and names the line rather than add a builder Nix would never use.
 */
function checkMachinesFile(
  path: string,
  text: string | undefined,
  nixVersion: readonly number[] | undefined,
): void {
  if (text === undefined) return;
  const problem = parseMachines(text).problems.find((each) => refusedBy(each, nixVersion));
  if (problem === undefined) return;
  throw new LinuxBuilderError(
    "install.machines-line",
    `${path} line ${problem.line}, \`${problem.text}\`, is one Nix cannot read (${problem.message}), so Nix would start no remote build at all; nothing was changed`,
    {
      hint: "Fix that line, or remove it (or comment it out with a # and no ';' after it), then run install again.",
    },
  );
}

export interface InstallRequest {
  readonly port: number;
  readonly entry: Omit<BuilderEntry, "alias" | "identityFile">;
  readonly keys: BuilderKeys;
  /** This install's private key in its state folder, for the commands a refusal prints. */
  readonly stateKeyFile?: string;
}

/** Steps and notes under construction, with what each file will hold once the steps so far are applied. */
class PlanBuilder {
  readonly steps: Step[] = [];
  readonly notes: string[] = [];
  /** Paths the steps so far remove (files and folders). */
  private readonly removed = new Set<string>();

  constructor(private readonly state: HostState) {}

  willExist(path: string): boolean {
    if (this.removed.has(path)) return false;
    return (
      exists(this.state, path) ||
      this.steps.some((step) => (step.kind === "write" || step.kind === "mkdir") && step.path === path)
    );
  }

  /**
   * Writes a file whole. A file of the user's is copied to its backup first, once: before we first
   * touch it (afterwards it holds our blocks, and a backup would keep them).
   */
  write(path: string, next: string, mode: number, options: { touched: boolean; extra?: Partial<WriteStep> }) {
    const before = content(this.state, path);
    if (next === before) return;
    const backup =
      exists(this.state, path) && !exists(this.state, backupPath(path)) && !options.touched
        ? backupPath(path)
        : undefined;
    this.steps.push({
      kind: "write",
      path,
      content: next,
      mode,
      ...(before === undefined ? {} : { before }),
      ...(backup ? { backup } : {}),
      ...options.extra,
    });
  }

  remove(path: string, options: { secret?: boolean } = {}) {
    const before = content(this.state, path);
    this.steps.push({
      kind: "remove",
      path,
      ...(options.secret ? { secret: true } : before === undefined ? {} : { before }),
    });
    this.removed.add(path);
  }

  /** A file install wholly wrote goes; one it replaced comes back from its backup. */
  restoreOrRemove(path: string, options: { secret?: boolean } = {}) {
    if (!exists(this.state, path)) return;
    if (exists(this.state, backupPath(path))) {
      const before = options.secret ? undefined : content(this.state, path);
      this.steps.push({
        kind: "restore",
        path,
        from: backupPath(path),
        ...(before === undefined ? {} : { before }),
      });
      this.removed.add(backupPath(path));
    } else this.remove(path, options);
  }

  /**
   * A shared file (machines, nix.conf) with `next` in place of its text. Once none of our blocks is
   * left, the file is as it was before install: a file install made (no backup) goes if nothing else
   * was written to it, and the backup goes too (it is what the file holds again, or older than the
   * user's own later edits).
   */
  unblock(path: string, next: string) {
    const current = content(this.state, path);
    if (current === undefined) return;
    const backup = backupPath(path);
    const ours = ourBlocks(next).length > 0 || next.includes(`# BEGIN ${NIX_CONF_BLOCK}`);
    if (!ours && next === "" && !exists(this.state, backup)) {
      this.remove(path);
      return;
    }
    if (next !== current) this.write(path, next, 0o644, { touched: true });
    if (!ours && exists(this.state, backup)) this.remove(backup);
  }

  /**
   * Makes `folder` unless it exists; with `marker`, a file in it says install made it, so that
   * uninstall removes it again (a folder of the user's may be empty too).
   */
  ensureFolder(folder: string, mode: number, options: { marker: boolean }) {
    if (this.state.folders[folder] !== undefined || this.willExist(folder)) return;
    this.steps.push({ kind: "mkdir", path: folder, mode });
    if (options.marker) this.write(markerPath(folder), FOLDER_MARKER_TEXT, 0o644, { touched: true });
  }

  removeFolder(folder: string, options: { recursive: boolean }) {
    this.steps.push({ kind: "rmdir", path: folder, ...(options.recursive ? { recursive: true } : {}) });
    this.removed.add(folder);
  }

  /**
   * Once the last builder goes: a folder install made loses its marker, and goes too unless the steps
   * so far leave something else in it (something of the user's since: the folder is theirs now).
   */
  removeFolderIfOurs(folder: string) {
    const entries = this.state.folders[folder];
    const marker = markerPath(folder);
    if (entries === undefined || !exists(this.state, marker)) return;
    this.remove(marker);
    const left = entries.filter((name) => !this.removed.has(join(folder, name)));
    if (left.length === 0) this.removeFolder(folder, { recursive: false });
  }
}

/** What to do by hand instead, for a refusal: a configuration snippet, or the lines for each file. */
interface Instead {
  readonly snippet?: string;
  readonly lines: readonly string[];
  readonly commands: readonly string[];
}

/** Refuses the whole plan, before anything is written, when a file it changes is not ours to write. */
function checkWritable(state: HostState, steps: readonly Step[], instead: () => Instead): void {
  const blocked = steps.flatMap((step) => {
    if (step.kind === "command" || step.kind === "mkdir" || step.kind === "rmdir") return [];
    const why = state.files[step.path]?.readOnly;
    return why === undefined ? [] : [{ path: step.path, why }];
  });
  if (blocked.length === 0) return;
  const linked = blocked.some((file) => file.why.startsWith("a symlink"));
  const { snippet, lines, commands } = instead();
  const manager = state.manager === "nix-darwin" ? "nix-darwin" : "NixOS";
  const hint =
    linked && snippet !== undefined
      ? [
          `These files are managed by ${manager}: add this to its configuration instead, and switch to it:`,
          indentLines(snippet, "    "),
          ...(commands.length > 0 ? ["and, once, put the builder's key where the Nix daemon reads it:"] : []),
          ...commands.map((command) => `    ${command}`),
        ].join("\n")
      : lines.length > 0
        ? [
            "Make the files writable, or add this through whatever manages them:",
            ...lines.map((line) => `    ${line}`),
          ].join("\n")
        : "Make the files writable (or change them through whatever manages them), then run the command again.";
  throw new LinuxBuilderError(
    "install.read-only",
    `Cannot change ${blocked.map((file) => `${file.path} (${file.why})`).join(", ")}; nothing was changed`,
    { hint },
  );
}

/** The builders installed from the same state folder (the same key) on other ports: a port changed since. */
function samePublicKey(state: HostState, port: number, publicKey: string | undefined): boolean {
  if (publicKey === undefined) return false;
  const installed = content(state, installedPaths(state, port).publicKey);
  return installed !== undefined && installed.trim() === publicKey.trim();
}

/**
 * Removes one builder's own files and machines block (into `machines`, returned): its key only when it
 * is `ourPublicKey`'s (or that is unknown), its ssh alias only when install wrote it.
 */
function removeBuilder(
  plan: PlanBuilder,
  state: HostState,
  port: number,
  ourPublicKey: string | undefined,
  machines: string,
): string {
  const paths = installedPaths(state, port);
  const sshConfig = content(state, paths.sshConfig);
  if (sshConfig?.includes(COMMENT)) plan.restoreOrRemove(paths.sshConfig);
  else if (sshConfig !== undefined)
    plan.notes.push(`${paths.sshConfig} was not written by install: it stays.`);
  const installedPublicKey = content(state, paths.publicKey);
  if (installedPublicKey !== undefined) {
    if (ourPublicKey !== undefined && installedPublicKey.trim() !== ourPublicKey.trim()) {
      plan.notes.push(`${paths.key} is not this install's key: it stays.`);
    } else {
      plan.restoreOrRemove(paths.key, { secret: true });
      plan.restoreOrRemove(paths.publicKey);
    }
  }
  return withoutBlock(machines, paths.alias);
}

export function planInstall(state: HostState, request: InstallRequest): Plan {
  const paths = installedPaths(state, request.port);
  // The key's path is a field of the machines line, which Nix splits at white space and ';' and
  // cuts at '#': such a path would leave Nix with a machines file it reads wrongly.
  if (/[\s;#]/.test(paths.key)) {
    throw new LinuxBuilderError(
      "install.path",
      `Cannot install into ${state.nixConfDir}: the builder's key would be ${paths.key}, and Nix's machines file cannot hold a path with white space, ';' or '#'; nothing was changed`,
      { hint: "Use a Nix configuration folder without them (--nix-conf-dir)." },
    );
  }
  const determinate = includesCustomConf(content(state, paths.nixConf));
  const settingsFile = determinate ? paths.customNixConf : paths.nixConf;
  checkBuildersSetting(state, paths.nixConf, paths.machines);
  checkMachinesFile(paths.machines, content(state, paths.machines), state.nixVersion);
  // Adding our block again beside a BEGIN that lost its END would leave a file no one can undo.
  for (const [file, id] of [
    [paths.machines, paths.alias],
    [paths.nixConf, NIX_CONF_BLOCK],
    [paths.customNixConf, NIX_CONF_BLOCK],
  ] as const) {
    if (hasDamagedBlock(content(state, file) ?? "", id)) {
      throw new LinuxBuilderError(
        "install.damaged-block",
        `${damagedBlock(state, file)} Nothing was changed`,
        {
          hint: `Delete the lines from \`# BEGIN ${id}\` to where the block ended, then run install again.`,
        },
      );
    }
  }
  const plan = new PlanBuilder(state);
  plan.ensureFolder(state.nixConfDir, 0o755, { marker: true });

  // The key goes where the Nix daemon (root) reads it; rewritten only when it is not this install's.
  if (!samePublicKey(state, request.port, request.keys.publicKey)) {
    plan.write(paths.key, request.keys.privateKey, 0o600, {
      touched: false,
      extra: { exactMode: true, secret: true, ...(state.nixbldGroup ? { group: "nixbld" } : {}) },
    });
    plan.write(paths.publicKey, `${request.keys.publicKey.trim()}\n`, 0o644, {
      touched: false,
      extra: { exactMode: true },
    });
  }
  // This builder on another port (its port changed since): it moves, so one uninstall removes it all.
  let machines = content(state, paths.machines) ?? "";
  const touchedMachines = ourBlocks(machines).length > 0;
  for (const port of installedPorts(machines)) {
    if (port !== request.port && samePublicKey(state, port, request.keys.publicKey)) {
      machines = removeBuilder(plan, state, port, request.keys.publicKey, machines);
    }
  }
  const line = machinesLine({ ...request.entry, alias: paths.alias, identityFile: paths.key });
  plan.write(paths.machines, withBlock(machines, paths.alias, [line], COMMENT), 0o644, {
    touched: touchedMachines,
  });
  const nixConfLines = ["builders-use-substitutes = true"];
  for (const file of [paths.nixConf, paths.customNixConf]) {
    const text = content(state, file);
    if (file !== settingsFile && text !== undefined && hasBlock(text, NIX_CONF_BLOCK)) {
      plan.unblock(file, withoutBlock(text, NIX_CONF_BLOCK)); // Moved: Determinate came since.
    }
  }
  const settings = content(state, settingsFile);
  plan.write(settingsFile, withBlock(settings ?? "", NIX_CONF_BLOCK, nixConfLines, COMMENT), 0o644, {
    touched: hasBlock(settings ?? "", NIX_CONF_BLOCK),
  });

  const reuse = controlPathFits(paths.controlDir);
  // Only root may use it (a planted socket would answer for the builder); wholly ours.
  if (reuse) plan.ensureFolder(paths.controlDir, 0o700, { marker: false });
  else {
    plan.notes.push(
      `${paths.controlDir} is too long a path for ssh's connection-reuse sockets: each build opens its own connection.`,
    );
  }
  plan.ensureFolder(state.sshConfigDir, 0o755, { marker: true });
  const sshConfig = `# ${COMMENT}\n${sshConfigBlock({
    alias: paths.alias,
    port: request.port,
    identityFile: paths.key,
    ...(reuse ? { controlDir: paths.controlDir } : {}),
  })}`;
  const currentSshConfig = content(state, paths.sshConfig);
  plan.write(paths.sshConfig, sshConfig, 0o644, { touched: currentSshConfig?.includes(COMMENT) === true });

  checkWritable(state, plan.steps, () => {
    const entry = { ...request.entry, alias: paths.alias, identityFile: paths.key };
    return {
      lines: [
        `${paths.machines}: ${line}`,
        `${settingsFile}: ${nixConfLines.join("; ")}`,
        `${paths.sshConfig}: Host ${paths.alias} / HostName 127.0.0.1 / Port ${request.port} / HostKeyAlias ${paths.alias} / User builder / IdentityFile ${paths.key}`,
      ],
      ...(state.manager === "unknown"
        ? {}
        : {
            snippet: declarativeSnippet({
              manager: state.manager,
              entry,
              port: request.port,
              sshConfigPath: paths.sshConfig,
              ...(reuse ? { controlDir: paths.controlDir } : {}),
            }),
          }),
      commands: [
        `sudo install -m 600 ${request.stateKeyFile === undefined ? "BUILDER_KEY" : shellWord(request.stateKeyFile)} ${shellWord(paths.key)}`,
        ...(reuse ? [`sudo mkdir -m 700 ${shellWord(paths.controlDir)}`] : []),
      ],
    };
  });
  if (!sshIncludesDir(state.systemSshConfig, paths.sshConfig)) {
    plan.notes.push(
      `/etc/ssh/ssh_config does not include ${paths.sshConfig}: add \`Include ${state.sshConfigDir}/*.conf\` at its top, or ssh will not know the host ${paths.alias}.`,
    );
  }
  if (plan.steps.length > 0) {
    const restart = daemonStep(state.daemon);
    if (typeof restart === "string") plan.notes.push(restart);
    else plan.steps.push(restart);
  }
  return { steps: plan.steps, notes: plan.notes };
}

/**
 * Undoes install: our blocks come out (leaving the user's bytes as they were), files we created go,
 * files we replaced come back from their backups, folders we made go once empty. This builder is
 * removed from every port it is installed on (the ones whose key is `ourPublicKey`) and from `port`.
 */
/** A block of ours whose END line is gone: we cannot tell where it ends, so it is the user's to mend. */
function damagedBlock(state: HostState, path: string): string {
  const backup = exists(state, backupPath(path))
    ? `; the file as it was before install is ${backupPath(path)}`
    : "";
  return `${path} has a linux-builder block without its END line: remove the block by hand${backup}.`;
}

export function planUninstall(state: HostState, port: number, ourPublicKey: string | undefined): Plan {
  const paths = installedPaths(state, port);
  const plan = new PlanBuilder(state);
  const current = content(state, paths.machines);
  let machines = current ?? "";
  const ports = [
    port,
    ...installedPorts(current).filter((other) => other !== port && samePublicKey(state, other, ourPublicKey)),
  ];
  for (const each of ports) machines = removeBuilder(plan, state, each, ourPublicKey, machines);
  const otherBuilders = ourBlocks(machines).length > 0;
  if (hasDamagedBlock(machines, paths.alias)) plan.notes.push(damagedBlock(state, paths.machines));
  if (current !== undefined && machines !== current) plan.unblock(paths.machines, machines);
  // builders-use-substitutes stays while another of our builders is installed.
  if (!otherBuilders) {
    for (const file of [paths.nixConf, paths.customNixConf]) {
      const text = content(state, file);
      if (text === undefined) continue;
      const restored = withoutBlock(text, NIX_CONF_BLOCK);
      if (restored !== text) plan.unblock(file, restored);
      if (hasDamagedBlock(restored, NIX_CONF_BLOCK)) plan.notes.push(damagedBlock(state, file));
    }
    // Only sockets live there; a reuse master still running exits when its socket goes.
    if (state.folders[paths.controlDir] !== undefined)
      plan.removeFolder(paths.controlDir, { recursive: true });
    plan.removeFolderIfOurs(state.sshConfigDir);
    plan.removeFolderIfOurs(state.nixConfDir);
  }
  checkWritable(state, plan.steps, () => ({ lines: [], commands: [] }));
  if (plan.steps.length > 0) {
    const restart = daemonStep(state.daemon);
    if (typeof restart === "string") plan.notes.push(restart);
    else plan.steps.push(restart);
  }
  return { steps: plan.steps, notes: plan.notes };
}

/** A readable account of a plan, for --dry-run: every file change as a diff, every command. */
export function describePlan(plan: Plan): string {
  const out: string[] = [];
  for (const step of plan.steps) {
    if (step.kind === "command") {
      out.push(`run: ${step.argv.join(" ")}    # ${step.why}`);
    } else if (step.kind === "remove") {
      out.push(`remove: ${step.path}`);
    } else if (step.kind === "mkdir") {
      out.push(`create folder: ${step.path} (mode ${step.mode.toString(8)})`);
    } else if (step.kind === "rmdir") {
      out.push(`remove folder: ${step.path}`);
    } else if (step.kind === "restore") {
      out.push(`restore: ${step.path} from ${step.from}`);
    } else if (step.secret) {
      out.push(
        `write: ${step.path} (mode ${step.mode.toString(8)}${step.group ? `, group ${step.group}` : ""}; a private key, not shown)`,
      );
      if (step.backup) out.push(`  (the current one is kept as ${step.backup})`);
    } else {
      out.push(`${step.before === undefined ? "create" : "change"}: ${step.path}`);
      if (step.backup) out.push(`  (the current one is kept as ${step.backup})`);
      out.push(...unifiedDiff(step.before ?? "", step.content));
    }
  }
  if (plan.steps.length === 0) out.push("Nothing to change.");
  for (const note of plan.notes) out.push(`note: ${note}`);
  return `${out.join("\n")}\n`;
}

/** A minimal line diff: our changes are one block added or removed, so prefix/suffix trimming suffices. */
function unifiedDiff(before: string, after: string): string[] {
  const a = before === "" ? [] : before.replace(/\r?\n$/, "").split(/\r?\n/);
  const b = after === "" ? [] : after.replace(/\r?\n$/, "").split(/\r?\n/);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  return [
    ...a.slice(head, a.length - tail).map((line) => `  - ${line}`),
    ...b.slice(head, b.length - tail).map((line) => `  + ${line}`),
  ];
}
