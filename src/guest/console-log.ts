/**
 * The console log as the host keeps it: a file QEMU appends to across boots. Reading this boot's
 * part of it, and waiting there for the guest to signal (console-lines.ts says what the lines mean).
 */
import { open, stat } from "node:fs/promises";
import { type GuestSignal, scanConsole } from "./console-lines.js";

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
