/**
 * Running one of the host's tools (sw_vers, lsof, nix, ssh, dscl, systemctl…) for the facts it
 * prints. Nothing here decides and nothing throws for a missing tool: callers get what it printed,
 * or that it is not installed, or how it failed in a line.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** A command's result as the checks see it: what it printed, or that it is not installed, or how it failed. */
export type ToolResult =
  | { readonly kind: "ran"; readonly stdout: string }
  | { readonly kind: "missing" }
  | { readonly kind: "failed"; readonly message: string };

/** How a host tool is run: the real one below, or a fake that records the exact argv in tests. */
export type RunTool = (
  command: string,
  args: readonly string[],
  options?: { timeoutMs?: number; env?: NodeJS.ProcessEnv },
) => Promise<ToolResult>;

export interface ExecError extends Error {
  code?: string | number;
  stdout?: string;
  stderr?: string;
  killed?: boolean;
}

/** The first lines of what a failed command said, for a one-line verdict. */
function failureMessage(error: ExecError, timeoutMs: number): string {
  if (error.killed) return `no answer within ${timeoutMs / 1000} s`;
  const said = (error.stderr ?? "").trim() || (error.stdout ?? "").trim();
  const lines = said.split("\n").filter((line) => line.trim() !== "");
  return lines.length > 0 ? lines.slice(-3).join(" / ") : error.message;
}

/** Runs a tool: what it printed, or that it is not installed, or how it failed. */
export const runTool: RunTool = async (command, args, options = {}) => {
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    const { stdout } = await execFileAsync(command, [...args], {
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      ...(options.env ? { env: options.env } : {}),
    });
    return { kind: "ran", stdout };
  } catch (error) {
    const e = error as ExecError;
    if (e.code === "ENOENT") return { kind: "missing" };
    return { kind: "failed", message: failureMessage(e, timeoutMs) };
  }
};
