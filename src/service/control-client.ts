import { createConnection } from "node:net";
import { isErrorCode, LinuxBuilderError } from "../errors.js";
import { parseJsonAs } from "../json.js";
import { type ControlRequest, type ControlResponse, controlResponseSchema } from "./control-protocol.js";

/** The answer to one request, narrowed to its op. */
export type ControlAnswer<Op extends ControlRequest["op"]> = Extract<ControlResponse, { op: Op }>;

/**
 * Asks the service listening on `socketPath` (the state folder's serve.sock). Undefined when no
 * service listens there (no socket, or one a dead serve left): the caller then works directly.
 * A service that answers with an error throws it as the LinuxBuilderError it was; one that does not
 * answer within `timeoutMs`, or answers outside the protocol, throws too.
 */
export async function askService<R extends ControlRequest>(
  socketPath: string,
  request: R,
  timeoutMs = answerWithin(request),
): Promise<ControlAnswer<R["op"]> | undefined> {
  const line = await exchange(socketPath, `${JSON.stringify(request)}\n`, timeoutMs);
  if (line === undefined) return undefined;
  const response = parseJsonAs(controlResponseSchema, line);
  if (response === undefined) {
    throw new LinuxBuilderError(
      "service.protocol",
      `The service at ${socketPath} answered something this linux-builder does not understand`,
      { hint: "Is it another version? Restart the service (or `linux-builder serve`) with this one." },
    );
  }
  if (response.op === "error") {
    const { code, message, hint } = response.error;
    throw new LinuxBuilderError(
      isErrorCode(code) ? code : "service.failed",
      message,
      hint === undefined ? {} : { hint },
    );
  }
  if (response.op !== request.op) {
    throw new LinuxBuilderError("service.protocol", `The service answered ${response.op} to ${request.op}`);
  }
  return response as ControlAnswer<R["op"]>;
}

/**
 * How long a request may go unanswered: a status at once; a start or a stop its own time, and then
 * the stop's escalation (quit, signals) or the boot's last check.
 */
export function answerWithin(request: ControlRequest): number {
  return request.op === "status" ? 5_000 : request.timeoutMs + 30_000;
}

/** Whether a service answers on `socketPath` (its status), quickly. */
export async function serviceStatus(socketPath: string, timeoutMs = 5_000) {
  return (await askService(socketPath, { op: "status" }, timeoutMs))?.status;
}

/** Sends `text`, returns the first line back; undefined when nothing listens at the socket. */
function exchange(socketPath: string, text: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let received = "";
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new LinuxBuilderError(
          "service.unresponsive",
          `The service at ${socketPath} did not answer within ${Math.round(timeoutMs / 1000)} s`,
          { hint: "`linux-builder logs` shows the service's log; restarting the service may help." },
        ),
      );
    }, timeoutMs);
    const done = (value: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      connected = true;
      socket.write(text);
    });
    socket.on("data", (chunk: string) => {
      received += chunk;
      const end = received.indexOf("\n");
      if (end >= 0) done(received.slice(0, end));
    });
    socket.on("end", () => done(received === "" ? undefined : received));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // No socket, or a socket file no process listens on: there is no service.
      if (!connected && (error.code === "ENOENT" || error.code === "ECONNREFUSED")) return done(undefined);
      clearTimeout(timer);
      socket.destroy();
      reject(
        new LinuxBuilderError(
          "service.unresponsive",
          `Cannot reach the service at ${socketPath}: ${error.message}`,
          {
            hint: "`linux-builder logs` shows the service's log.",
          },
        ),
      );
    });
  });
}
