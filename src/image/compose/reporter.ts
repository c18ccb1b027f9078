/** How composition reports progress; the CLI draws it, tests ignore it. */
export interface ComposeReporter {
  step(message: string): void;
  downloadStart(totalBytes: number, files: number): void;
  downloadProgress(bytes: number): void;
  downloadEnd(): void;
}

export const quietReporter: ComposeReporter = {
  step() {},
  downloadStart() {},
  downloadProgress() {},
  downloadEnd() {},
};
