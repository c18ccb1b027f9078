/** Nix: installed, and whether the user is trusted (and through which route Nix builds). */
import { parseNixVersion } from "../../dotted-version.js";
import type { ToolResult } from "../tool.js";
import { type Check, check } from "./check.js";

export function checkNix(result: ToolResult): Check {
  if (result.kind === "missing") {
    return check(
      "nix",
      "fail",
      "nix is not installed (or not on PATH)",
      "Install Nix: https://nixos.org/download",
    );
  }
  if (result.kind === "failed") return check("nix", "fail", `nix --version failed: ${result.message}`);
  const version = parseNixVersion(result.stdout);
  return check("nix", "ok", version ? `Nix ${version.join(".")}` : result.stdout.trim());
}

/**
 * `nix show-config --json` (or `nix config show --json`) as name → value. Nix ≥ 2.4 wraps each value
 * as `{ value, defaultValue, description… }`; older versions gave the value itself.
 */
export function parseNixConfig(text: string): Map<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("nix printed something that is not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error("nix printed JSON that is not an object of settings");
  }
  const settings = new Map<string, unknown>();
  for (const [name, entry] of Object.entries(json)) {
    const wrapped = typeof entry === "object" && entry !== null && !Array.isArray(entry) && "value" in entry;
    settings.set(name, wrapped ? (entry as { value: unknown }).value : entry);
  }
  return settings;
}

/** A list setting (trusted-users): a JSON list, or Nix's whitespace-separated string. */
export function settingList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.split(/\s+/).filter((word) => word !== "");
  return [];
}

/** How the user is trusted, if at all: by name, through a group (@group), or as everyone (*). */
export function trustedVia(
  user: { readonly name: string; readonly uid: number; readonly groups: readonly string[] },
  trustedUsers: readonly string[],
): string | undefined {
  if (user.uid === 0) return "root is always trusted";
  for (const entry of trustedUsers) {
    if (entry === "*") return "trusted-users has *";
    if (entry === user.name) return `${user.name} is in trusted-users`;
    if (entry.startsWith("@") && user.groups.includes(entry.slice(1))) {
      return `${user.name} is in trusted-users through ${entry}`;
    }
  }
  return undefined;
}

/** Whether machines text (a `builders` value, a machines file) has a line for builder@alias. */
export function machinesMention(text: string, alias: string): boolean {
  return text
    .split(/[\n;]/)
    .map((line) => line.replace(/#.*/, "").trim().split(/\s+/)[0])
    .some((uri) => uri === `ssh-ng://builder@${alias}` || uri === `ssh://builder@${alias}`);
}

/**
 * How this user's Nix builds: in-process on the local store (root, single-user installs), or through
 * the daemon, as Nix's `auto` store decides. Through the daemon, the daemon's own settings and
 * builders apply; --builders and NIX_SSHOPTS from the client need trust, or are not seen at all.
 */
export type NixRoute = "local" | "daemon";

export function nixRoute(facts: {
  readonly nixRemote: string | undefined;
  readonly stateDirWritable: boolean;
  readonly daemonSocket: boolean;
}): NixRoute {
  if (facts.nixRemote !== undefined && facts.nixRemote !== "") {
    return facts.nixRemote === "local" ? "local" : "daemon";
  }
  if (facts.stateDirWritable) return "local";
  return facts.daemonSocket ? "daemon" : "local";
}

export interface TrustFacts {
  readonly user: { readonly name: string; readonly uid: number; readonly groups: readonly string[] };
  /** The text of `nix show-config --json`, or why there is none. */
  readonly config: ToolResult;
  readonly route: NixRoute;
  /** Whether the daemon's builders (its `builders` setting and the files it names) include ours. */
  readonly daemonBuilder: boolean;
  readonly nixConf: string;
  readonly restartDaemon: string;
}

export function checkTrustedUser(facts: TrustFacts): Check {
  const name = "trusted user";
  if (facts.config.kind !== "ran") {
    const why = facts.config.kind === "missing" ? "nix is missing" : facts.config.message;
    return check(name, "warn", `cannot read Nix's settings (${why})`);
  }
  let settings: Map<string, unknown>;
  try {
    settings = parseNixConfig(facts.config.stdout);
  } catch (error) {
    return check(name, "warn", `cannot read Nix's settings: ${(error as Error).message}`);
  }
  const trustedUsers = settingList(settings.get("trusted-users"));
  const via = trustedVia(facts.user, trustedUsers);
  if (via !== undefined) return check(name, "ok", via);
  if (facts.route === "local") {
    return check(
      name,
      "ok",
      `${facts.user.name} is not in trusted-users, but Nix runs without a daemon here: your settings apply as they are`,
    );
  }
  const fix = `Add \`extra-trusted-users = ${facts.user.name}\` to ${facts.nixConf}, then restart the Nix daemon (${facts.restartDaemon}).`;
  const listed = `trusted-users is ${trustedUsers.length > 0 ? trustedUsers.join(" ") : "empty"}`;
  if (facts.daemonBuilder) {
    return check(
      name,
      "warn",
      `${facts.user.name} is not a trusted Nix user (${listed}). Builds still reach the builder through the daemon's own builders, which \`linux-builder install\` set up; only builders and settings you pass yourself (--builders, --option) are ignored`,
      fix,
    );
  }
  return check(
    name,
    "fail",
    `${facts.user.name} is not a trusted Nix user (${listed}), and the Nix daemon has no linux-builder entry: the daemon ignores the builders you pass it`,
    `${fix} Or run \`linux-builder install\`, which gives the daemon the builder.`,
  );
}
