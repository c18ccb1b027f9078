import { compareVersions } from "../dotted-version.js";

/**
 * Nix's machines file (/etc/nix/machines, or the `builders` setting) read as Nix reads it, so doctor
 * can name the line Nix would refuse. Mirrors NixOS/nix src/libstore/machines.cc
 * (expandBuilderLines, parseBuilderLine):
 *
 * - Nix 2.29 and later cut each line at '#', then split it at ';'. Nix 2.28 and before (Debian's 2.8
 *   and 2.26 among them) split at newlines and ';' first and cut each piece at '#', so the text after
 *   a ';' inside a comment is read as a builder there.
 * - An entry starting with '@' names another machines file (read when it exists).
 * - Fields are split at white space: URI SYSTEMS SSH-KEY MAX-JOBS SPEED-FACTOR SUPPORTED-FEATURES
 *   MANDATORY-FEATURES BASE64-HOST-KEY; '-' (or a missing field) is the default; fields past the
 *   eighth are ignored. MAX-JOBS must be an unsigned integer, SPEED-FACTOR a number (an unsigned
 *   integer before Nix 2.17), the host key valid base64. One bad entry makes Nix refuse the whole
 *   list: no remote build starts at all.
 */

export interface MachineEntry {
  /** 1-based line of the file the entry is on. */
  readonly line: number;
  /** The entry as Nix sees it (comment cut, trimmed). */
  readonly text: string;
  readonly uri: string;
  /** Empty: the default (this machine's system). */
  readonly systems: readonly string[];
  readonly sshKey: string | undefined;
  readonly maxJobs: number;
  readonly speedFactor: number;
  readonly supportedFeatures: readonly string[];
  readonly mandatoryFeatures: readonly string[];
  /** The pinned host key, base64 as written; undefined when not pinned. */
  readonly publicHostKey: string | undefined;
}

export interface MachinesProblem {
  readonly line: number;
  readonly text: string;
  readonly message: string;
  /** Set when only Nix versions before this one refuse it (e.g. [2, 20]). */
  readonly onlyBefore?: readonly number[];
}

export interface MachinesInclude {
  readonly line: number;
  readonly path: string;
}

export interface ParsedMachines {
  readonly entries: readonly MachineEntry[];
  readonly problems: readonly MachinesProblem[];
  /** `@file` entries, read by Nix in their place. */
  readonly includes: readonly MachinesInclude[];
}

const isSet = (tokens: readonly string[], index: number) =>
  tokens[index] !== undefined && tokens[index] !== "" && tokens[index] !== "-";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** One entry (no '#', no ';'), as parseBuilderLine reads it; a string is why Nix refuses it. */
export function parseMachineEntry(text: string, line: number): MachineEntry | string {
  const tokens = text.split(/[ \t\r\n]+/).filter((token) => token !== "");
  if (!isSet(tokens, 0)) return "no store URI in the first field";
  const list = (index: number) =>
    isSet(tokens, index) ? (tokens[index] ?? "").split(",").filter(Boolean) : [];
  let maxJobs = 1;
  if (isSet(tokens, 3)) {
    const field = tokens[3] ?? "";
    if (!/^\d+$/.test(field) || Number(field) > 0xffffffff) {
      return `field 4 (max jobs) is "${field}", not a whole number${/\//.test(field) ? " (a key path with white space in it?)" : ""}`;
    }
    maxJobs = Number(field);
  }
  let speedFactor = 1;
  if (isSet(tokens, 4)) {
    const field = tokens[4] ?? "";
    if (!/^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(field))
      return `field 5 (speed factor) is "${field}", not a number`;
    speedFactor = Number(field);
  }
  let publicHostKey: string | undefined;
  if (isSet(tokens, 7)) {
    publicHostKey = tokens[7] ?? "";
    if (!BASE64.test(publicHostKey)) return "field 8 (the pinned host key) is not base64";
  }
  return {
    line,
    text,
    uri: tokens[0] ?? "",
    systems: list(1),
    sshKey: isSet(tokens, 2) ? tokens[2] : undefined,
    maxJobs,
    speedFactor,
    supportedFeatures: list(5),
    mandatoryFeatures: list(6),
    publicHostKey,
  };
}

/** A machines file's text: its entries, the entries Nix refuses (by line), and the files it names. */
export function parseMachines(text: string): ParsedMachines {
  const entries: MachineEntry[] = [];
  const problems: MachinesProblem[] = [];
  const includes: MachinesInclude[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const hash = raw.indexOf("#");
    const content = hash === -1 ? raw : raw.slice(0, hash);
    if (hash !== -1) {
      // Nix 2.28 and before split at ';' before cutting the comment: what follows is a builder there.
      const tail = raw.slice(hash).split(";").slice(1).join(";").trim();
      if (tail !== "") {
        problems.push({
          line,
          text: raw.trim(),
          message: `the comment has a ';': Nix 2.28 and before read "${tail}" after it as a builder`,
          onlyBefore: [2, 29],
        });
      }
    }
    for (const piece of content.split(";")) {
      const entry = piece.trim();
      if (entry === "") continue;
      if (entry.startsWith("@")) {
        includes.push({ line, path: entry.slice(1).trim() });
        continue;
      }
      const parsed = parseMachineEntry(entry, line);
      if (typeof parsed === "string") {
        problems.push({ line, text: entry, message: parsed });
        continue;
      }
      entries.push(parsed);
      if (!Number.isInteger(parsed.speedFactor)) {
        problems.push({
          line,
          text: entry,
          message: `the speed factor ${parsed.speedFactor} is not a whole number, which Nix 2.19 and before (Debian 12's 2.8) refuse`,
          onlyBefore: [2, 20],
        });
      }
    }
  });
  return { entries, problems, includes };
}

/** Whether the Nix of `version` refuses the file for `problem` (an unknown version: assume it does). */
export function refusedBy(problem: MachinesProblem, version: readonly number[] | undefined): boolean {
  return (
    problem.onlyBefore === undefined ||
    version === undefined ||
    compareVersions(version, problem.onlyBefore) < 0
  );
}

/** The `@file` entries of a `builders` setting's value, in order (the files Nix reads). */
export function builderFiles(setting: string): string[] {
  return setting
    .split(/[\n;]/)
    .map((entry) => entry.replace(/#.*/, "").trim())
    .filter((entry) => entry.startsWith("@"))
    .map((entry) => entry.slice(1).trim());
}

/** A pinned key field decoded: "type blob" (what Nix writes to its own known-hosts file). */
export function decodePinnedKey(base64: string): string {
  return Buffer.from(base64, "base64").toString("utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}
