import { setMaxListeners } from "node:events";

/** Runs `fn` on each item, `limit` at a time; the first failure aborts the others through `signal`. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const controller = new AbortController();
  // Each running item may listen for the abort: more than Node's default 10 is not a leak.
  setMaxListeners(Math.max(10, limit), controller.signal);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !controller.signal.aborted) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, controller.signal);
      } catch (error) {
        controller.abort(error);
        throw error;
      }
    }
  });
  await Promise.all(workers);
  return results;
}
