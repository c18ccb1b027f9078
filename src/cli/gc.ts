import { spawn } from "node:child_process";
import type { Command } from "commander";
import { resolvePaths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { currentHost } from "../host/host.js";
import { sshArgs } from "../ssh/builder-ssh.js";
import { readInstance } from "../vm/instance.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import { qemuBackend } from "../vm/qemu/backend.js";
import { stateLayout } from "../vm/state.js";
import { addConfigFlags, type ConfigFlags, loadConfig } from "./vm.js";

/**
 * `gc`: collects the builder's garbage now, through its Nix daemon (the builder user is trusted),
 * and says what was freed. Nix also collects by itself when /nix runs low (min-free, max-free).
 */
async function gc(flags: ConfigFlags): Promise<number> {
  const config = await loadConfig(resolvePaths(currentHost()), flags);
  const layout = stateLayout(config.stateDir);
  if ((await runningPid(layout, qemuBackend(currentHost(), layout))) === undefined) {
    throw new LinuxBuilderError("vm.stopped", "The builder is not running", {
      hint: "Start it (linux-builder start): its store is on its disk, collected from inside.",
    });
  }
  const port = (await readInstance(layout))?.port ?? config.port;
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
  if (code !== 0 || summary === null) {
    throw new LinuxBuilderError(
      "vm.gc",
      `Garbage collection on the builder failed: ${said.trim().split("\n").slice(-3).join("; ") || `ssh exited with ${code}`}`,
      {
        hint: "`linux-builder status` checks that it is ready; `linux-builder ssh` logs in.",
      },
    );
  }
  process.stderr.write(
    `Collected the builder's garbage: ${summary[1]} store paths deleted, ${summary[2]} freed.\n`,
  );
  return 0;
}

export function registerGcCommand(program: Command): void {
  addConfigFlags(
    program.command("gc").description("collect the builder's Nix garbage now and say what was freed"),
  ).action(async (flags: ConfigFlags) => {
    process.exitCode = await gc(flags);
  });
}
