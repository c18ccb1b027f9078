import { spawn } from "node:child_process";

/**
 * Whether a Nix store answers through `command args` (ssh … nix-daemon --stdio, what Nix's own
 * ssh-ng:// store runs): the worker protocol's opening, our magic and the daemon's magic with its
 * protocol version. It proves what Nix needs, without starting the nix CLI in the guest, which under
 * TCG took longer than the handshake itself.
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

export async function daemonAnswers(
  command: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<DaemonHello | undefined> {
  return new Promise((resolve) => {
    const child = spawn(command, [...args], { stdio: ["pipe", "pipe", "ignore"] });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (hello: DaemonHello | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A reused connection's master outlives this ssh and holds its pipes: let go of them.
      child.stdin.destroy();
      child.stdout.destroy();
      child.kill();
      resolve(hello);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    child.on("error", () => finish(undefined));
    child.on("exit", () => finish(parseDaemonHello(received)));
    child.stdin.on("error", () => undefined);
    child.stdout.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 16) finish(parseDaemonHello(received));
    });
    child.stdin.write(clientHello());
  });
}
