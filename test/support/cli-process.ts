import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bin/linux-builder.js as a user would, everything under `home` (LINUX_BUILDER_HOME); never throws on a failing status. */
export async function runCli(home: string, ...args: string[]): Promise<CliResult> {
  const env = { ...process.env, LINUX_BUILDER_HOME: home };
  try {
    const { stdout, stderr } = await run("node", ["bin/linux-builder.js", ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
