/** ssh as doctor asks it: what it makes of the alias, and the running builder's kernel. */

import { sshArgs } from "../../ssh/builder-ssh.js";
import type { StateLayout } from "../../vm/state.js";
import { type Host, isRoot } from "../host.js";
import { runTool, type ToolResult } from "../tool.js";

/**
 * What ssh makes of the alias (`ssh -G`): as root, root's view; otherwise the system ssh_config's
 * (`-F`, leaving out the user's own ~/.ssh/config, which the daemon's ssh never reads).
 */
export async function sshEffectiveConfig(
  host: Pick<Host, "uid">,
  alias: string,
  systemConfig: string,
): Promise<ToolResult> {
  return runTool("ssh", [...(isRoot(host) ? [] : ["-F", systemConfig]), "-G", alias]);
}

/** The running builder's kernel release, asked over ssh. */
export async function guestKernel(layout: StateLayout, port: number): Promise<ToolResult> {
  return runTool("ssh", [...sshArgs(layout, port), "cat", "/proc/sys/kernel/osrelease"]);
}
