import { Command, CommanderError } from "commander";
import { isLinuxBuilderError } from "../errors.js";
import { registerImageCommands } from "./image.js";

const EXIT_USER_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_BUG = 70;

export function buildProgram(): Command {
  const program = new Command("linux-builder")
    .description(
      "A local Linux remote builder for Nix: composes a guest from signed Debian packages and boots it under QEMU.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerImageCommands(program);
  return program;
}

/** The one place that turns errors into exit codes: user errors get a message and a hint, bugs a stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const wantsJson = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (isLinuxBuilderError(error)) {
      if (wantsJson) {
        process.stdout.write(
          `${JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint ?? null } })}\n`,
        );
      } else {
        process.stderr.write(`linux-builder: ${error.message}\n`);
        if (error.hint) process.stderr.write(`  ${error.hint}\n`);
      }
      return EXIT_USER_ERROR;
    }
    process.stderr.write("linux-builder: internal error (a bug; please report it with this output):\n");
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_BUG;
  }
}
