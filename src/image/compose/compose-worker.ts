/** A worker thread of the composer (compose-workers.ts): runs composeTasks as the main thread asks. */
import { parentPort } from "node:worker_threads";
import { type ComposeTask, composeTasks } from "./compose-tasks.js";
import { failureOf, type WorkerReply, type WorkerRequest } from "./compose-workers.js";

const port = parentPort;
if (port === null) throw new Error("compose-worker.ts runs in a worker thread");

port.on("message", async ({ id, task, args, early }: WorkerRequest) => {
  try {
    const run = composeTasks[task as ComposeTask] as (...args: unknown[]) => Promise<unknown>;
    const giveEarly = (value: unknown) =>
      port.postMessage({ id, early: value } satisfies WorkerReply, transferablesOf(value));
    const result = await (early ? run(...args, giveEarly) : run(...args));
    port.postMessage({ id, result } satisfies WorkerReply, transferablesOf(result));
  } catch (error) {
    port.postMessage({ id, error: failureOf(error) } satisfies WorkerReply);
  }
});

/** The buffers of a result that own their whole memory: moved to the main thread, not copied. */
function transferablesOf(result: unknown): ArrayBuffer[] {
  const values = result instanceof Uint8Array ? [result] : Object.values(result ?? {});
  return values.flatMap((value) =>
    value instanceof Uint8Array && value.byteOffset === 0 && value.byteLength === value.buffer.byteLength
      ? [value.buffer as ArrayBuffer]
      : [],
  );
}
