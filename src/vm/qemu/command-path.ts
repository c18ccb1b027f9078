import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/**
 * Where `command` is found on PATH (or itself, when it is a path), or undefined: the binary a spawn
 * of it runs. Synchronous, as QEMU's argv is built synchronously (see firmware.ts); a few access()
 * calls at a VM's start.
 */
export function commandPath(command: string, path: string = process.env.PATH ?? ""): string | undefined {
  const candidates = isAbsolute(command)
    ? [command]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  return candidates.find((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
