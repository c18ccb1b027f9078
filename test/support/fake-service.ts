import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import {
  type ControlRequest,
  type ControlResponse,
  controlRequestSchema,
  type ServiceStatus,
} from "../../src/service/control-protocol.js";

/**
 * A stand-in for `linux-builder serve` on its control socket: a real unix socket that reads one
 * request line and answers per control-protocol.ts with what `answer` returns. It records the
 * requests, so a test sees what the CLI asked.
 */
export interface FakeService {
  readonly requests: ControlRequest[];
  close(): Promise<void>;
}

export async function fakeService(
  socketPath: string,
  answer: (request: ControlRequest) => ControlResponse,
): Promise<FakeService> {
  const requests: ControlRequest[] = [];
  const server: Server = createServer((socket) => {
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\n");
      if (end < 0) return;
      const request = controlRequestSchema.parse(JSON.parse(received.slice(0, end)));
      requests.push(request);
      socket.end(`${JSON.stringify(answer(request))}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  return {
    requests,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}

/** A service's status with the VM off, nothing connected; `overrides` shape the case under test. */
export function serviceStatusOf(overrides: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    pid: 4242,
    port: 31099,
    listening: true,
    startedAt: "2026-11-29T10:00:00.000Z",
    idleMinutes: 10,
    vm: { state: "off", pid: null, forwardPort: null, since: "2026-11-29T10:00:00.000Z" },
    connections: 0,
    waiting: 0,
    guestBuilds: null,
    idlePowerOffInSeconds: null,
    totals: { connections: 0, boots: 0 },
    lastError: null,
    ...overrides,
  };
}
