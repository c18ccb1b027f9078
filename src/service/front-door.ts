import { connect, createServer, type Server, type Socket } from "node:net";
import type { Endpoint } from "../vm/backend.js";
import type { ConnectionHandle, Lease } from "./supervisor.js";

/** What the front door asks of the supervisor. */
export interface ConnectionAccounting {
  open(connection: ConnectionHandle): Lease;
}

/**
 * The front door: a TCP server whose connections wait (paused, nothing read) until the VM is ready,
 * then are carried to its endpoint both ways, byte for byte. Half-closes pass through (ssh ends its
 * sending side and still reads), and Nagle is off on both legs, as ssh itself asks of its sockets.
 * A unix endpoint (a vsock proxy) is reached the same way as a TCP one.
 */
export function frontDoor(supervisor: ConnectionAccounting, log: (line: string) => void): Server {
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true }, (client) => {
    let upstream: Socket | undefined;
    const lease = supervisor.open({
      close: () => {
        client.destroy();
        upstream?.destroy();
      },
    });
    client.on("error", () => upstream?.destroy());
    client.on("close", () => {
      upstream?.destroy();
      lease.done();
    });
    lease.target.then(
      (target) => {
        if (client.destroyed) return;
        upstream = carry(client, target);
      },
      () => client.destroy(),
    );
  });
  // An accept that fails while listening (EMFILE: out of file descriptors) must not end serve: it
  // is logged, and the server goes on. (Errors of the listen itself are its caller's.)
  server.on("error", (error) => {
    if (server.listening) log(`the front door: ${error.message} (still serving)`);
  });
  return server;
}

function carry(client: Socket, target: Endpoint): Socket {
  const upstream = connect({
    ...(target.kind === "tcp" ? { host: target.host, port: target.port } : { path: target.path }),
    allowHalfOpen: true,
    noDelay: true,
  });
  upstream.on("connect", () => {
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on("error", () => client.destroy());
  upstream.on("close", () => client.destroy());
  return upstream;
}
