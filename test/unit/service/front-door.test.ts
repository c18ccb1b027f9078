import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { frontDoor } from "../../../src/service/front-door.js";
import type { ConnectionHandle, Lease } from "../../../src/service/supervisor.js";
import type { Endpoint } from "../../../src/vm/backend.js";

/**
 * The "guest": echoes what it reads in upper case, and once its client half-closes, says "bye" and
 * ends too (as sshd answers after ssh has sent all it will).
 */
function guest(): Server {
  return createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("data", (chunk) => socket.write(chunk.toString().toUpperCase()));
    socket.on("end", () => socket.end("bye"));
  });
}

function listen(server: Server, where: number | string): Promise<void> {
  return new Promise((resolve) => {
    if (typeof where === "string") server.listen(where, resolve);
    else server.listen(where, "127.0.0.1", resolve);
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;

/** A supervisor stand-in: carries every connection to `target` once `release` is called. */
function gate(target: Endpoint) {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  const state = { open: 0, done: 0, handles: [] as ConnectionHandle[] };
  return {
    state,
    release,
    open(handle: ConnectionHandle): Lease {
      state.open += 1;
      state.handles.push(handle);
      return { target: opened.then(() => target), done: () => (state.done += 1) };
    },
  };
}

/** Writes `text`, half-closes, and reads until the other side ends. */
function exchange(socket: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
    socket.end(text);
  });
}

async function through(
  target: Endpoint,
  run: (door: number, supervisor: ReturnType<typeof gate>) => Promise<void>,
) {
  const supervisor = gate(target);
  const door = frontDoor(supervisor, () => {});
  await listen(door, 0);
  try {
    await run(portOf(door), supervisor);
  } finally {
    await new Promise((resolve) => door.close(resolve));
  }
}

describe("the front door", () => {
  test("carries bytes both ways to a TCP endpoint, the client's half-close included; counts the connection", async () => {
    const echo = guest();
    await listen(echo, 0);
    try {
      await through(
        { kind: "tcp", host: "127.0.0.1", port: portOf(echo), listenAddress: "127.0.0.1" },
        async (port, supervisor) => {
          const client = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
          const answer = exchange(client, "hello nix");
          // Bytes sent before the VM is ready wait for it.
          await new Promise((resolve) => setTimeout(resolve, 50));
          assert.equal(supervisor.state.open, 1);
          supervisor.release();
          assert.equal(await answer, "HELLO NIXbye");
          await new Promise((resolve) => client.on("close", resolve));
          await new Promise((resolve) => setTimeout(resolve, 20));
          assert.equal(supervisor.state.done, 1);
        },
      );
    } finally {
      await new Promise((resolve) => echo.close(resolve));
    }
  });

  test("a unix-socket endpoint is reached the same way", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-front-door-"));
    const echo = guest();
    const path = join(dir, "guest.sock");
    await listen(echo, path);
    try {
      await through({ kind: "unix", path }, async (port, supervisor) => {
        supervisor.release();
        const big = "x".repeat(1 << 20);
        const answer = await exchange(connect({ port, host: "127.0.0.1", allowHalfOpen: true }), big);
        assert.equal(answer, `${big.toUpperCase()}bye`);
      });
    } finally {
      await new Promise((resolve) => echo.close(resolve));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a connection the supervisor closes (a stop) ends, and is counted done", async () => {
    await through({ kind: "unix", path: "/nonexistent/guest.sock" }, async (port, supervisor) => {
      const client = connect({ port, host: "127.0.0.1" });
      client.on("error", () => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      supervisor.state.handles[0]?.close();
      await new Promise((resolve) => client.on("close", resolve));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(supervisor.state.done, 1);
    });
  });

  test("an endpoint that refuses: the client's connection is closed", async () => {
    await through({ kind: "unix", path: "/nonexistent/guest.sock" }, async (port, supervisor) => {
      supervisor.release();
      const client = connect({ port, host: "127.0.0.1" });
      client.on("error", () => {});
      await new Promise((resolve) => client.on("close", resolve));
    });
  });

  test("an accept error while listening (EMFILE) is logged, and the door goes on serving", async () => {
    const echo = guest();
    await listen(echo, 0);
    const log: string[] = [];
    const supervisor = gate({
      kind: "tcp",
      host: "127.0.0.1",
      port: portOf(echo),
      listenAddress: "127.0.0.1",
    });
    supervisor.release();
    const door = frontDoor(supervisor, (line) => log.push(line));
    await listen(door, 0);
    try {
      door.emit("error", Object.assign(new Error("accept EMFILE"), { code: "EMFILE" }));
      assert.deepEqual(log, ["the front door: accept EMFILE (still serving)"]);
      const answer = await exchange(
        connect({ port: portOf(door), host: "127.0.0.1", allowHalfOpen: true }),
        "still",
      );
      assert.equal(answer, "STILLbye");
    } finally {
      await new Promise((resolve) => door.close(resolve));
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});
