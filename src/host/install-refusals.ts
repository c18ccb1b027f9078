/**
 * Why install refuses before anything is written: a `builders` line that hides the machines file,
 * a machines file Nix cannot read, a file that is not ours to write, a block of ours cut short.
 */

import { LinuxBuilderError } from "../errors.js";
import { indentLines } from "../indent.js";
import { builderFiles, parseMachines, refusedBy } from "../nix/machines-file.js";
import { parseNixConf } from "../nix/nix-conf.js";
import { fileContent, fileExists, type HostState } from "./host-state.js";
import { backupPath } from "./installed-paths.js";
import type { Step } from "./plan.js";

/**
 * A `builders =` of the user's that does not read our machines file makes Nix ignore it: installing
 * would change files for nothing, so install stops and says which line to change. Read as Nix reads
 * it: nix.conf and the files it includes (those planning has read), the last setting winning.
 */
export function checkBuildersSetting(state: HostState, nixConf: string, machinesPath: string): void {
  let last: { path: string; line: number; value: string } | undefined;
  const visit = (path: string, depth: number) => {
    const text = fileContent(state, path);
    if (text === undefined || depth > 8) return;
    for (const item of parseNixConf(text, path)) {
      if (item.kind === "include") visit(item.path, depth + 1);
      else if (item.kind === "setting" && item.name === "builders") last = { path, ...item };
    }
  };
  visit(nixConf, 0);
  if (last === undefined || builderFiles(last.value).includes(machinesPath)) return;
  throw new LinuxBuilderError(
    "install.builders-override",
    `${last.path} line ${last.line}, \`builders = ${last.value}\`, replaces Nix's default builders (@${machinesPath}), so Nix would never use the builder; nothing was changed`,
    {
      // Entries are separated by ';' (white space separates an entry's fields).
      hint: `Add @${machinesPath} to that line (builders = @${machinesPath} ; ${last.value}), or remove the line, then run install again.`,
    },
  );
}

/**
 * One entry Nix cannot read makes it refuse the whole machines file, so no remote build would start:
 * install stops and names the line rather than add a builder Nix would never use.
 */
export function checkMachinesFile(
  path: string,
  text: string | undefined,
  nixVersion: readonly number[] | undefined,
): void {
  if (text === undefined) return;
  const problem = parseMachines(text).problems.find((each) => refusedBy(each, nixVersion));
  if (problem === undefined) return;
  throw new LinuxBuilderError(
    "install.machines-line",
    `${path} line ${problem.line}, \`${problem.text}\`, is one Nix cannot read (${problem.message}), so Nix would start no remote build at all; nothing was changed`,
    {
      hint: "Fix that line, or remove it (or comment it out with a # and no ';' after it), then run install again.",
    },
  );
}

/** What to do by hand instead, for a refusal: a configuration snippet, or the lines for each file. */
export interface Instead {
  readonly snippet?: string;
  readonly lines: readonly string[];
  readonly commands: readonly string[];
}

/** Refuses the whole plan, before anything is written, when a file it changes is not ours to write. */
export function checkWritable(state: HostState, steps: readonly Step[], instead: () => Instead): void {
  const blocked = steps.flatMap((step) => {
    if (step.kind === "command" || step.kind === "mkdir" || step.kind === "rmdir") return [];
    const why = state.files[step.path]?.readOnly;
    return why === undefined ? [] : [{ path: step.path, why }];
  });
  if (blocked.length === 0) return;
  const linked = blocked.some((file) => file.why.startsWith("a symlink"));
  const { snippet, lines, commands } = instead();
  const manager = state.manager === "nix-darwin" ? "nix-darwin" : "NixOS";
  const hint =
    linked && snippet !== undefined
      ? [
          `These files are managed by ${manager}: add this to its configuration instead, and switch to it:`,
          indentLines(snippet, "    "),
          ...(commands.length > 0 ? ["and, once, put the builder's key where the Nix daemon reads it:"] : []),
          ...commands.map((command) => `    ${command}`),
        ].join("\n")
      : lines.length > 0
        ? [
            "Make the files writable, or add this through whatever manages them:",
            ...lines.map((line) => `    ${line}`),
          ].join("\n")
        : "Make the files writable (or change them through whatever manages them), then run the command again.";
  throw new LinuxBuilderError(
    "install.read-only",
    `Cannot change ${blocked.map((file) => `${file.path} (${file.why})`).join(", ")}; nothing was changed`,
    { hint },
  );
}

/** A block of ours whose END line is gone: we cannot tell where it ends, so it is the user's to mend. */
export function damagedBlock(state: HostState, path: string): string {
  const backup = fileExists(state, backupPath(path))
    ? `; the file as it was before install is ${backupPath(path)}`
    : "";
  return `${path} has a linux-builder block without its END line: remove the block by hand${backup}.`;
}
