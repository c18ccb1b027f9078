import { createConnection, type Socket } from "node:net";
import { LinuxBuilderError } from "../errors.js";

/** Telnet's escape: rarely typed, and not one of the keys a shell or QEMU's monitor uses. */
export const DEFAULT_ESCAPE = "^]";

/**
 * The detach key from how a user writes it: `^]`, `ctrl-]` or `Ctrl+A` (any control character that a
 * key with Ctrl makes: @, A to Z, [, \, ], ^, _).
 */
export function parseEscapeKey(text: string): number {
  const match = /^(?:\^|ctrl[-+])(.)$/i.exec(text.trim());
  const key = match?.[1]?.toUpperCase();
  const code = key?.charCodeAt(0);
  if (code === undefined || code < 0x40 || code > 0x5f) {
    throw new LinuxBuilderError(
      "usage.escape",
      `--escape must be a control key such as ^] or ctrl-a, not "${text}"`,
    );
  }
  return code & 0x1f;
}

/** How the detach key is shown to the user: `Ctrl-]`. */
export function escapeKeyName(byte: number): string {
  return `Ctrl-${String.fromCharCode(byte | 0x40)}`;
}

/**
 * Splits what the user typed at the escape key: the bytes before it go to the guest, the escape and
 * anything after it are dropped, since the user asked to leave.
 */
export function splitAtEscape(chunk: Buffer, escapeByte: number): { forward: Buffer; detach: boolean } {
  const at = chunk.indexOf(escapeByte);
  return at === -1 ? { forward: chunk, detach: false } : { forward: chunk.subarray(0, at), detach: true };
}

export type ConsoleEnd = "detached" | "closed";

export interface AttachOptions {
  readonly socketPath: string;
  readonly escape: number;
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WriteStream;
  /** Called once connected, before the terminal goes raw: the place to tell the user the escape key. */
  readonly onConnected?: () => void;
}

async function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/**
 * Joins the terminal to QEMU's console socket both ways until the user types the escape key
 * ("detached": the VM keeps running) or QEMU closes the socket ("closed": the VM stopped). A
 * terminal goes to raw mode, so keys (Ctrl-c too) reach the guest as typed; it is restored on the
 * way out, also on SIGTERM or SIGHUP.
 */
export async function attachConsole(options: AttachOptions): Promise<ConsoleEnd> {
  const { input, output } = options;
  const socket = await connect(options.socketPath).catch((error: NodeJS.ErrnoException) => {
    throw new LinuxBuilderError(
      "vm.console",
      `Cannot attach to the builder's console ${options.socketPath}: ${error.code ?? error.message}`,
      { hint: "Is the builder running? `linux-builder status` says." },
    );
  });
  options.onConnected?.();
  const raw = input.isTTY === true;
  if (raw) input.setRawMode(true);
  let finish: (end: ConsoleEnd) => void = () => {};
  const ended = new Promise<ConsoleEnd>((resolve) => {
    finish = resolve;
  });
  const onInput = (chunk: Buffer) => {
    const { forward, detach } = splitAtEscape(chunk, options.escape);
    if (forward.length > 0) socket.write(forward);
    if (detach) finish("detached");
  };
  // Input that ends (a pipe, not a terminal) leaves the console as the escape key would.
  const onInputEnd = () => finish("detached");
  const onSignal = () => finish("detached");
  socket.on("data", (chunk: Buffer) => output.write(chunk));
  socket.once("close", () => finish("closed"));
  socket.on("error", () => finish("closed"));
  input.on("data", onInput);
  input.once("end", onInputEnd);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  input.resume();
  try {
    return await ended;
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onSignal);
    input.off("data", onInput);
    input.off("end", onInputEnd);
    if (raw) input.setRawMode(false);
    // Paused, stdin no longer keeps the process alive.
    input.pause();
    socket.destroy();
  }
}
