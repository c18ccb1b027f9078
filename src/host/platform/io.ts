import { access, readFile } from "node:fs/promises";
import { release } from "node:os";
import { runTool } from "../tool.js";
import type { PlatformIo } from "./platform.js";

/** The real host's files and commands. */
export const hostIo: PlatformIo = {
  run: runTool,
  exists: (path) =>
    access(path).then(
      () => true,
      () => false,
    ),
  readText: (path) => readFile(path, "utf8").catch(() => undefined),
  kernelRelease: release,
};
