import assert from "node:assert/strict";
import { test } from "node:test";
import type { BuilderFlags } from "../../../src/cli/builder-flags.js";
import { serveFlags } from "../../../src/cli/install-flags.js";

const NONE: BuilderFlags = {
  arch: undefined,
  cpus: undefined,
  memory: undefined,
  disk: undefined,
  port: undefined,
  stateDir: undefined,
  accel: undefined,
  maxJobs: undefined,
};

test("serve is given exactly the builder flags install was given, and the state folder, absolute, always", () => {
  assert.deepEqual(serveFlags(NONE, "/home/a/.local/state/linux-builder"), [
    "--state-dir",
    "/home/a/.local/state/linux-builder",
  ]);
  assert.deepEqual(
    serveFlags(
      { ...NONE, port: "31023", stateDir: "builders/two", maxJobs: "4", accel: "tcg" },
      "/home/a/builders/two",
    ),
    ["--port", "31023", "--accel", "tcg", "--max-jobs", "4", "--state-dir", "/home/a/builders/two"],
  );
});
