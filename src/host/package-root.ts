import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * The folder holding our package.json. Code runs from src/ (tsx) or dist/src/ (compiled),
 * and data files (guest/, keys/) live at the package root, so we walk up to find it. It must hold
 * guest/ too: tsc may emit a dist/package.json.
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "guest"))) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`linux-builder: cannot find the package root above ${import.meta.url}`);
    dir = parent;
  }
}
