import { Command, CommanderError } from "commander";
import { resolvePaths } from "../config/paths.js";
import { currentHost, type Host } from "../host/host.js";
import { type CliCommand, type CommandContext, registerCommand } from "./command.js";
import { applyHostPlanCommand } from "./commands/apply-host-plan.js";
import { cachePruneCommand } from "./commands/cache-prune.js";
import { consoleCommand } from "./commands/console.js";
import { doctorCommand } from "./commands/doctor.js";
import { gcCommand } from "./commands/gc.js";
import { imageBuildCommand } from "./commands/image-build.js";
import { imageInfoCommand } from "./commands/image-info.js";
import { imageListCommand } from "./commands/image-list.js";
import { imagePruneCommand } from "./commands/image-prune.js";
import { installCommand } from "./commands/install.js";
import { logsCommand } from "./commands/logs.js";
import { restartCommand } from "./commands/restart.js";
import { runCommand } from "./commands/run.js";
import { serveCommand } from "./commands/serve.js";
import { sshCommand } from "./commands/ssh.js";
import { startCommand } from "./commands/start.js";
import { statusCommand } from "./commands/status.js";
import { stopCommand } from "./commands/stop.js";
import { uninstallCommand } from "./commands/uninstall.js";
import type { FlagSpecs } from "./flags.js";
import { reportUserError, userError, userErrorExitStatus } from "./report-error.js";

const EXIT_USAGE = 2;
const EXIT_BUG = 70;

/** Every command, in the order --help lists them. */
export const COMMANDS: readonly CliCommand<FlagSpecs>[] = [
  startCommand,
  stopCommand,
  restartCommand,
  statusCommand,
  sshCommand,
  logsCommand,
  runCommand,
  serveCommand,
  consoleCommand,
  installCommand,
  uninstallCommand,
  applyHostPlanCommand,
  imageBuildCommand,
  imageInfoCommand,
  imageListCommand,
  imagePruneCommand,
  cachePruneCommand,
  doctorCommand,
  gcCommand,
];

export function buildProgram(context: CommandContext, exit: (status: number) => void): Command {
  const program = new Command("linux-builder")
    .description(
      "A local Linux remote builder for Nix: composes a guest from signed Debian packages and boots it under QEMU.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const command of COMMANDS) registerCommand(program, command, context, exit);
  return program;
}

/** The one place that turns errors into exit codes: user errors get a message and a hint, bugs a stack. */
export async function main(argv: string[], host: Host = currentHost()): Promise<number> {
  const context: CommandContext = {
    host,
    paths: resolvePaths(host),
    self: { node: process.execPath, script: process.argv[1] ?? "linux-builder" },
  };
  let status = 0;
  const program = buildProgram(context, (returned) => {
    status = returned;
  });
  const wantsJson = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return status;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const known = userError(error);
    if (known !== undefined) {
      reportUserError(wantsJson, known);
      return userErrorExitStatus(known);
    }
    process.stderr.write("linux-builder: internal error (a bug; please report it with this output):\n");
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_BUG;
  }
}
