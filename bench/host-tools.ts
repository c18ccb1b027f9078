/**
 * The baseline's host tools (mmdebstrap, mke2fs): found, installed with apt when we are root on
 * Debian, or else a sentence saying how to get them.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { log, runCommand, tail } from "./support.js";

/** Each tool the baseline needs, and the Debian package that has it. */
const TOOLS: Readonly<Record<string, string>> = {
  mmdebstrap: "mmdebstrap",
  mke2fs: "e2fsprogs",
  // mmdebstrap verifies the mirror's Release with these keys (only a Recommends of mmdebstrap).
  "/usr/share/keyrings/debian-archive-keyring.gpg": "debian-archive-keyring",
};

function present(tool: string): boolean {
  if (tool.startsWith("/")) return existsSync(tool);
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}

/** undefined when everything is there (installing what is missing if it can); else why not. */
export async function ensureBaselineTools(): Promise<string | undefined> {
  const missing = Object.entries(TOOLS).filter(([tool]) => !present(tool));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map(([, pkg]) => pkg))];
  const how = `apt-get install --no-install-recommends ${packages.join(" ")}`;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync("/etc/debian_version")) {
    return `needs ${missing.map(([tool]) => tool).join(", ")}: on Debian, \`sudo ${how}\``;
  }
  log(`installing the baseline's tools: ${how}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const args = ["install", "-y", "-q", "--no-install-recommends", ...packages];
  let result = await runCommand("apt-get", args, { env });
  if (result.code !== 0) {
    // A fresh machine may have no package lists yet.
    await runCommand("apt-get", ["update", "-q"], { env });
    result = await runCommand("apt-get", args, { env });
  }
  if (result.code !== 0) return `\`${how}\` failed: ${tail(result.stderr, 3)}`;
  const still = missing.filter(([tool]) => !present(tool));
  return still.length === 0 ? undefined : `still missing after apt-get: ${still.map(([t]) => t).join(", ")}`;
}
