/**
 * The console log as the host keeps it: a file the VM appends to across boots, and this boot's part
 * of it (console-lines.ts says what the lines mean).
 */
import { open, stat } from "node:fs/promises";

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
