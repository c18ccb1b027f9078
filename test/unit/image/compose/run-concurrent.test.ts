import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate } from "node:timers/promises";
import { runConcurrent } from "../../../../src/image/compose/run-concurrent.js";

/** A promise and the function that settles it, to finish work in an order the test chooses. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

test("results keep the items' order, with at most `limit` running at once", async () => {
  const gates = [deferred(), deferred(), deferred(), deferred()];
  let running = 0;
  let most = 0;
  const finished: number[] = [];
  const done = runConcurrent([0, 1, 2, 3], 2, async (i) => {
    running++;
    most = Math.max(most, running);
    await gates[i]?.promise;
    running--;
    finished.push(i);
    return i * 10;
  }).all;
  // Item 0 finishes last: the others pass it on the second worker.
  for (const i of [1, 2, 3, 0]) {
    await setImmediate();
    gates[i]?.resolve();
  }
  assert.deepEqual(await done, [0, 10, 20, 30]);
  assert.equal(most, 2);
  assert.deepEqual(finished, [1, 2, 3, 0]);
});

test("the first failure rejects, aborts the others' signal, and starts no more items", async () => {
  const started: number[] = [];
  let sawAbort = false;
  await assert.rejects(
    runConcurrent([0, 1, 2, 3], 2, async (i, signal) => {
      started.push(i);
      if (i === 0) throw new Error("item 0 failed");
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
      sawAbort = signal.aborted;
      return i;
    }).all,
    /item 0 failed/,
  );
  assert.deepEqual(started, [0, 1]);
  assert.equal(sawAbort, true);
});

test("each item's result comes as soon as it is done, before the slower ones", async () => {
  const gates = [deferred(), deferred()];
  const run = runConcurrent([0, 1], 2, async (i) => {
    await gates[i]?.promise;
    return i * 10;
  });
  gates[1]?.resolve();
  assert.equal(await run.each[1], 10);
  gates[0]?.resolve();
  assert.equal(await run.each[0], 0);
  assert.deepEqual(await run.all, [0, 10]);
});

test("a failure in the middle rejects every item not done with it, the done ones keep their result", async () => {
  const run = runConcurrent([0, 1, 2, 3], 2, async (i, signal) => {
    if (i === 0) return 0;
    if (i === 2) throw new Error("item 2: the hash does not match");
    // Item 1 runs until the abort, as a download in flight does, and fails with an error of its own.
    await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted"))));
    return i;
  });
  assert.equal(await run.each[0], 0);
  for (const item of [run.each[1], run.each[2], run.each[3], run.all])
    await assert.rejects(item as Promise<unknown>, /item 2: the hash does not match/);
});

test("a limit below 1 is refused at once, where no item would ever run and `all` never settle", () => {
  for (const limit of [0, -1, Number.NaN]) {
    assert.throws(() => runConcurrent([1, 2], limit, async (i) => i), RangeError, `limit ${limit}`);
  }
});
