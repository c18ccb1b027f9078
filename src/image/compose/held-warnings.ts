import { type ComposeReporter, sayWarning } from "./reporter.js";

/**
 * `reporter`, with the warnings given while the downloads run held until they end: a line written
 * then would garble the progress bar the console reporter draws (cli-progress's single bar cannot
 * print above itself), and the emulators' check warns during the downloads. A reporter without
 * `warn` gets them as steps, as the composer said them before.
 */
export function holdWarningsDuringDownloads(reporter: ComposeReporter): Required<ComposeReporter> {
  const say = (message: string) => sayWarning(reporter, message);
  let held: string[] | undefined;
  return {
    step: (message) => reporter.step(message),
    downloadStart(totalBytes, files) {
      held ??= [];
      reporter.downloadStart(totalBytes, files);
    },
    downloadProgress: (bytes) => reporter.downloadProgress(bytes),
    downloadEnd() {
      reporter.downloadEnd();
      const messages = held ?? [];
      held = undefined;
      for (const message of messages) say(message);
    },
    warn(message) {
      if (held === undefined) say(message);
      else held.push(message);
    },
  };
}
