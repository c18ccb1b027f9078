import { createConnection, type Socket } from "node:net";
import { LinuxBuilderError } from "../../errors.js";

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * A QMP client over QEMU's unix socket: the greeting, `qmp_capabilities`, then commands matched to
 * replies by id. Pending commands are rejected when the connection closes; events go to `onEvent`.
 */
export class QmpClient {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private buffer = "";
  private closedError: Error | undefined;
  onEvent: (event: { event: string; data?: unknown }) => void = () => {};

  private constructor(private readonly socket: Socket) {
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.receive(chunk));
    socket.on("close", () => this.fail(new Error("the QMP connection closed")));
    socket.on("error", (error) => this.fail(error));
  }

  static async connect(path: string, timeoutMs = 5000): Promise<QmpClient> {
    const socket = createConnection(path);
    const client = new QmpClient(socket);
    const greeting = new Promise<void>((resolve, reject) => {
      client.pending.set("greeting", { resolve: () => resolve(), reject });
    });
    const timer = setTimeout(
      () => socket.destroy(new Error(`no QMP greeting within ${timeoutMs} ms`)),
      timeoutMs,
    );
    try {
      await greeting;
      await client.execute("qmp_capabilities");
    } catch (error) {
      socket.destroy();
      throw new LinuxBuilderError(
        "qmp.connect",
        `Cannot talk to QEMU over ${path}: ${(error as Error).message}`,
      );
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(
        `${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`,
      );
    });
  }

  /** Resolves when QEMU closes the socket (it exits, or the guest powered off). */
  closed(): Promise<void> {
    if (this.closedError || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once("close", () => resolve()));
  }

  close(): void {
    this.socket.end();
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let newline = this.buffer.indexOf("\n"); newline !== -1; newline = this.buffer.indexOf("\n")) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line === "") continue;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ("QMP" in message) {
        this.settle("greeting", undefined);
      } else if ("event" in message) {
        this.onEvent(message as { event: string; data?: unknown });
      } else if (typeof message.id === "string") {
        if ("error" in message) {
          const error = message.error as { class?: string; desc?: string };
          this.settle(
            message.id,
            undefined,
            new Error(`${error.class ?? "Error"}: ${error.desc ?? "unknown"}`),
          );
        } else {
          this.settle(message.id, message.return);
        }
      }
    }
  }

  private settle(id: string, value: unknown, error?: Error): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (error) pending.reject(error);
    else pending.resolve(value);
  }

  private fail(error: Error): void {
    this.closedError ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
