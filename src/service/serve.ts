import { mkdir, rm } from "node:fs/promises";
import type { Server } from "node:net";
import { LinuxBuilderError } from "../errors.js";
import type { StateLayout } from "../vm/state.js";
import { claimService } from "./claim.js";
import type { ControlRequest, ControlResponse, ServiceStatus } from "./control-protocol.js";
import { controlServer, listenOnSocket } from "./control-server.js";
import { frontDoor } from "./front-door.js";
import { idleText } from "./idle-text.js";
import type { LifecycleControl } from "./lifecycle-control.js";
import { Supervisor, type Timers } from "./supervisor.js";

export interface ServeOptions {
  readonly layout: StateLayout;
  /** The front door: 127.0.0.1:port. */
  readonly port: number;
  readonly idleMinutes: number;
  readonly control: LifecycleControl;
  readonly log: (line: string) => void;
  readonly timers?: Timers;
  /** How often a port held by a builder started without the service is tried again. */
  readonly portRetryMs?: number;
}

/** A running service. */
export interface RunningService {
  status(): ServiceStatus;
  /** Stops accepting, closes connections, powers the VM off cleanly, removes the control socket. */
  close(): Promise<void>;
}

/** How long serve's power-off on a signal may take before it escalates (as `stop`'s default). */
const SHUTDOWN_STOP_MS = 60_000;

/**
 * `linux-builder serve`: the control socket first (one serve per state folder), then the front door
 * on 127.0.0.1:port. A VM already running is adopted; while a builder started without the service
 * holds the port, the front door tries it again every 2 s (the control socket answers meanwhile,
 * with listening false, and its `stop` frees the port).
 */
export async function startService(options: ServeOptions): Promise<RunningService> {
  const { layout, port, log } = options;
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  const release = await claimService(layout);
  const adopted = await options.control.adopt().catch(async (error: unknown) => {
    await release();
    throw error;
  });
  const supervisor = new Supervisor({
    control: options.control,
    idleMinutes: options.idleMinutes,
    log,
    ...(options.timers ? { timers: options.timers } : {}),
    ...(adopted ? { adopted } : {}),
  });
  const startedAt = new Date().toISOString();
  let listening = false;
  const status = (): ServiceStatus => ({
    pid: process.pid,
    port,
    listening,
    startedAt,
    ...supervisor.status(),
  });
  const handle = async (request: ControlRequest): Promise<ControlResponse> => {
    switch (request.op) {
      case "status":
        return { op: "status", status: status() };
      case "start": {
        const started = await supervisor.start(request.timeoutMs);
        return { op: "start", status: status(), ...started };
      }
      case "stop": {
        const stopped = await supervisor.stop(request.timeoutMs);
        return { op: "stop", status: status(), ...stopped };
      }
    }
  };
  const control = controlServer(handle);
  await listenOnSocket(control, layout.serviceSocket);
  // As the front door's: a failed accept is logged, and serve goes on.
  control.on("error", (error) => log(`the control socket: ${error.message} (still serving)`));
  const door = frontDoor(supervisor, log);
  let retry: NodeJS.Timeout | undefined;
  let closing = false;
  let toldTaken = false;
  const listen = async (): Promise<void> => {
    if (closing) return;
    try {
      await listenTcp(door, port);
      listening = true;
      log(
        `listening on 127.0.0.1:${port}; the builder boots on the first connection (idle power-off: ${idleText(options.idleMinutes)})`,
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw frontDoorError(port, error);
      if (!toldTaken) {
        log(`127.0.0.1:${port} is taken (a builder started without the service?): trying again every 2 s`);
        toldTaken = true;
      }
      retry = setTimeout(
        () => void listen().catch((failure) => log(String(failure))),
        options.portRetryMs ?? 2_000,
      );
    }
  };
  try {
    await listen();
  } catch (error) {
    await closeServer(control);
    await rm(layout.serviceSocket, { force: true });
    await release();
    throw error;
  }
  return {
    status,
    async close() {
      closing = true;
      clearTimeout(retry);
      const doorClosed = closeServer(door);
      const stopped = await supervisor.shutdown(SHUTDOWN_STOP_MS).catch((error: unknown) => {
        log(`the builder's power-off failed: ${(error as Error).message}`);
        return undefined;
      });
      await doorClosed;
      await closeServer(control);
      await rm(layout.serviceSocket, { force: true });
      await release();
      log(`the service stopped${stopped ? ` (the builder: ${stopped.outcome})` : ""}`);
    },
  };
}

function listenTcp(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

function frontDoorError(port: number, error: unknown): LinuxBuilderError {
  const code = (error as NodeJS.ErrnoException).code;
  return new LinuxBuilderError(
    "service.failed",
    `The service cannot listen on 127.0.0.1:${port}: ${code ?? (error as Error).message}`,
    {
      hint: "Ports below 1024 need privileges: pick a port above 1023 (--port, or port in the config file).",
    },
  );
}
