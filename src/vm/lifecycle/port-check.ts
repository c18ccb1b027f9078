import { createServer } from "node:net";
import { LinuxBuilderError } from "../../errors.js";

export function portTakenError(port: number): LinuxBuilderError {
  return new LinuxBuilderError(
    "vm.port-taken",
    `Cannot start the builder: port ${port} on 127.0.0.1 is taken`,
    {
      hint: 'Set another port (--port or "port" in the config file); `linux-builder doctor` names the process that holds it.',
    },
  );
}

/** QEMU would fail on a taken port too, but only after the accelerator probe and with a terse message. */
/** Binds where the backend's forward will (its endpoint's listenAddress), so a taken port is named before booting. */
export async function assertPortFree(port: number, host: string): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host, exclusive: true }, resolve);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw portTakenError(port);
    if (code === "EACCES") {
      throw new LinuxBuilderError(
        "vm.port-privileged",
        `Cannot listen on ${host}:${port}: permission denied`,
        {
          hint: "Ports below 1024 need privileges: pick a port above 1023 (--port).",
        },
      );
    }
    throw error;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
