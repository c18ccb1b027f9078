import { appendFileSync } from "node:fs";

/**
 * serve's log: timestamped lines appended to serve.log by serve itself (synchronously, so a line
 * written just before a crash is there), echoed to stderr when that is a terminal. Under launchd
 * stderr is serve.log already, and under systemd the journal keeps its own timestamps.
 */
export function serviceLog(
  path: string,
  echo: boolean = process.stderr.isTTY === true,
): (line: string) => void {
  return (line) => {
    const stamped = `${new Date().toISOString()} ${line}\n`;
    try {
      appendFileSync(path, stamped, { mode: 0o644 });
    } catch {
      // A log that cannot be written must not stop the service; stderr still has it.
      process.stderr.write(stamped);
      return;
    }
    if (echo) process.stderr.write(stamped);
  };
}
