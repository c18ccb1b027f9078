#!/usr/bin/env node
// Runs the compiled dist/ when it is at least as new as every source file (`npm ci` builds it), so
// a command starts in 0.2 s instead of tsx's 0.55 s. In a checkout whose sources changed since,
// it runs the TypeScript sources through tsx, so what runs is always what is there.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const sources = join(root, "src");
const built = join(root, "dist", ".built");
let entry = join(root, "dist", "src", "cli", "main.js");

function distIsCurrent() {
  if (!existsSync(built)) return false;
  const builtAt = statSync(built).mtimeMs;
  return readdirSync(sources, { recursive: true }).every(
    (name) => statSync(join(sources, String(name))).mtimeMs <= builtAt,
  );
}

if (existsSync(sources) && !distIsCurrent()) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = join(sources, "cli", "main.ts");
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
