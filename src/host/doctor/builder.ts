/** The running builder. */
import { type Check, check } from "./check.js";

export function checkBuilder(facts: {
  readonly pid: number | undefined;
  readonly port: number | undefined;
  readonly configuredPort: number;
  readonly accel: string | undefined;
  readonly uptimeSeconds: number | undefined;
  readonly ready: boolean;
}): Check {
  const name = "builder";
  if (facts.pid === undefined) return check(name, "warn", "not running", "Run `linux-builder start`.");
  const port = facts.port ?? facts.configuredPort;
  const where = `pid ${facts.pid}, ${facts.accel ?? "?"}, 127.0.0.1:${port}`;
  const moved =
    port !== facts.configuredPort
      ? ` (started on port ${port}; the config now says ${facts.configuredPort})`
      : "";
  if (facts.ready) return check(name, "ok", `running (${where}), ready${moved}`);
  const uptime = facts.uptimeSeconds === undefined ? "" : `, up ${facts.uptimeSeconds} s`;
  return check(
    name,
    "fail",
    `running (${where}${uptime}) but its ssh and Nix daemon do not answer${moved}`,
    "It may still be booting: `linux-builder logs` shows its console; `linux-builder restart` starts it afresh.",
  );
}
