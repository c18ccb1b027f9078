/** How composition reports progress; the CLI draws it, tests ignore it. */
export interface ComposeReporter {
  step(message: string): void;
  downloadStart(totalBytes: number, files: number): void;
  downloadProgress(bytes: number): void;
  downloadEnd(): void;
  /** Something the user should know about the image composed (without it, the composer says it as a step). */
  warn?(message: string): void;
}

/** Says a warning through `reporter`: its warn, or as a step when it has none. */
export function sayWarning(reporter: ComposeReporter, message: string): void {
  if (reporter.warn) reporter.warn(message);
  else reporter.step(`warning: ${message}`);
}

export const quietReporter: ComposeReporter = {
  step() {},
  downloadStart() {},
  downloadProgress() {},
  downloadEnd() {},
};
