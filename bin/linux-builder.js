#!/usr/bin/env node
// Runs the compiled CLI (built by `npm ci` / `npm run build`), or the TypeScript sources through tsx
// when there is no build or LINUX_BUILDER_FROM_SOURCE=1 (tests and development).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "src", "cli", "main.js");
let entry = compiled;
if (process.env.LINUX_BUILDER_FROM_SOURCE === "1" || !existsSync(compiled)) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = join(root, "src", "cli", "main.ts");
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
