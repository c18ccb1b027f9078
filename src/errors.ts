import { z } from "zod";

/**
 * One base error for everything a user can act on. `code` is stable for scripts and `--json`;
 * `hint` says what to do. The CLI prints these without a stack trace; anything else is a bug.
 */
export class LinuxBuilderError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "LinuxBuilderError";
    this.code = code;
    this.hint = options.hint;
  }
}

export function isLinuxBuilderError(error: unknown): error is LinuxBuilderError {
  return error instanceof LinuxBuilderError;
}

/** A user error as `--json` prints it on stdout (and as the root half of install reports it). */
export const errorReportSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }).strict(),
  })
  .strict();

export type ErrorReport = z.infer<typeof errorReportSchema>;

export function errorReport(code: string, message: string, hint: string | undefined): ErrorReport {
  return { error: { code, message, hint: hint ?? null } };
}
