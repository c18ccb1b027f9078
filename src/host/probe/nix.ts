/** The host Nix as doctor asks it: its settings, how it reaches the store, and who the user is to it. */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Host } from "../host.js";
import { runTool, type ToolResult } from "../tool.js";

const NIX = ["--extra-experimental-features", "nix-command"];

/** Nix's settings as JSON: `nix config show` (newer Nix), else `nix show-config` (Nix 2.8's name). */
export async function nixConfigJson(host: Pick<Host, "env">, nixConfDir: string): Promise<ToolResult> {
  const env = { ...host.env, NIX_CONF_DIR: nixConfDir };
  const current = await runTool("nix", [...NIX, "config", "show", "--json"], { env });
  if (current.kind !== "failed") return current;
  return runTool("nix", [...NIX, "show-config", "--json"], { env });
}

export async function currentUser(
  host: Pick<Host, "user" | "uid">,
): Promise<{ name: string; uid: number; groups: string[] }> {
  const groups = await runTool("id", ["-Gn"]);
  return {
    name: host.user,
    uid: host.uid,
    groups: groups.kind === "ran" ? groups.stdout.trim().split(/\s+/) : [],
  };
}

/** What Nix's `auto` store looks at: NIX_REMOTE, whether its state dir is writable, the daemon's socket. */
export async function nixRouteFacts(host: Pick<Host, "env">): Promise<{
  nixRemote: string | undefined;
  stateDirWritable: boolean;
  daemonSocket: boolean;
}> {
  const stateDir = host.env.NIX_STATE_DIR ?? "/nix/var/nix";
  const socket = host.env.NIX_DAEMON_SOCKET_PATH ?? join(stateDir, "daemon-socket", "socket");
  return {
    nixRemote: host.env.NIX_REMOTE,
    stateDirWritable: await access(stateDir, constants.W_OK).then(
      () => true,
      () => false,
    ),
    daemonSocket: await stat(socket).then(
      (info) => info.isSocket(),
      () => false,
    ),
  };
}
