import { spawn } from "node:child_process";
import type { Config } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import type { Host } from "../host/host.js";
import { sshArgs } from "../ssh/builder-ssh.js";
import { runningBuilder } from "./running-builder.js";

/**
 * Collects the builder's garbage now, through its Nix daemon (the builder user is trusted), and
 * says what was freed. Nix also collects by itself when /nix runs low (min-free, max-free).
 */
export async function collectGarbage(
  host: Host,
  config: Config,
): Promise<{ deleted: string; freed: string }> {
  const { layout, port } = await runningBuilder(
    host,
    config,
    "Start it (linux-builder start): its store is on its disk, collected from inside.",
  );
  // nix-store --gc ends with "N store paths deleted, X freed".
  const child = spawn("ssh", [...sshArgs(layout, port, { reuse: true }), "nix-store", "--gc"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Which stream the summary goes to differs between Nix versions: read both.
  let said = "";
  const collect = (chunk: Buffer) => {
    said += chunk.toString("utf8");
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const code = await new Promise<number>((resolve) => child.on("exit", (status) => resolve(status ?? 1)));
  const summary = /(\d+) store paths deleted, ([0-9.]+ \w+) freed/.exec(said);
  if (code !== 0 || summary?.[1] === undefined || summary[2] === undefined) {
    throw new LinuxBuilderError(
      "vm.gc",
      `Garbage collection on the builder failed: ${said.trim().split("\n").slice(-3).join("; ") || `ssh exited with ${code}`}`,
      {
        hint: "`linux-builder status` checks that it is ready; `linux-builder ssh` logs in.",
      },
    );
  }
  return { deleted: summary[1], freed: summary[2] };
}
