import { Command, CommanderError } from "commander";
import { resolvePaths } from "../config/paths.js";
import { currentHost, type Host } from "../host/host.js";
import { type CliCommand, type CommandContext, registerCommand } from "./command.js";
import { commandModulesFor, loadCommands } from "./command-modules.js";
import type { FlagSpecs } from "./flags.js";
import { reportUserError, userError, userErrorExitStatus } from "./report-error.js";

const EXIT_USAGE = 2;
const EXIT_BUG = 70;

/** The program with `commands` (command-modules.ts loads them) registered. */
export function buildProgram(
  context: CommandContext,
  exit: (status: number) => void,
  commands: readonly CliCommand<FlagSpecs>[],
): Command {
  const program = new Command("linux-builder")
    .description(
      "A local Linux remote builder for Nix: composes a guest from signed Debian packages and boots it under QEMU.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  for (const command of commands) registerCommand(program, command, context, exit);
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
  // Only the command asked for is loaded, with what it runs.
  const commands = await loadCommands(commandModulesFor(argv));
  const program = buildProgram(
    context,
    (returned) => {
      status = returned;
    },
    commands,
  );
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
