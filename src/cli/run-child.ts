import { type SpawnOptions, spawn } from "node:child_process";

/** Runs a program with the given stdio and resolves with its exit status (1 when a signal ended it). */
export function runChild(command: string, args: readonly string[], options: SpawnOptions): Promise<number> {
  const child = spawn(command, args, options);
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}
