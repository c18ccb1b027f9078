import { Command, CommanderError } from "commander";
import { errorReport, isLinuxBuilderError } from "../errors.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerGcCommand } from "./gc.js";
import { registerImageCommands } from "./image.js";
import { registerInstallCommands } from "./install.js";
import { registerRunCommands } from "./run.js";
import { registerVmCommands } from "./vm.js";

const EXIT_USER_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_BUG = 70;

export function buildProgram(): Command {
  const program = new Command("linux-builder")
    .description(
      "A local Linux remote builder for Nix: composes a guest from signed Debian packages and boots it under QEMU.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerVmCommands(program);
  registerRunCommands(program);
  registerInstallCommands(program);
  registerImageCommands(program);
  registerDoctorCommand(program);
  registerGcCommand(program);
  return program;
}

/** The one place that turns errors into exit codes: user errors get a message and a hint, bugs a stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const wantsJson = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    // Commands that run a child (ssh, logs) pass its exit status on through process.exitCode.
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const fsError = describeFileSystemError(error);
    if (fsError !== undefined) {
      reportUserError(wantsJson, `fs.${fsError.code}`, fsError.message, fsError.hint);
      return EXIT_USER_ERROR;
    }
    if (isLinuxBuilderError(error)) {
      reportUserError(wantsJson, error.code, error.message, error.hint);
      return EXIT_USER_ERROR;
    }
    process.stderr.write("linux-builder: internal error (a bug; please report it with this output):\n");
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_BUG;
  }
}

function reportUserError(json: boolean, code: string, message: string, hint: string | undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(errorReport(code, message, hint))}\n`);
    return;
  }
  process.stderr.write(`linux-builder: ${message}\n`);
  if (hint) process.stderr.write(`  ${hint}\n`);
}

const FILE_SYSTEM_ERRORS: Readonly<Record<string, { what: string; hint: string }>> = {
  ENOSPC: {
    what: "the disk is full",
    hint: "Free some space (linux-builder cache prune, image prune) and try again.",
  },
  EDQUOT: { what: "the disk quota is exceeded", hint: "Free some space and try again." },
  EACCES: {
    what: "permission denied",
    hint: "Check the permissions, or set LINUX_BUILDER_HOME to a folder you own.",
  },
  EPERM: {
    what: "operation not permitted",
    hint: "Check the permissions, or set LINUX_BUILDER_HOME to a folder you own.",
  },
  EROFS: { what: "the file system is read-only", hint: "Set LINUX_BUILDER_HOME to a writable folder." },
  ENOTDIR: {
    what: "a part of the path is not a folder",
    hint: "Check LINUX_BUILDER_HOME and the paths you gave.",
  },
  EISDIR: { what: "it is a folder", hint: "Check the paths you gave." },
  ENOENT: { what: "no such file or folder", hint: "Check the paths you gave." },
};

/** File system failures (a full disk, a read-only home) are the user's to fix, not bugs: say which path. */
function describeFileSystemError(
  error: unknown,
): { code: string; message: string; hint: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (code === undefined || syscall === undefined || path === undefined) return undefined;
  const known = FILE_SYSTEM_ERRORS[code];
  if (known === undefined) return undefined;
  return { code, message: `Cannot ${syscall} ${path}: ${known.what} (${code})`, hint: known.hint };
}
