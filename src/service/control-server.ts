import { chmod } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { LinuxBuilderError } from "../errors.js";
import { parseJsonAs } from "../json.js";
import { type ControlRequest, type ControlResponse, controlRequestSchema } from "./control-protocol.js";

/** The longest request line taken: a request is a few dozen bytes. */
const MAX_REQUEST_BYTES = 4096;

/**
 * The control socket's server: one JSON request line per connection, one JSON response line back
 * (control-protocol.ts). A handler's LinuxBuilderError is answered as an `error` response, with its
 * code, message and hint; anything else it throws as service.failed.
 */
export function controlServer(handle: (request: ControlRequest) => Promise<ControlResponse>): Server {
  return createServer((socket) => {
    let received = "";
    socket.setEncoding("utf8");
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\n");
      if (end < 0 && received.length <= MAX_REQUEST_BYTES) return;
      socket.removeAllListeners("data");
      const request = end < 0 ? undefined : parseJsonAs(controlRequestSchema, received.slice(0, end));
      const answer =
        request === undefined
          ? Promise.resolve(
              errorResponse(
                new LinuxBuilderError("service.protocol", "The service got a request it does not understand"),
              ),
            )
          : handle(request).catch(errorResponse);
      void answer.then((response) => socket.end(`${JSON.stringify(response)}\n`));
    });
  });
}

export function errorResponse(error: unknown): ControlResponse {
  if (error instanceof LinuxBuilderError) {
    return {
      op: "error",
      error: { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) },
    };
  }
  return {
    op: "error",
    error: { code: "service.failed", message: String((error as Error)?.message ?? error) },
  };
}

/** Listens on `path`, readable and writable by this user alone (the state folder is 0700 too). */
export async function listenOnSocket(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
}
