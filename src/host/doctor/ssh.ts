/** Root's ssh: what it makes of the builder's alias, and whether it knows the builder's host key. */
import { knownHostsFor } from "../../ssh/known-hosts.js";
import type { ToolResult } from "../tool.js";
import { type Check, check } from "./check.js";
import { type FileText, ROOT_ONLY } from "./file-text.js";

/** `ssh -G HOST`'s output (every option, one "name value" a line) as name → values. */
export function parseSshG(text: string): Map<string, string[]> {
  const options = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^(\S+)\s+(.*?)\s*$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    const key = match[1].toLowerCase();
    options.set(key, [...(options.get(key) ?? []), match[2]]);
  }
  return options;
}

/**
 * The ssh alias the daemon's ssh (root's) reaches the builder by: the installed file there, read by
 * the system ssh_config's `Include`, and what ssh makes of the alias in the end (`ssh -G`), which an
 * earlier `Host` block or root's ~/.ssh/config can change (ssh takes the first value it meets).
 */
export function checkSshAlias(facts: {
  readonly path: string;
  readonly content: FileText;
  readonly systemConfigPath: string;
  readonly systemConfig: FileText;
  /** Whether the system ssh_config's Include lines take in `path` (install-plan's sshIncludesDir). */
  readonly included: boolean;
  /** `ssh -G ALIAS` as root (or the system config's view, when not root). */
  readonly effective: ToolResult;
  readonly alias: string;
  readonly port: number;
  readonly keyPath: string;
  /** Whether the folder of ssh's ControlPath (from `ssh -G`) exists; undefined when unknown. */
  readonly controlDirExists?: boolean | undefined;
}): Check {
  const name = "ssh alias";
  const install = "Run `linux-builder install` again.";
  if (facts.content.kind === "missing") {
    return check(
      name,
      "fail",
      `${facts.path} is missing: ssh does not know the host ${facts.alias}`,
      install,
    );
  }
  if (facts.systemConfig.kind === "text" && !facts.included) {
    const dir = facts.path.slice(0, facts.path.lastIndexOf("/"));
    return check(
      name,
      "fail",
      `${facts.systemConfigPath} does not include ${facts.path}: ssh (the Nix daemon's too) never reads it, and cannot resolve ${facts.alias}`,
      `Add \`Include ${dir}/*.conf\` at the top of ${facts.systemConfigPath}.`,
    );
  }
  if (facts.effective.kind !== "ran") {
    const why = facts.effective.kind === "missing" ? "ssh is not installed" : facts.effective.message;
    return check(name, "warn", `cannot ask ssh what ${facts.alias} is (${why})`);
  }
  const options = parseSshG(facts.effective.stdout);
  const get = (key: string) => options.get(key)?.[0];
  const wrong: string[] = [];
  if (get("hostname") !== "127.0.0.1") wrong.push(`HostName ${get("hostname") ?? "?"}, not 127.0.0.1`);
  if (get("port") !== String(facts.port)) wrong.push(`Port ${get("port") ?? "?"}, not ${facts.port}`);
  if (get("hostkeyalias") !== facts.alias)
    wrong.push(`HostKeyAlias ${get("hostkeyalias") ?? "none"}, not ${facts.alias}`);
  if (get("user") !== "builder") wrong.push(`User ${get("user") ?? "?"}, not builder`);
  if (wrong.length > 0 && get("hostname") === facts.alias && get("hostkeyalias") === undefined) {
    // Nothing of the file applied: the Include is there, but not where ssh reads it for this host.
    return check(
      name,
      "fail",
      `ssh applies nothing of ${facts.path} to ${facts.alias} (it would connect to the name ${facts.alias}, port ${get("port") ?? "?"}): the Include in ${facts.systemConfigPath} is inside a Host or Match block?`,
      `Move \`Include ${facts.path.slice(0, facts.path.lastIndexOf("/"))}/*.conf\` to the top of ${facts.systemConfigPath}, before any Host or Match line.`,
    );
  }
  if (wrong.length > 0) {
    const ownText = facts.content.kind === "text" ? facts.content.text : undefined;
    const fileSays =
      ownText !== undefined && new RegExp(`^\\s*Port\\s+${facts.port}\\s*$`, "mi").test(ownText);
    return check(
      name,
      "fail",
      `ssh resolves ${facts.alias} to ${wrong.join(", ")}${fileSays ? `: ${facts.path} says otherwise, so an entry ssh reads first (root's ~/.ssh/config, or an earlier Host block in ${facts.systemConfigPath}) sets it` : ""}`,
      fileSays
        ? `Find it with \`sudo ssh -G ${facts.alias}\` and remove it, or put the Include of ${facts.path} first.`
        : install,
    );
  }
  // ssh refuses to connect when the folder of its connection-reuse socket is missing.
  const controlPath = get("controlpath");
  if (
    get("controlmaster") !== "false" &&
    controlPath !== undefined &&
    controlPath !== "none" &&
    facts.controlDirExists === false
  ) {
    const dir = controlPath.slice(0, controlPath.lastIndexOf("/"));
    return check(
      name,
      "fail",
      `ssh reuses connections through sockets in ${dir}, which does not exist: ssh cannot connect`,
      `${install} (it makes the folder), or \`sudo mkdir -m 700 ${dir}\`.`,
    );
  }
  const unread =
    facts.content.kind === "text"
      ? ""
      : ` (${facts.path}: ${facts.content.kind === "root-only" ? ROOT_ONLY : "unreadable"})`;
  return check(
    name,
    "ok",
    `${facts.alias} → 127.0.0.1:${facts.port}, HostKeyAlias ${facts.alias}, user builder (${facts.path}, included by ${facts.systemConfigPath})${unread}`,
  );
}

/**
 * Other known_hosts entries for the builder. Nix hands ssh the pinned key in a known-hosts file of
 * its own (`-oUserKnownHostsFile=TMP/host-key`, libstore/ssh.cc), so root's ~/.ssh/known_hosts is not
 * read by its ssh at all, and the global /etc/ssh/ssh_known_hosts is read beside Nix's file: ssh
 * accepts the host when any entry matches (OpenSSH hostfile.c, check_hostkeys_by_key_or_type), so a
 * stale key there only trips a plain `sudo ssh ALIAS`. A `@revoked` line for the pinned key in a
 * global file does make Nix's ssh refuse the builder.
 */
export function checkKnownHosts(facts: {
  readonly alias: string;
  readonly port: number;
  /** "type blob" of the key the machines line pins (or this install's host key). */
  readonly pinnedKey: string | undefined;
  readonly files: readonly {
    readonly path: string;
    /** user: replaced by Nix's own file; global: read beside it. */
    readonly kind: "user" | "global";
    readonly content: FileText;
  }[];
}): Check {
  const name = "known hosts";
  const names = [facts.alias, `[127.0.0.1]:${facts.port}`];
  const revoked: string[] = [];
  const stale: { path: string; line: number; host: string }[] = [];
  const rootOnly: string[] = [];
  for (const file of facts.files) {
    if (file.content.kind === "root-only") rootOnly.push(file.path);
    if (file.content.kind !== "text") continue;
    for (const [index, host] of names.entries()) {
      for (const entry of knownHostsFor(file.content.text, [host])) {
        if (entry.marker === "revoked") {
          if (file.kind === "global" && index === 0 && entry.key === facts.pinnedKey) {
            revoked.push(`${file.path} line ${entry.line}`);
          }
        } else if (
          entry.marker === undefined &&
          facts.pinnedKey !== undefined &&
          entry.key !== facts.pinnedKey
        ) {
          stale.push({ path: file.path, line: entry.line, host });
        }
      }
    }
  }
  const unread = rootOnly.length > 0 ? `; ${rootOnly.join(", ")}: ${ROOT_ONLY}` : "";
  if (revoked.length > 0) {
    return check(
      name,
      "fail",
      `${revoked.join(", ")} marks the builder's host key @revoked: ssh refuses it ("REVOKED HOST KEY DETECTED"), Nix's pin or not`,
      `Remove that line (\`@revoked ${facts.alias} …\`).`,
    );
  }
  if (stale.length > 0) {
    const kindOf = (path: string) => facts.files.find((f) => f.path === path)?.kind ?? "global";
    const said = stale.map((s) => {
      const why =
        s.host !== facts.alias
          ? "ssh looks the builder up by its HostKeyAlias, never by this name"
          : kindOf(s.path) === "user"
            ? "Nix's ssh does not read this file (Nix replaces it with a known-hosts file of its own, holding the pin)"
            : "Nix's ssh reads it beside its own pin, and accepts the host when any entry matches";
      return `${s.path} line ${s.line} holds another key for ${s.host} (${why})`;
    });
    const removals = [...new Set(stale.map((s) => `sudo ssh-keygen -R '${s.host}' -f ${s.path}`))];
    return check(
      name,
      "warn",
      `${said.join("; ")}: Nix's builds are not affected, but a plain \`sudo ssh ${facts.alias}\` refuses the builder${unread}`,
      `Remove the old key: ${removals.join("; ")}`,
    );
  }
  const read = facts.files.filter((f) => f.content.kind === "text").map((f) => f.path);
  return check(
    name,
    "ok",
    `${read.length > 0 ? `no other key for ${facts.alias} in ${read.join(", ")}` : "no known_hosts file to conflict with the pin"}${unread}`,
  );
}
