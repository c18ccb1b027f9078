import { createRequire } from "node:module";
import type cliProgress from "cli-progress";
import type { EnsureImageIo } from "../app/ensure-image.js";
import type { Host } from "../host/host.js";
import type { ComposeReporter } from "../image/compose/reporter.js";

// Every command loads this file; the progress bar's library only a composition on a terminal needs:
// loaded then, not before (it was about 30 ms of each command's start).
const require = createRequire(import.meta.url);
const progressBars = () => require("cli-progress") as typeof cliProgress;

/** Human-facing output: progress and logs on stderr (data goes to stdout), bars only on a terminal. */
export function stderrIsTty(env: Host["env"]): boolean {
  return process.stderr.isTTY === true && env.TERM !== "dumb";
}

export const say = (line: string) => process.stderr.write(`${line}\n`);

export const warn = (message: string) => process.stderr.write(`linux-builder: warning: ${message}\n`);

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

/** "7 min 12 s", "45 s", "2 h 5 min": a countdown as people read it. */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

export function consoleReporter(options: { quiet: boolean; env: Host["env"] }): ComposeReporter {
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
      if (!stderrIsTty(options.env)) return;
      const { SingleBar, Presets } = progressBars();
      bar = new SingleBar(
        {
          stream: process.stderr,
          format: "  {bar} {percentage}% | {got} of {total_size}",
          hideCursor: true,
          barsize: 30,
        },
        Presets.shades_classic,
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

/** How an image being composed on the way (start, run) talks: progress, and why it is composed. */
export function imageIo(env: Host["env"]): EnsureImageIo {
  return { reporter: consoleReporter({ quiet: false, env }), say, warn };
}
