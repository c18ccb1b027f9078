import { type Command, Option } from "commander";
import { LinuxBuilderError } from "../errors.js";

/**
 * A command-line flag declared once: commander's option is made from it, and `read` turns what
 * commander parsed into the flag's typed value, so a command's flag type is derived from its table
 * (`FlagValues`) instead of being written again by hand.
 */
export interface FlagSpec<Value> {
  /** As commander spells it: "--timeout <seconds>", "-f, --follow", "--no-wait". */
  readonly syntax: string;
  readonly description: string;
  readonly defaultValue?: string;
  readonly choices?: readonly string[];
  /** For a flag that may be repeated or needs checking as it is parsed (commander's argParser). */
  // Methods, not properties: a FlagSpec<string> is then a FlagSpec<unknown> in a table of them.
  parse?(value: string, previous: Value): Value;
  read(parsed: unknown): Value;
}

/** A command's flags, keyed by the name commander gives each (`--state-dir` → `stateDir`). */
export type FlagSpecs = Readonly<Record<string, FlagSpec<unknown>>>;

export type FlagValues<Specs extends FlagSpecs> = {
  readonly [Key in keyof Specs]: ReturnType<Specs[Key]["read"]>;
};

const optionalString = (parsed: unknown): string | undefined =>
  parsed === undefined ? undefined : String(parsed);

/** `--port <port>`: a string, or undefined when not given. */
export function valueFlag(syntax: string, description: string): FlagSpec<string | undefined> {
  return { syntax, description, read: optionalString };
}

/** `--timeout <seconds>` with a default: always a string. */
export function defaultedFlag(syntax: string, description: string, defaultValue: string): FlagSpec<string> {
  return { syntax, description, defaultValue, read: String };
}

/** `--accel <accel>` limited to `choices` (commander refuses others, naming them). */
export function choiceFlag<const Choice extends string>(
  syntax: string,
  description: string,
  choices: readonly Choice[],
): FlagSpec<Choice | undefined> {
  return {
    syntax,
    description,
    choices,
    read: (parsed) => choices.find((choice) => choice === parsed),
  };
}

/** `--json`, `--force`, `-f, --follow`: whether it was given. */
export function switchFlag(syntax: string, description: string): FlagSpec<boolean> {
  return { syntax, description, read: (parsed) => parsed === true };
}

/** `--no-wait`: true unless given. */
export function negatedSwitch(syntax: `--no-${string}`, description: string): FlagSpec<boolean> {
  return { syntax, description, read: (parsed) => parsed !== false };
}

/** `--extra-packages a,b`, repeatable: each value parsed (and checked) as it comes. */
export function listFlag(
  syntax: string,
  description: string,
  parse: (value: string, previous: string[] | undefined) => string[],
): FlagSpec<string[] | undefined> {
  return {
    syntax,
    description,
    parse: (value, previous) => parse(value, previous),
    read: (parsed) => (Array.isArray(parsed) ? parsed.map(String) : undefined),
  };
}

/** Adds the flags to a commander command, in the table's order (which --help keeps). */
export function addFlags(command: Command, specs: FlagSpecs): Command {
  for (const [key, spec] of Object.entries(specs)) {
    const option = new Option(spec.syntax, spec.description);
    // The table's key must be where commander puts the value, or `read` would see nothing.
    if (option.attributeName() !== key) {
      throw new Error(
        `flag ${spec.syntax} is declared as "${key}", but commander names it "${option.attributeName()}"`,
      );
    }
    if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
    if (spec.choices !== undefined) option.choices(spec.choices);
    if (spec.parse !== undefined) option.argParser(spec.parse);
    command.addOption(option);
  }
  return command;
}

/** The command's parsed options as the table's typed values. */
export function readFlags<Specs extends FlagSpecs>(
  specs: Specs,
  parsed: Record<string, unknown>,
): FlagValues<Specs> {
  return Object.fromEntries(
    Object.entries(specs).map(([key, spec]) => [key, spec.read(parsed[key])]),
  ) as FlagValues<Specs>;
}

/** A flag's value as a whole number (they arrive as text); `flag` names it in the error. */
export function wholeNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new LinuxBuilderError("usage.number", `${flag} must be a whole number, not "${value}"`);
  }
  return Number(value);
}
