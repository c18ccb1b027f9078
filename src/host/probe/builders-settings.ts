/** The `builders` settings Nix applies: nix.conf's (with its includes), the user's, NIX_CONFIG. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseNixConf, type SettingSource } from "../../nix/nix-conf.js";
import type { Host } from "../host.js";
import { readFileText } from "./files.js";

/**
 * The machines text behind a `builders` setting: inline lines as they are, `@file` entries read
 * (an unreadable file adds nothing).
 */
export async function buildersText(setting: unknown): Promise<string> {
  if (typeof setting !== "string") return "";
  const parts: string[] = [];
  for (const entry of setting.split(/[\n;]/).map((part) => part.trim())) {
    if (entry.startsWith("@")) parts.push(await readFile(entry.slice(1), "utf8").catch(() => ""));
    else parts.push(entry);
  }
  return parts.join("\n");
}

const BUILDER_SETTINGS = ["builders", "extra-builders"];

/** The builders settings of a nix.conf and the files it includes, in the order Nix applies them. */
export async function nixConfBuilderSettings(
  host: Pick<Host, "uid">,
  path: string,
  depth = 0,
): Promise<SettingSource[]> {
  const content = await readFileText(host, path);
  if (content.kind !== "text" || depth > 8) return [];
  const found: SettingSource[] = [];
  for (const item of parseNixConf(content.text, path)) {
    if (item.kind === "include") found.push(...(await nixConfBuilderSettings(host, item.path, depth + 1)));
    else if (item.kind === "setting" && BUILDER_SETTINGS.includes(item.name)) {
      found.push({ source: path, line: item.line, name: item.name, value: item.value });
    }
  }
  return found;
}

/**
 * The user's own builders settings, as a Nix client applies them after nix.conf: the user config
 * files (NIX_USER_CONF_FILES, else XDG_CONFIG_HOME and XDG_CONFIG_DIRS, the first winning), then
 * NIX_CONFIG (globals.cc, loadConfFile).
 */
export async function clientBuilderSettings(
  host: Pick<Host, "env" | "home" | "uid">,
): Promise<SettingSource[]> {
  const { env } = host;
  const files =
    env.NIX_USER_CONF_FILES !== undefined
      ? env.NIX_USER_CONF_FILES.split(":").filter(Boolean)
      : [
          env.XDG_CONFIG_HOME ?? join(host.home, ".config"),
          ...(env.XDG_CONFIG_DIRS ?? "/etc/xdg").split(":").filter(Boolean),
        ].map((dir) => join(dir, "nix", "nix.conf"));
  const found: SettingSource[] = [];
  for (const file of [...files].reverse()) found.push(...(await nixConfBuilderSettings(host, file)));
  if (env.NIX_CONFIG !== undefined) {
    for (const item of parseNixConf(env.NIX_CONFIG, "NIX_CONFIG")) {
      if (item.kind === "setting" && BUILDER_SETTINGS.includes(item.name)) {
        found.push({ source: "NIX_CONFIG", line: 0, name: item.name, value: item.value });
      }
    }
  }
  return found;
}
