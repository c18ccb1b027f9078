#!/usr/bin/env node
// Runs the test files with Node's own test runner through tsx.
// Node 20's runner does not expand globs, so we list the files here.
// `node scripts/run-tests.mjs unit` runs only the fast unit tests.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const suites = process.argv.length > 2 ? process.argv.slice(2) : ["unit", "slow"];
const files = suites.flatMap((suite) => {
  const dir = join("test", suite);
  // Tests mirror the sources: test/unit/<folder>/<module>.test.ts.
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((name) => name.endsWith(".test.ts"))
    .sort()
    .map((name) => join(dir, name));
});
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
