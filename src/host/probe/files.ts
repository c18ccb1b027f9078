/** Files as doctor reads them: their mode and owner, their text, or why there is none. */
import { readFile, realpath, stat } from "node:fs/promises";
import type { FileText } from "../doctor/file-text.js";
import type { FileFacts } from "../doctor/keys.js";
import { type Host, isRoot } from "../host.js";

export async function fileFacts(path: string): Promise<FileFacts> {
  const info = await stat(path).catch(() => undefined);
  return { path, stat: info === undefined ? undefined : { mode: info.mode, uid: info.uid } };
}

export async function readOptional(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}

/** A file's text, or why there is none: a root-only file (EACCES, not root) is not an error. */
export async function readFileText(host: Pick<Host, "uid">, path: string): Promise<FileText> {
  try {
    return { kind: "text", text: await readFile(path, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    if (code === "EACCES" && !isRoot(host)) return { kind: "root-only" };
    return { kind: "unreadable", message: (error as Error).message };
  }
}

/** The paths that are this file: as named, and resolved through symlinks (macOS: /etc → /private/etc). */
export async function samePaths(path: string): Promise<string[]> {
  const resolved = await realpath(path).catch(() => path);
  return [...new Set([path, resolved])];
}
