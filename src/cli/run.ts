import { constants } from "node:os";
import type { Command } from "commander";
import type { Config } from "../config/config.js";
import { currentPaths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { kernelCrash } from "../guest/console-lines.js";
import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR, installedPaths } from "../host/install-plan.js";
import { shellWord } from "../host/shell-word.js";
import { ARCHITECTURES } from "../image/guest/profile.js";
import { indentLines } from "../indent.js";
import { machinesLine, sshConfigBlock } from "../nix/builders.js";
import { attachConsole, DEFAULT_ESCAPE, escapeKeyName, parseEscapeKey } from "../vm/console-attach.js";
import type { Accelerator } from "../vm/qemu-argv.js";
import { stateLayout } from "../vm/state.js";
import { type RunResult, readInstance, runningPid, runVm } from "../vm/supervisor.js";
import { executePlan, type HostDirs, installPlan } from "./install.js";
import { addConfigFlags, type ConfigFlags, ensureImage, loadConfig, warn } from "./vm.js";

export interface RunBannerFacts {
  readonly config: Pick<
    Config,
    "arch" | "cpus" | "memoryMiB" | "port" | "maxJobs" | "speedFactor" | "supportedFeatures"
  >;
  readonly accel: Accelerator;
  /** The guest's host key (OpenSSH public line), pinned in the machines line. */
  readonly hostPublicKey: string;
  /** This install's private key for the builder, which the Nix daemon needs a copy of. */
  readonly builderKey: string;
  readonly consoleLog: string;
  /** The flags that name this builder to other commands (its --state-dir), or none. */
  readonly selector: readonly string[];
  readonly platform: NodeJS.Platform;
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
  const system = ARCHITECTURES[config.arch].nixSystem;
  // Exactly the files and names `install` writes.
  const host = installedPaths(facts.dirs, config.port);
  const cli = (command: string) => ["linux-builder", command, ...facts.selector.map(shellWord)].join(" ");
  const restart =
    facts.platform === "darwin"
      ? "sudo launchctl kickstart -k system/org.nixos.nix-daemon"
      : "sudo systemctl restart nix-daemon";
  return [
    `Booting the ${system} builder (${config.cpus} CPUs, ${config.memoryMiB} MiB, ${facts.accel}) on 127.0.0.1:${config.port}; its console follows.`,
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
      system,
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

/** How the run ended, from QEMU's exit and what the guest printed last. */
export function describeRunEnd(result: RunResult, consoleLog: string): string {
  const took = `after ${formatDuration(result.seconds)}`;
  if (result.signal !== null) return `QEMU was stopped by ${result.signal} ${took}.`;
  if (/Kernel panic/.test(result.consoleTail)) {
    return `The guest's kernel panicked ${took}; ${consoleLog} has its last words.`;
  }
  if (/linux-builder: powering off/.test(result.consoleTail)) {
    return `The builder powered off cleanly ${took}.`;
  }
  if (result.code === 0) return `QEMU quit without the guest powering off (the monitor's quit?) ${took}.`;
  return `QEMU exited with status ${result.code} ${took}; ${consoleLog} has the guest's console.`;
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return minutes < 60
    ? `${minutes} min ${whole % 60} s`
    : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** QEMU's status as ours; killed by a signal, the shell's 128 + its number. */
export function exitStatus(result: Pick<RunResult, "code" | "signal">): number {
  if (result.code !== null) return result.code;
  return 128 + (result.signal === null ? 0 : (constants.signals[result.signal] ?? 0));
}

/**
 * Unless --no-install, `install`'s plan is applied before the console takes the terminal (sudo
 * asks for a password only when something is not yet in place), as the seed's install-credentials.
 */
async function installBeforeBoot(config: Config, flags: RunFlags): Promise<boolean> {
  if (!flags.install) return false;
  await executePlan(await installPlan(config, flags));
  return true;
}

interface RunFlags extends ConfigFlags {
  install: boolean;
  nixConfDir: string;
  sshConfigDir: string;
}

async function runAttached(flags: RunFlags): Promise<number> {
  const paths = currentPaths();
  const config = await loadConfig(paths, flags);
  const image = await ensureImage(paths, config);
  const layout = stateLayout(config.stateDir);
  let printedBanner = false;
  const boot = () =>
    runVm({
      config,
      layout,
      image,
      onWarning: warn,
      stopDeadlineMs: 60_000,
      beforeBoot: async (prepared) => {
        if (printedBanner) return;
        printedBanner = true;
        const installed = await installBeforeBoot(config, flags);
        process.stderr.write(
          runBanner({
            config,
            accel: prepared.accel,
            hostPublicKey: prepared.keys.hostPublicKey,
            builderKey: layout.builderKey,
            consoleLog: layout.consoleLog,
            selector: flags.stateDir === undefined ? [] : ["--state-dir", flags.stateDir],
            platform: process.platform,
            dirs: flags,
            installed,
          }),
        );
      },
    });
  let result = await boot();
  // QEMU 7.2's multi-threaded TCG occasionally loses a race with the kernel patching its own code
  // early in boot (an int3 Oops, which oops=panic turns into QEMU exiting): boot once more.
  if (
    result.code === 0 &&
    result.seconds < 60 &&
    kernelCrash(result.consoleTail) !== undefined &&
    !/linux-builder: READY/.test(result.consoleTail)
  ) {
    warn("the builder's kernel crashed while booting; booting it once more");
    result = await boot();
  }
  // The console may have left the cursor mid-line.
  process.stderr.write(`\n${describeRunEnd(result, layout.consoleLog)}\n`);
  return exitStatus(result);
}

async function attach(flags: ConfigFlags & { escape: string }): Promise<void> {
  const escapeByte = parseEscapeKey(flags.escape);
  const config = await loadConfig(currentPaths(), flags);
  const layout = stateLayout(config.stateDir);
  const pid = await runningPid(layout);
  if (pid === undefined) {
    throw new LinuxBuilderError("vm.stopped", "The builder is not running", {
      hint: "Start it: linux-builder start (or `linux-builder run`, with the console in that terminal)",
    });
  }
  if ((await readInstance(layout))?.attached === true) {
    throw new LinuxBuilderError(
      "vm.attached",
      `The builder (pid ${pid}) runs attached to the terminal of \`linux-builder run\`: its console is there`,
      { hint: "Use that terminal, or log in from here with `linux-builder ssh`." },
    );
  }
  const end = await attachConsole({
    socketPath: layout.consoleSocket,
    escape: escapeByte,
    input: process.stdin,
    output: process.stdout,
    onConnected: () =>
      process.stderr.write(
        `Attached to the builder's console (pid ${pid}); ${escapeKeyName(escapeByte)} detaches. Enter shows a prompt.\n`,
      ),
  });
  process.stderr.write(
    end === "detached"
      ? "\nDetached from the console; the builder keeps running.\n"
      : "\nThe console closed: the builder stopped.\n",
  );
}

export function registerRunCommands(program: Command): void {
  addConfigFlags(
    program
      .command("run")
      .description(
        "boot the builder in this terminal with its console attached, until it powers off (Ctrl-a c: QEMU's monitor)",
      ),
  )
    .option("--no-install", "boot without installing the builder's key and Nix configuration first")
    .option("--nix-conf-dir <dir>", "where install puts nix.conf, machines and the key", DEFAULT_NIX_CONF_DIR)
    .option("--ssh-config-dir <dir>", "where install puts the ssh_config alias", DEFAULT_SSH_CONFIG_DIR)
    .action(async (flags: RunFlags) => {
      process.exitCode = await runAttached(flags);
    });
  addConfigFlags(
    program
      .command("console")
      .description(
        `attach this terminal to the running builder's serial console (${DEFAULT_ESCAPE} detaches)`,
      ),
  )
    .option("--escape <key>", "the control key that detaches, e.g. ^] or ctrl-a", DEFAULT_ESCAPE)
    .action(attach);
}
