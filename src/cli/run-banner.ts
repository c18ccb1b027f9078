import { builderSystems } from "../app/builder-systems.js";
import type { HostDirs } from "../app/host-plans.js";
import type { Config } from "../config/config.js";
import type { HostKind } from "../host/host.js";
import { installedPaths } from "../host/installed-paths.js";
import { nixDaemonRestartHint } from "../host/platform/platform.js";
import { shellWord } from "../host/shell-word.js";
import { indentLines } from "../indent.js";
import { machinesLine, sshConfigBlock } from "../nix/builders.js";
import type { Accelerator } from "../vm/qemu/argv.js";

export interface RunBannerFacts {
  readonly config: Pick<
    Config,
    | "arch"
    | "cpus"
    | "memoryMiB"
    | "port"
    | "maxJobs"
    | "speedFactor"
    | "supportedFeatures"
    | "emulatedSystems"
  >;
  readonly accel: Accelerator;
  /** The guest's host key (OpenSSH public line), pinned in the machines line. */
  readonly hostPublicKey: string;
  /** This install's private key for the builder, which the Nix daemon needs a copy of. */
  readonly builderKey: string;
  readonly consoleLog: string;
  /** The flags that name this builder to other commands (its --state-dir), or none. */
  readonly selector: readonly string[];
  /** Whose Nix daemon restart to show. */
  readonly hostKind: HostKind;
  /** Where install writes (its --nix-conf-dir and --ssh-config-dir). */
  readonly dirs: HostDirs;
  /** Whether `run` has just installed it all (else it says what to do by hand). */
  readonly installed: boolean;
}

/**
 * What `run` says before the console takes the terminal: how to stop the VM (the seed's ways), and
 * the exact Nix configuration that hands builds to it.
 */
export function runBanner(facts: RunBannerFacts): string {
  const { config } = facts;
  const systems = builderSystems(config);
  const [native, ...emulated] = systems;
  const also = emulated.length > 0 ? `, also ${emulated.join(", ")} through qemu-user` : "";
  // Exactly the files and names `install` writes.
  const host = installedPaths(facts.dirs, config.port);
  const cli = (command: string) => ["linux-builder", command, ...facts.selector.map(shellWord)].join(" ");
  const restart = nixDaemonRestartHint(facts.hostKind);
  return [
    `Booting the ${native} builder${also} (${config.cpus} CPUs, ${config.memoryMiB} MiB, ${facts.accel}) on 127.0.0.1:${config.port}; its console follows.`,
    "",
    "To stop it: type Ctrl-a c, then `system_powerdown` and Enter at the (qemu) prompt;",
    `or, from another terminal, \`${cli("stop")}\` or \`${cli("ssh")} shutdown now\`.`,
    `Ctrl-c goes to the guest. The console is also logged to ${facts.consoleLog}.`,
    "",
    facts.installed
      ? "Nix delegates builds to it through this configuration (installed; `linux-builder uninstall` removes it):"
      : "To delegate builds to it, the host needs (`linux-builder install` writes all of it):",
    `  ${host.machines}:`,
    `    ${machinesLine({
      alias: host.alias,
      systems,
      identityFile: host.key,
      maxJobs: config.maxJobs,
      speedFactor: config.speedFactor,
      supportedFeatures: config.supportedFeatures,
      hostPublicKey: facts.hostPublicKey,
    })}`,
    `  ${host.nixConf}:`,
    "    builders-use-substitutes = true",
    `  ${host.sshConfig} (Nix's builder address cannot carry a port):`,
    indentLines(
      sshConfigBlock({
        alias: host.alias,
        port: config.port,
        identityFile: host.key,
        controlDir: host.controlDir,
      }),
      "    ",
    ),
    ...(facts.installed
      ? [`  and the builder's key in ${host.key}.`]
      : [
          "  the builder's key, where the Nix daemon reads it, and a folder for ssh's reused connections:",
          `    sudo install -m 600 ${shellWord(facts.builderKey)} ${host.key}`,
          `    sudo mkdir -m 700 ${host.controlDir}`,
          `  then a restart of the Nix daemon: ${restart}`,
        ]),
    "",
    "",
  ].join("\n");
}
