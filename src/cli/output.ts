import cliProgress from "cli-progress";
import type { ComposeReporter } from "../image/compose/reporter.js";

/** Human-facing output: progress and logs on stderr (data goes to stdout), bars only on a terminal. */
export function stderrIsTty(): boolean {
  return process.stderr.isTTY === true && process.env.TERM !== "dumb";
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function consoleReporter(options: { quiet: boolean }): ComposeReporter {
  if (options.quiet) {
    return { step() {}, downloadStart() {}, downloadProgress() {}, downloadEnd() {} };
  }
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  return {
    step(message) {
      process.stderr.write(`${message}\n`);
    },
    downloadStart(totalBytes, files) {
      process.stderr.write(
        `Fetching ${files} packages (${formatBytes(totalBytes)}, verified against the signed index)\n`,
      );
      if (!stderrIsTty()) return;
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "  {bar} {percentage}% | {got} of {total_size}",
          hideCursor: true,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(totalBytes, 0, { got: formatBytes(0), total_size: formatBytes(totalBytes) });
    },
    downloadProgress(bytes) {
      done += bytes;
      bar?.update(done, { got: formatBytes(done) });
    },
    downloadEnd() {
      bar?.stop();
    },
  };
}
