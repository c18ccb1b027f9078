/**
 * nix.conf read as Nix's parseConfigFiles reads it (NixOS/nix src/libutil/config.cc): each line is
 * cut at '#' and split at white space; `include PATH` and `!include PATH` (relative to the file's
 * folder; `!` when it may be missing) read another file in place; anything else is `name = value`,
 * the value the remaining words joined by single spaces. A later setting replaces an earlier one.
 * Pure: the caller reads the included files.
 */
import { dirname, resolve } from "node:path";

export type NixConfItem =
  | { readonly kind: "setting"; readonly line: number; readonly name: string; readonly value: string }
  | { readonly kind: "include"; readonly line: number; readonly path: string; readonly optional: boolean }
  | { readonly kind: "error"; readonly line: number; readonly text: string };

export function parseNixConf(text: string, path: string): NixConfItem[] {
  const items: NixConfItem[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const hash = raw.indexOf("#");
    const content = hash === -1 ? raw : raw.slice(0, hash);
    const tokens = content.split(/[ \t\r]+/).filter((token) => token !== "");
    if (tokens.length === 0) return;
    const [first, second] = tokens;
    if ((first === "include" || first === "!include") && tokens.length === 2 && second !== undefined) {
      items.push({
        kind: "include",
        line,
        path: resolve(dirname(path), second),
        optional: first === "!include",
      });
      return;
    }
    if (tokens.length < 2 || second !== "=" || first === undefined) {
      items.push({ kind: "error", line, text: content.trim() });
      return;
    }
    items.push({ kind: "setting", line, name: first, value: tokens.slice(2).join(" ") });
  });
  return items;
}

/** Where a setting was set: a file and line, or an environment variable (NIX_CONFIG). */
export interface SettingSource {
  readonly source: string;
  readonly line: number;
  readonly name: string;
  readonly value: string;
}
