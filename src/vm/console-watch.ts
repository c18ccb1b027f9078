import { open, stat } from "node:fs/promises";

/**
 * The guest says how its boot goes: /init prints `linux-builder: SSHD at Ns` once sshd listens,
 * `linux-builder: READY at Ns` once the Nix daemon is up too, or `linux-builder: FAILED: why`. Waiting for that line before the first ssh
 * matters: QEMU's user networking accepts a connection before the guest can answer it, and an ssh
 * started too early sat in a half-open connection for seconds (start → ready took 7.2 s with the
 * guest ready at 2.7 s).
 */
export type GuestSignal =
  | { readonly kind: "sshd" }
  | { readonly kind: "ready" }
  | { readonly kind: "failed"; readonly reason: string };

/**
 * How far the boot got, from what the console printed: FAILED over READY over SSHD (sshd listens,
 * the rest of the boot still going), or undefined for none yet.
 */
export function scanConsole(text: string): GuestSignal | undefined {
  const failed = /linux-builder: FAILED: ([^\r\n]*)/.exec(text);
  if (failed) return { kind: "failed", reason: (failed[1] ?? "").trim() };
  if (/linux-builder: READY at /.test(text)) return { kind: "ready" };
  if (/linux-builder: SSHD at /.test(text)) return { kind: "sshd" };
  return undefined;
}

/**
 * The kernel's last words, if the console shows it crashed: a panic, or an Oops (which the
 * guest's oops=panic turns into one).
 */
export function kernelCrash(text: string): string | undefined {
  return /(Kernel panic[^\r\n]*|Oops: [^\r\n]*)/.exec(text)?.[1]?.trim();
}

/** What this boot printed so far (from `offset`), its last 64 KiB. */
export async function readConsoleSince(path: string, offset: number): Promise<string> {
  const handle = await open(path, "r").catch(() => undefined);
  if (handle === undefined) return "";
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(offset, size - 64 * 1024);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}

/** Where this boot's part of the console log starts: the log is appended to across boots. */
export async function consoleOffset(path: string): Promise<number> {
  return stat(path).then(
    (info) => info.size,
    () => 0,
  );
}

/**
 * Watches the console log from `offset` until the guest signals, the VM is gone (`alive` says), or
 * the deadline passes (undefined then).
 */
export async function waitForGuestSignal(
  path: string,
  offset: number,
  options: {
    readonly deadline: number;
    readonly alive: () => Promise<boolean>;
    readonly intervalMs?: number;
  },
): Promise<GuestSignal | "gone" | undefined> {
  while (Date.now() < options.deadline) {
    // A boot prints a few KiB: reading it whole each time also finds a line that arrived in parts.
    const signal = scanConsole(await readConsoleSince(path, offset));
    if (signal !== undefined) return signal;
    if (!(await options.alive())) return "gone";
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 40));
  }
  return undefined;
}
