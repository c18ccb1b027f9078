import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LinuxBuilderError } from "../../../src/errors.js";
import { askService } from "../../../src/service/control-client.js";
import type {
  ControlRequest,
  ControlResponse,
  ServiceStatus,
} from "../../../src/service/control-protocol.js";
import { controlServer, listenOnSocket } from "../../../src/service/control-server.js";

const STATUS: ServiceStatus = {
  pid: 1234,
  port: 31022,
  listening: true,
  startedAt: "2026-11-29T22:00:00.000Z",
  idleMinutes: 10,
  vm: { state: "up", pid: 99, forwardPort: 40_000, since: "2026-11-29T22:01:00.000Z" },
  connections: 1,
  waiting: 0,
  guestBuilds: null,
  idlePowerOffInSeconds: null,
  totals: { connections: 3, boots: 1 },
  lastError: null,
};

async function withServer(
  handle: (request: ControlRequest) => Promise<ControlResponse>,
  run: (path: string) => Promise<void>,
) {
  const dir = await mkdtemp(join(tmpdir(), "lb-control-"));
  const path = join(dir, "serve.sock");
  const server = controlServer(handle);
  await listenOnSocket(server, path);
  try {
    await run(path);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the control server", () => {
  test("answers the client's requests, as the protocol says, on a socket only its user may use", async () => {
    const asked: ControlRequest[] = [];
    await withServer(
      async (request) => {
        asked.push(request);
        switch (request.op) {
          case "status":
            return { op: "status", status: STATUS };
          case "start":
            return { op: "start", status: STATUS, booted: true, ready: true, waitedSeconds: 3.5 };
          case "stop":
            return { op: "stop", status: STATUS, outcome: "powered-off", seconds: 2 };
        }
      },
      async (path) => {
        assert.equal((await stat(path)).mode & 0o777, 0o600);
        assert.deepEqual((await askService(path, { op: "status" }, 5_000))?.status, STATUS);
        const started = await askService(path, { op: "start", timeoutMs: 1_000 }, 5_000);
        assert.equal(started?.waitedSeconds, 3.5);
        const stopped = await askService(path, { op: "stop", timeoutMs: 1_000 }, 5_000);
        assert.equal(stopped?.outcome, "powered-off");
        assert.deepEqual(asked, [
          { op: "status" },
          { op: "start", timeoutMs: 1_000 },
          { op: "stop", timeoutMs: 1_000 },
        ]);
      },
    );
  });

  test("start and stop with timeout 0 (`--timeout 0`) are requests like any", async () => {
    const asked: unknown[] = [];
    await withServer(
      async (request) => {
        asked.push(request);
        return request.op === "stop"
          ? { op: "stop", status: STATUS, outcome: "killed", seconds: 0 }
          : { op: "start", status: STATUS, booted: true, ready: false, waitedSeconds: 0 };
      },
      async (path) => {
        assert.equal((await askService(path, { op: "start", timeoutMs: 0 }, 5_000))?.ready, false);
        assert.equal((await askService(path, { op: "stop", timeoutMs: 0 }, 5_000))?.outcome, "killed");
        assert.deepEqual(asked, [
          { op: "start", timeoutMs: 0 },
          { op: "stop", timeoutMs: 0 },
        ]);
      },
    );
  });

  test("a handler's LinuxBuilderError reaches the client as that error, code and hint", async () => {
    await withServer(
      async () => {
        throw new LinuxBuilderError("vm.qemu-failed", "Cannot start the builder", { hint: "Install QEMU." });
      },
      async (path) => {
        await assert.rejects(askService(path, { op: "start", timeoutMs: 1_000 }, 5_000), (error) => {
          assert.ok(error instanceof LinuxBuilderError);
          assert.equal(error.code, "vm.qemu-failed");
          assert.equal(error.hint, "Install QEMU.");
          return true;
        });
      },
    );
  });

  test("a request outside the protocol is answered service.protocol", async () => {
    await withServer(
      async () => ({ op: "status", status: STATUS }),
      async (path) => {
        const line = await new Promise<string>((resolve) => {
          const socket = connect(path);
          let received = "";
          socket.setEncoding("utf8");
          socket.on("data", (chunk: string) => (received += chunk));
          socket.on("end", () => resolve(received));
          socket.write('{"op":"reboot"}\n');
        });
        assert.equal(JSON.parse(line).error.code, "service.protocol");
      },
    );
  });
});
