/** Applies an install or uninstall plan to the host's files: all of it, or none of it. */
import { constants } from "node:fs";
import {
  access,
  chmod,
  chown,
  copyFile,
  link,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LinuxBuilderError } from "../errors.js";
import { STOP_TIMEOUT_SECONDS } from "../service/os/service-definition.js";
import { type Host, isRoot } from "./host.js";
import type { ApplyReport, CommandStep, FailedCommand, Plan, Step } from "./plan.js";
import { hostIo } from "./platform/io.js";
import { type PlatformIo, platformOf } from "./platform/platform.js";

/** How long a command may take: stopping the service waits for serve to power the VM off. */
const COMMAND_TIMEOUT_MS = (STOP_TIMEOUT_SECONDS + 30) * 1000;
/** How often a command run until it fails is run again. */
const POLL_INTERVAL_MS = 1000;

/** What applying needs of the host: whether we are root, and how its groups are looked up. */
type ApplyingHost = Pick<Host, "kind" | "uid">;

/** Whether this process can apply the plan itself, or it needs root. */
export async function canApplyDirectly(host: Pick<Host, "uid">, plan: Plan): Promise<boolean> {
  if (isRoot(host)) return true;
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
function ownerOf(
  asRoot: boolean,
  info: { uid: number; gid: number },
): { uid: number; gid: number } | undefined {
  return asRoot ? { uid: info.uid, gid: info.gid } : undefined;
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

async function applyStep(
  host: ApplyingHost,
  step: Exclude<Step, { kind: "command" }>,
  io: PlatformIo,
): Promise<Undo> {
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
        await writeAtomically(step.path, current, previous.mode & 0o7777, ownerOf(isRoot(host), previous));
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
        await writeAtomically(step.path, current, previous.mode & 0o7777, ownerOf(isRoot(host), previous));
    };
  }
  if (step.backup) await backUp(step.path, step.backup);
  // An existing file keeps its mode and owner (the key files are always 0600 root).
  const mode = step.exactMode || previous === undefined ? step.mode : previous.mode & 0o7777;
  const asRoot = isRoot(host);
  const groupId = step.group && asRoot ? await platformOf(host.kind).groupId(step.group, io) : undefined;
  const owner = asRoot
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
      if (asRoot) await chown(step.path, previous.uid, previous.gid);
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

/** Runs a command step (polled until it fails, if it says so); what failed, if it did. */
async function runCommand(
  step: CommandStep,
  io: PlatformIo,
  pause: (ms: number) => Promise<unknown>,
): Promise<FailedCommand | undefined> {
  const [command = "", ...args] = step.argv;
  const within = step.untilFailsWithinSeconds;
  if (within === undefined) {
    const result = await io.run(command, args, { timeoutMs: COMMAND_TIMEOUT_MS });
    if (result.kind === "ran") return undefined;
    const message = result.kind === "missing" ? `${command} is not installed` : result.message;
    return { argv: step.argv, message };
  }
  // Counted in tries, not by the clock: each try is a second's pause plus launchctl's own time.
  for (let tried = 0; tried < within; tried++) {
    if ((await io.run(command, args, { timeoutMs: 10_000 })).kind !== "ran") return undefined;
    await pause(POLL_INTERVAL_MS);
  }
  return { argv: step.argv, message: `still succeeds after ${within} s (${step.why})` };
}

/**
 * Applies the file steps in order; if one fails, the ones before it are undone, so the host is
 * as it was. Commands run last (the daemon restart, loading the service), but those marked
 * beforeFiles first (stopping a service whose file goes): if a file step then fails, their undo
 * runs after the files are back (the service started again). A failed command is reported, not undone.
 */
export async function applyPlan(
  host: ApplyingHost,
  plan: Plan,
  log: (line: string) => void = () => undefined,
  io: PlatformIo = hostIo,
  /** How a command polled until it fails waits between tries (tests: at once). */
  pause: (ms: number) => Promise<unknown> = sleep,
): Promise<ApplyReport> {
  const failedCommands: FailedCommand[] = [];
  const undo: Undo[] = [];
  const done: string[] = [];
  const commands = (first: boolean) =>
    plan.steps.filter(
      (step): step is CommandStep => step.kind === "command" && (step.beforeFiles === true) === first,
    );
  for (const step of commands(true)) {
    const failed = await runCommand(step, io, pause);
    if (failed !== undefined) {
      failedCommands.push(failed);
      continue;
    }
    log(`ran ${step.argv.join(" ")}`);
    if (step.undo === undefined) continue;
    const back: CommandStep = { kind: "command", argv: step.undo, why: `undo ${step.argv.join(" ")}` };
    undo.push(async () => {
      const failedUndo = await runCommand(back, io, pause);
      if (failedUndo !== undefined) throw new Error(failedUndo.message);
    });
    done.push(`ran ${step.argv.join(" ")}`);
  }
  for (const step of plan.steps) {
    if (step.kind === "command") continue;
    try {
      undo.push(await applyStep(host, step, io));
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
  for (const step of commands(false)) {
    const failed = await runCommand(step, io, pause);
    if (failed === undefined) log(`ran ${step.argv.join(" ")}`);
    else failedCommands.push(failed);
  }
  return { failedCommands };
}
