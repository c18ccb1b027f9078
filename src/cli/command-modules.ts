import type { CliCommand } from "./command.js";
import type { FlagSpecs } from "./flags.js";

/** A command's words, and its module, loaded only when the command line asks for it. */
export interface CommandModule {
  readonly path: readonly [string] | readonly [string, string];
  readonly load: () => Promise<CliCommand<FlagSpecs>>;
}

/**
 * Every command, in the order --help lists them. Each module brings what its command runs with
 * (`image build` the composer and OpenPGP, `doctor` every check): importing them all made every
 * invocation, `stop` and `status` too, load all of that first (0.4 s of a 0.6 s `--help` here).
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  { path: ["start"], load: async () => (await import("./commands/start.js")).startCommand },
  { path: ["stop"], load: async () => (await import("./commands/stop.js")).stopCommand },
  { path: ["restart"], load: async () => (await import("./commands/restart.js")).restartCommand },
  { path: ["status"], load: async () => (await import("./commands/status.js")).statusCommand },
  { path: ["ssh"], load: async () => (await import("./commands/ssh.js")).sshCommand },
  { path: ["logs"], load: async () => (await import("./commands/logs.js")).logsCommand },
  { path: ["run"], load: async () => (await import("./commands/run.js")).runCommand },
  { path: ["serve"], load: async () => (await import("./commands/serve.js")).serveCommand },
  { path: ["console"], load: async () => (await import("./commands/console.js")).consoleCommand },
  { path: ["install"], load: async () => (await import("./commands/install.js")).installCommand },
  { path: ["uninstall"], load: async () => (await import("./commands/uninstall.js")).uninstallCommand },
  {
    path: ["apply-host-plan"],
    load: async () => (await import("./commands/apply-host-plan.js")).applyHostPlanCommand,
  },
  {
    path: ["image", "build"],
    load: async () => (await import("./commands/image-build.js")).imageBuildCommand,
  },
  { path: ["image", "info"], load: async () => (await import("./commands/image-info.js")).imageInfoCommand },
  { path: ["image", "list"], load: async () => (await import("./commands/image-list.js")).imageListCommand },
  {
    path: ["image", "prune"],
    load: async () => (await import("./commands/image-prune.js")).imagePruneCommand,
  },
  {
    path: ["cache", "prune"],
    load: async () => (await import("./commands/cache-prune.js")).cachePruneCommand,
  },
  { path: ["doctor"], load: async () => (await import("./commands/doctor.js")).doctorCommand },
  { path: ["gc"], load: async () => (await import("./commands/gc.js")).gcCommand },
];

/**
 * The modules a command line needs: the one command it starts with, or all of them when it names
 * none (--help, --version, a group alone, a typo, for which commander suggests the nearest).
 */
export function commandModulesFor(argv: readonly string[]): readonly CommandModule[] {
  const named = COMMAND_MODULES.filter((module) => module.path.every((word, i) => argv[i] === word));
  return named.length === 1 ? named : COMMAND_MODULES;
}

/** The commands of `modules`, in their order. */
export function loadCommands(
  modules: readonly CommandModule[] = COMMAND_MODULES,
): Promise<CliCommand<FlagSpecs>[]> {
  return Promise.all(modules.map((module) => module.load()));
}
