import type { Command } from "commander";
import type { Paths } from "../config/paths.js";
import type { Host } from "../host/host.js";
import { addFlags, type FlagSpecs, type FlagValues, readFlags } from "./flags.js";

/** What every command is given: the host main() read once, and where linux-builder keeps its files. */
export interface CommandContext {
  readonly host: Host;
  readonly paths: Paths;
  /** This program, as sudo must run it again for install's root half. */
  readonly self: { readonly node: string; readonly script: string };
}

/**
 * One command: its place (`["image", "build"]`), its flags declared once, and what it does, which
 * returns the exit status (a child's, for ssh and logs).
 */
export interface CliCommand<Specs extends FlagSpecs> {
  readonly path: readonly [string] | readonly [string, string];
  /** Commander's operand syntax: "[id]", "[command...]". */
  readonly operands?: string;
  readonly description: string;
  readonly hidden?: boolean;
  readonly flags: Specs;
  run(context: CommandContext, flags: FlagValues<Specs>, operands: readonly string[]): Promise<number>;
}

/** Declares a command, its flags' types inferred from its table. */
export function defineCommand<Specs extends FlagSpecs>(command: CliCommand<Specs>): CliCommand<Specs> {
  return command;
}

/** The group commands (`image build`, `cache prune`) live under, and what --help says of it. */
export const COMMAND_GROUPS: Readonly<Record<string, string>> = {
  image: "compose and manage guest images",
  cache: "manage the package cache",
};

/**
 * Adds `command` to the program; its action hands the exit status to `exit` (commander's own
 * return value is the program, not the action's).
 */
export function registerCommand(
  program: Command,
  command: CliCommand<FlagSpecs>,
  context: CommandContext,
  exit: (status: number) => void,
): void {
  const [first, second] = command.path;
  let parent = program;
  let name = first;
  if (second !== undefined) {
    parent =
      program.commands.find((existing) => existing.name() === first) ??
      program.command(first).description(COMMAND_GROUPS[first] ?? "");
    name = second;
  }
  const created = parent
    .command(command.operands === undefined ? name : `${name} ${command.operands}`, {
      hidden: command.hidden === true,
    })
    .description(command.description);
  addFlags(created, command.flags).action(async (...args: unknown[]) => {
    // Commander passes the operands, then the options, then the command.
    const operands = args
      .slice(0, -2)
      .flat()
      .filter((value) => typeof value === "string");
    exit(await command.run(context, readFlags(command.flags, created.opts()), operands));
  });
}
