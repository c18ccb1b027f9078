import { type ErrorCode, errorReport, isLinuxBuilderError } from "../errors.js";

const EXIT_USER_ERROR = 1;
/** A start cancelled with Ctrl-C: the shell's 128 + SIGINT. */
const EXIT_CANCELLED = 130;

/** What the user is told of an error they can act on: a stable code, a message, what to do. */
export interface UserError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint: string | undefined;
}

const FILE_SYSTEM_ERRORS = {
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
} as const satisfies Record<string, { what: string; hint: string }>;

type FileSystemErrno = keyof typeof FILE_SYSTEM_ERRORS;

/**
 * The error as the user's to fix, or undefined for a bug. File system failures (a full disk, a
 * read-only home) are the user's, not bugs: say which path.
 */
export function userError(error: unknown): UserError | undefined {
  if (isLinuxBuilderError(error)) return { code: error.code, message: error.message, hint: error.hint };
  if (!(error instanceof Error)) return undefined;
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (code === undefined || syscall === undefined || path === undefined) return undefined;
  if (!Object.hasOwn(FILE_SYSTEM_ERRORS, code)) return undefined;
  const errno = code as FileSystemErrno;
  // Each errno here has its fs.<ERRNO> code in the table (this does not compile otherwise).
  const fsCode: ErrorCode = `fs.${errno}`;
  const known = FILE_SYSTEM_ERRORS[errno];
  return { code: fsCode, message: `Cannot ${syscall} ${path}: ${known.what} (${code})`, hint: known.hint };
}

/** On stderr for people, or as the `--json` error report on stdout. */
export function reportUserError(json: boolean, error: UserError): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(errorReport(error.code, error.message, error.hint))}\n`);
    return;
  }
  process.stderr.write(`linux-builder: ${error.message}\n`);
  if (error.hint) process.stderr.write(`  ${error.hint}\n`);
}

/** The exit status for a user error: 1, or the shell's 130 for a cancelled start. */
export function userErrorExitStatus(error: UserError): number {
  return error.code === "vm.cancelled" ? EXIT_CANCELLED : EXIT_USER_ERROR;
}
