/**
 * `linux-builder serve` for a slow test's installed builder (test/support/installed-builder.ts),
 * run as a child process with the builder's state folder, port, TCG and size:
 *
 *   - `startServe(builder, ...args)`: spawns it and resolves once it says it listens.
 *   - `serve.status()`: its control socket's status (undefined: no service answers).
 *   - `serve.log()`: serve.log so far; `serve.output()`: what it printed.
 *   - `serve.stop(signal)`: sends the signal, resolves with its exit status once it ended.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { serviceStatus } from "../../src/service/control-client.js";
import type { ServiceStatus } from "../../src/service/control-protocol.js";
import type { InstalledBuilder } from "./installed-builder.js";

export interface ServeProcess {
  readonly child: ChildProcess;
  output(): string;
  log(): Promise<string>;
  status(): Promise<ServiceStatus | undefined>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServe(
  builder: Pick<InstalledBuilder, "stateDir" | "port" | "env">,
  size: { readonly cpus: number; readonly memoryMiB: number; readonly diskGiB: number },
  ...args: string[]
): Promise<ServeProcess> {
  const child = spawn(
    "node",
    [
      "bin/linux-builder.js",
      "serve",
      ...["--state-dir", builder.stateDir, "--port", String(builder.port), "--accel", "tcg"],
      ...["--cpus", String(size.cpus), "--memory", String(size.memoryMiB), "--disk", String(size.diskGiB)],
      ...args,
    ],
    { env: builder.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const look = setInterval(() => {
      if (/Listening on 127\.0\.0\.1:/.test(output)) {
        clearInterval(look);
        resolve();
      }
    }, 50);
    void exited.then((code) => {
      clearInterval(look);
      reject(new Error(`serve exited (${code}) before it listened:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    log: () => readFile(join(builder.stateDir, "serve.log"), "utf8").catch(() => ""),
    status: () => serviceStatus(join(builder.stateDir, "serve.sock")),
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
