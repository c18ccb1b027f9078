import { z } from "zod";

/**
 * The install plan as it crosses the sudo boundary: the user's half makes it, the root half
 * (`apply-host-plan`) reads it from stdin. Declared once here; the TypeScript types are derived from
 * these schemas, so the two halves can never disagree about a step.
 */

const absolutePath = z.string().startsWith("/", "an absolute path");
const argv = z.array(z.string()).min(1);

export const stepSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("write"),
      path: absolutePath,
      content: z.string(),
      /** The mode of a new file, and of the key files always; other existing files keep theirs. */
      mode: z.number().int().min(0).max(0o777),
      exactMode: z.boolean().optional(),
      group: z.string().optional(),
      /**
       * What must be there now (absent: nothing): the executor checks it before writing, so a file
       * changed since the plan was made is never overwritten. Not for secrets (unreadable when planned).
       */
      before: z.string().optional(),
      /** Where to keep a copy of the current file first (a file of the user's we are about to change). */
      backup: absolutePath.optional(),
      /** Secrets are never printed nor checked. */
      secret: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("remove"),
      path: absolutePath,
      before: z.string().optional(),
      secret: z.boolean().optional(),
    })
    .strict(),
  /** A folder (mode `mode`) made by install, and its removal with what is in it (sockets). */
  z
    .object({ kind: z.literal("mkdir"), path: absolutePath, mode: z.number().int().min(0).max(0o777) })
    .strict(),
  /** `recursive`: with what is in it (ssh's sockets); else only an empty folder. */
  z.object({ kind: z.literal("rmdir"), path: absolutePath, recursive: z.boolean().optional() }).strict(),
  /** Puts a backup back in place of the file (a rename); `before` is what the file holds now, if anything. */
  z
    .object({
      kind: z.literal("restore"),
      path: absolutePath,
      from: absolutePath,
      before: z.string().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("command"),
      argv,
      why: z.string(),
      /** Run before any file changes: stopping a service whose definition is about to go. */
      beforeFiles: z.boolean().optional(),
      /**
       * What puts back what a beforeFiles command did (the service started again) when a later file
       * step fails and the files are put back: the host is then as it was.
       */
      undo: argv.optional(),
      /**
       * Not run once but polled (once a second) until it fails, for at most this many seconds: launchd
       * lets go of a label booted out only once the daemon has exited (`launchctl print` then fails).
       */
      untilFailsWithinSeconds: z.number().int().min(1).optional(),
      /** One of the OS service's steps: its failure leaves serve not running as installed. */
      service: z.boolean().optional(),
    })
    .strict(),
]);

export const planSchema = z
  .object({
    steps: z.array(stepSchema),
    /** Things the user must know or do: shown, never acted on. */
    notes: z.array(z.string()),
  })
  .strict();

export type Step = z.infer<typeof stepSchema>;
export type Plan = z.infer<typeof planSchema>;
export type WriteStep = Extract<Step, { kind: "write" }>;
export type CommandStep = Extract<Step, { kind: "command" }>;

/** What the root half prints as its last stdout line once the files are in place. */
export const applyReportSchema = z
  .object({
    /** Commands that failed, with what they said: files are in place, the user must act. */
    failedCommands: z.array(z.object({ argv, message: z.string() }).strict()),
  })
  .strict();

export type ApplyReport = z.infer<typeof applyReportSchema>;
export type FailedCommand = ApplyReport["failedCommands"][number];
