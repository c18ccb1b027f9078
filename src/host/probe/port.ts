/** Whether the builder's port is free, as QEMU will bind it, and who listens on it if not. */
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";
import type { Listener, PortProbe } from "../doctor/port.js";
import { parseLsofListeners } from "../doctor/port.js";
import type { ExecError } from "../tool.js";

const execFileAsync = promisify(execFile);

/** Binds address:port as QEMU will, and lets go at once. */
export async function probePort(address: string, port: number): Promise<PortProbe> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: address, exclusive: true }, resolve);
    });
    return "free";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") return "in-use";
    if (code === "EACCES") return "denied";
    return { error: (error as Error).message };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Who listens on the port, per lsof (macOS and Linux alike); undefined when lsof cannot say. */
export async function portListeners(port: number): Promise<Listener[] | undefined> {
  try {
    const { stdout } = await execFileAsync("lsof", ["-nP", `-iTCP:${port}`, "-sTCP:LISTEN", "-FpcLn"], {
      timeout: 30_000,
    });
    return parseLsofListeners(stdout);
  } catch (error) {
    const e = error as ExecError;
    // lsof exits 1 when nothing matches.
    if (e.code === 1 && (e.stdout ?? "").trim() === "") return [];
    if (e.code === 1 && (e.stdout ?? "").trim() !== "") return parseLsofListeners(e.stdout ?? "");
    return undefined;
  }
}
