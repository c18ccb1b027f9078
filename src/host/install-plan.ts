import { join } from "node:path";
import { LinuxBuilderError } from "../errors.js";
import { type BuilderEntry, builderNames, machinesLine, sshConfigBlock } from "../nix/builders.js";
import { blockIds, hasBlock, withBlock, withoutBlock } from "../nix/managed-block.js";
import type { Plan, Step, WriteStep } from "./plan.js";

export type { Plan, Step } from "./plan.js";

/**
 * `install` and `uninstall` as pure data: what the host's files hold now goes in, the exact file
 * changes and commands come out. The executor applies them (as root, through one sudo), `--dry-run`
 * prints them, tests check them for every platform.
 */

export type DaemonRestart =
  | { readonly kind: "launchctl" }
  | { readonly kind: "systemd" }
  | { readonly kind: "none"; readonly why: string };

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
  /** Every file install may touch (see installedPaths), and their backups, by path. */
  readonly files: Readonly<Record<string, HostFile>>;
  /** Whether the group `nixbld` exists (the Nix daemon's build users). */
  readonly nixbldGroup: boolean;
  readonly daemon: DaemonRestart;
  /** The system ssh_config (/etc/ssh/ssh_config), to check it includes our directory. */
  readonly systemSshConfig: string | undefined;
  /** Whether the folder for ssh's connection-reuse sockets exists. */
  readonly controlDirExists: boolean;
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

export function backupPath(path: string): string {
  return `${path}${BACKUP_SUFFIX}`;
}

export function installedPaths(dirs: { nixConfDir: string; sshConfigDir: string }, port: number) {
  const names = builderNames(port);
  return {
    alias: names.alias,
    nixConf: join(dirs.nixConfDir, "nix.conf"),
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

/** Every path whose state planning needs: the files and their backups. */
export function pathsToRead(dirs: { nixConfDir: string; sshConfigDir: string }, port: number): string[] {
  const paths = installedPaths(dirs, port);
  const files = [paths.nixConf, paths.machines, paths.key, paths.publicKey, paths.sshConfig];
  return [...files, ...files.map(backupPath)];
}

function daemonStep(daemon: DaemonRestart): Step | string {
  const why = "restart the Nix daemon so it reads the new configuration";
  switch (daemon.kind) {
    case "launchctl":
      return { kind: "command", argv: ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"], why };
    case "systemd":
      return { kind: "command", argv: ["systemctl", "restart", "nix-daemon"], why };
    case "none":
      return `Restart the Nix daemon yourself so it reads the new configuration (${daemon.why}).`;
  }
}

/** A `builders =` setting of the user's that does not read our machines file makes Nix ignore it. */
function buildersOverride(nixConf: string | undefined, machinesPath: string): string | undefined {
  if (nixConf === undefined) return undefined;
  for (const line of withoutBlock(nixConf, NIX_CONF_BLOCK).split(/\r?\n/)) {
    const match = /^\s*builders\s*=\s*(.*?)\s*$/.exec(line);
    if (match && !(match[1] ?? "").includes(`@${machinesPath}`)) {
      return `\`${line.trim()}\` in nix.conf replaces Nix's default (@${machinesPath}): add @${machinesPath} to it, or Nix will not use the builder.`;
    }
  }
  return undefined;
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

const content = (state: HostState, path: string): string | undefined => state.files[path]?.content;
const exists = (state: HostState, path: string): boolean => state.files[path]?.exists ?? false;

/** Refuses the whole plan, before anything is written, when a file it changes is not ours to write. */
function checkWritable(state: HostState, steps: readonly Step[], manual: readonly string[]): void {
  const blocked = steps.flatMap((step) => {
    if (step.kind === "command" || step.kind === "mkdir" || step.kind === "rmdir") return [];
    const why = state.files[step.path]?.readOnly;
    return why === undefined ? [] : [`${step.path} (${why})`];
  });
  if (blocked.length === 0) return;
  throw new LinuxBuilderError(
    "install.read-only",
    `Cannot change ${blocked.join(", ")}; nothing was changed`,
    {
      hint:
        manual.length > 0
          ? `These files are managed elsewhere (nix-darwin or NixOS?). Add this through that configuration instead:\n${manual.map((line) => `    ${line}`).join("\n")}`
          : "Make the files writable, or change them through whatever manages them.",
    },
  );
}

export interface InstallRequest {
  readonly port: number;
  readonly entry: Omit<BuilderEntry, "alias" | "identityFile">;
  readonly keys: BuilderKeys;
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
  const steps: Step[] = [];
  const notes: string[] = [];
  const write = (path: string, next: string, mode: number, extra: Partial<WriteStep> = {}) => {
    const before = content(state, path);
    if (next === before) return;
    // The user's file is kept as it was before we first touched it.
    const backup =
      exists(state, path) && !exists(state, backupPath(path)) && !ours(path, before)
        ? backupPath(path)
        : undefined;
    steps.push({ kind: "write", path, content: next, mode, before, ...(backup ? { backup } : {}), ...extra });
  };
  // Files install wholly owns need no backup when they are already ours.
  const ours = (path: string, text: string | undefined) =>
    path === paths.sshConfig && text?.includes(COMMENT) === true;

  // The key goes where the Nix daemon (root) reads it; rewritten only when it is not this install's.
  if (content(state, paths.publicKey)?.trim() !== request.keys.publicKey.trim()) {
    write(paths.key, request.keys.privateKey, 0o600, {
      exactMode: true,
      secret: true,
      ...(state.nixbldGroup ? { group: "nixbld" } : {}),
    });
    write(paths.publicKey, `${request.keys.publicKey.trim()}\n`, 0o644, { exactMode: true });
  }
  const line = machinesLine({ ...request.entry, alias: paths.alias, identityFile: paths.key });
  write(paths.machines, withBlock(content(state, paths.machines) ?? "", paths.alias, [line], COMMENT), 0o644);
  const nixConfLines = ["builders-use-substitutes = true"];
  write(
    paths.nixConf,
    withBlock(content(state, paths.nixConf) ?? "", NIX_CONF_BLOCK, nixConfLines, COMMENT),
    0o644,
  );
  const reuse = controlPathFits(paths.controlDir);
  if (reuse && !state.controlDirExists) steps.push({ kind: "mkdir", path: paths.controlDir, mode: 0o700 });
  if (!reuse) {
    notes.push(
      `${paths.controlDir} is too long a path for ssh's connection-reuse sockets: each build opens its own connection.`,
    );
  }
  const sshConfig = `# ${COMMENT}\n${sshConfigBlock({
    alias: paths.alias,
    port: request.port,
    identityFile: paths.key,
    ...(reuse ? { controlDir: paths.controlDir } : {}),
  })}`;
  write(paths.sshConfig, sshConfig, 0o644);

  checkWritable(state, steps, [
    `${paths.machines}: ${line}`,
    `${paths.nixConf}: ${nixConfLines.join("; ")}`,
    `${paths.sshConfig}: Host ${paths.alias} / HostName 127.0.0.1 / Port ${request.port} / HostKeyAlias ${paths.alias} / User builder / IdentityFile ${paths.key}`,
  ]);
  const override = buildersOverride(content(state, paths.nixConf), paths.machines);
  if (override) notes.push(override);
  if (!sshIncludesDir(state.systemSshConfig, paths.sshConfig)) {
    notes.push(
      `/etc/ssh/ssh_config does not include ${paths.sshConfig}: add \`Include ${state.sshConfigDir}/*.conf\` at its top, or ssh will not know the host ${paths.alias}.`,
    );
  }
  if (steps.length > 0) {
    const restart = daemonStep(state.daemon);
    if (typeof restart === "string") notes.push(restart);
    else steps.push(restart);
  }
  return { steps, notes };
}

/**
 * Undoes install: our blocks come out (leaving the user's bytes as they were), files we created go,
 * files we replaced come back from their backups, backups that add nothing go.
 */
export function planUninstall(state: HostState, port: number, ourPublicKey: string | undefined): Plan {
  const paths = installedPaths(state, port);
  const steps: Step[] = [];
  const notes: string[] = [];
  // A file install wholly wrote goes; one it replaced comes back.
  const restoreOrRemove = (path: string, secret = false) => {
    if (exists(state, backupPath(path))) steps.push({ kind: "restore", path, from: backupPath(path) });
    else if (secret) steps.push({ kind: "remove", path, secret });
    else steps.push({ kind: "remove", path, ...withBefore(content(state, path)) });
  };
  const withBefore = (text: string | undefined) => (text === undefined ? {} : { before: text });

  const machines = content(state, paths.machines);
  let otherBuilders = false;
  if (machines !== undefined) {
    const restored = withoutBlock(machines, paths.alias);
    otherBuilders = blockIds(restored, "linux-builder").length > 0;
    if (restored !== machines) unblock(paths.machines, machines, restored);
  }
  const nixConf = content(state, paths.nixConf);
  // builders-use-substitutes stays while another of our builders is installed.
  if (nixConf !== undefined && hasBlock(nixConf, NIX_CONF_BLOCK) && !otherBuilders) {
    unblock(paths.nixConf, nixConf, withoutBlock(nixConf, NIX_CONF_BLOCK));
  }
  function unblock(path: string, current: string, restored: string) {
    const backup = content(state, backupPath(path));
    // A file that held nothing but our block was made by install: it goes.
    if (restored === "" && backup === undefined) steps.push({ kind: "remove", path, before: current });
    else steps.push({ kind: "write", path, content: restored, mode: 0o644, before: current });
    if (backup !== undefined && backup === restored) {
      steps.push({ kind: "remove", path: backupPath(path), before: backup });
    } else if (backup !== undefined) {
      notes.push(`${backupPath(path)} is kept: ${path} has changed since it was made.`);
    }
  }

  const sshConfig = content(state, paths.sshConfig);
  if (sshConfig?.includes(COMMENT)) restoreOrRemove(paths.sshConfig);
  else if (sshConfig !== undefined) notes.push(`${paths.sshConfig} was not written by install: it stays.`);
  const installedPublicKey = content(state, paths.publicKey);
  if (installedPublicKey !== undefined) {
    if (ourPublicKey !== undefined && installedPublicKey.trim() !== ourPublicKey.trim()) {
      notes.push(`${paths.key} is not this install's key: it stays.`);
    } else {
      if (exists(state, paths.key)) restoreOrRemove(paths.key, true);
      restoreOrRemove(paths.publicKey);
    }
  }
  if (state.controlDirExists && !otherBuilders) steps.push({ kind: "rmdir", path: paths.controlDir });
  checkWritable(state, steps, []);
  if (steps.length > 0) {
    const restart = daemonStep(state.daemon);
    if (typeof restart === "string") notes.push(restart);
    else steps.push(restart);
  }
  return { steps, notes };
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
      out.push(`create folder: ${step.path} (mode 700, for ssh's connection-reuse sockets)`);
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
