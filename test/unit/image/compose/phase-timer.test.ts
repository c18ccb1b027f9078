import assert from "node:assert/strict";
import { test } from "node:test";
import { PhaseTimer } from "../../../../src/image/compose/phase-timer.js";

test("each phase lasts from the end of the one before, in seconds to the millisecond", () => {
  const clock = [1000, 3500.4, 3500.4, 4200.6];
  const timer = new PhaseTimer(() => clock.shift() ?? 0);
  timer.lap("resolve");
  timer.lap("reuse");
  timer.lap("download");
  assert.deepEqual(timer.timings, { resolve: 2.5, reuse: 0, download: 0.7 });
});
