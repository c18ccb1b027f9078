import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { processAlive } from "../../../src/process/process-alive.js";

test("a process that runs is alive; one that has ended is not", () => {
  assert.equal(processAlive(process.pid), true);
  assert.equal(processAlive(spawnSync("true").pid as number), false);
});
