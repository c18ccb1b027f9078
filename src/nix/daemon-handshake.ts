import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { Readable, Writable } from "node:stream";

/**
 * Whether a Nix store answers: the worker protocol's opening, our magic and the daemon's magic with
 * its protocol version. It proves what Nix needs, without starting the nix CLI in the guest, which
 * under TCG took longer than the handshake itself. Two ways in: a command that speaks the protocol on
 * stdio (ssh … nix-daemon --stdio, what Nix's own ssh-ng:// store runs), or a unix socket (the
 * daemon's, or an ssh forward of it).
 */
const WORKER_MAGIC_1 = 0x6e697863n; // "cxin": the client's hello
const WORKER_MAGIC_2 = 0x6478696fn; // "oixd": the daemon's answer

export interface DaemonHello {
  /** The daemon's protocol version, major.minor. */
  readonly protocol: string;
}

/** Parses the daemon's first 16 bytes; undefined if they are not its answer. */
export function parseDaemonHello(bytes: Buffer): DaemonHello | undefined {
  if (bytes.length < 16 || bytes.readBigUInt64LE(0) !== WORKER_MAGIC_2) return undefined;
  const version = Number(bytes.readBigUInt64LE(8));
  return { protocol: `${version >> 8}.${version & 0xff}` };
}

export function clientHello(): Buffer {
  const hello = Buffer.alloc(8);
  hello.writeBigUInt64LE(WORKER_MAGIC_1);
  return hello;
}

/** One handshake over a connection: `end` closes it, and is called exactly once. */
interface Connection {
  readonly input: Writable;
  readonly output: Readable;
  readonly end: () => void;
  /** Registers the callback for "the other side is gone" (process exit, socket close, error). */
  readonly onGone: (callback: () => void) => void;
}

function handshake(connection: Connection, timeoutMs: number): Promise<DaemonHello | undefined> {
  return new Promise((resolve) => {
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (hello: DaemonHello | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.end();
      resolve(hello);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    connection.onGone(() => finish(parseDaemonHello(received)));
    connection.input.on("error", () => undefined);
    connection.output.on("error", () => finish(undefined));
    connection.output.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 16) finish(parseDaemonHello(received));
    });
    connection.input.write(clientHello());
  });
}

/** Whether `command args` speaks to a Nix store on its stdio. */
export async function daemonAnswers(
  command: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<DaemonHello | undefined> {
  const child = spawn(command, [...args], { stdio: ["pipe", "pipe", "ignore"] });
  return handshake(
    {
      input: child.stdin,
      output: child.stdout,
      end: () => {
        // A reused ssh connection's master outlives this ssh and holds its pipes: let go of them.
        child.stdin.destroy();
        child.stdout.destroy();
        child.kill();
      },
      onGone: (callback) => {
        child.on("error", callback);
        child.on("exit", callback);
      },
    },
    timeoutMs,
  );
}

/**
 * Whether a Nix store answers on the unix socket at `path`, and whether anything accepted the
 * connection at all (a forward whose far end is not listening yet accepts, then closes).
 */
export async function daemonAnswersAt(
  path: string,
  timeoutMs: number,
): Promise<{ readonly hello?: DaemonHello; readonly connected: boolean }> {
  const socket = connect(path);
  let connected = false;
  socket.once("connect", () => {
    connected = true;
  });
  const hello = await handshake(
    {
      input: socket,
      output: socket,
      end: () => socket.destroy(),
      onGone: (callback) => socket.on("close", callback),
    },
    timeoutMs,
  );
  return hello === undefined ? { connected } : { hello, connected };
}
