import { setMaxListeners } from "node:events";

/** Work running `limit` items at a time: each item's result as it comes, and all of them. */
export interface ConcurrentRun<R> {
  /** Item i's result; after the first failure, every item not done yet rejects with that failure. */
  readonly each: readonly Promise<R>[];
  /** Every result in the items' order, or the first failure. */
  readonly all: Promise<R[]>;
}

/**
 * Runs `fn` on each item, `limit` at a time, in the items' order; the first failure aborts the
 * others through `signal`. A caller may wait for single items (`each`) to use each result as soon as
 * it comes: the first failure settles them all, so no wait outlives it, and it is the cause a waiter
 * sees, not the abort it caused. A `limit` below 1 (or NaN) is a RangeError: no item would ever run.
 */
export function runConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<R>,
): ConcurrentRun<R> {
  if (!(limit >= 1)) throw new RangeError(`runConcurrent needs a limit of at least 1, not ${limit}`);
  const settlers = items.map(() => {
    let settle: { resolve: (value: R) => void; reject: (error: unknown) => void } | undefined;
    const promise = new Promise<R>((resolve, reject) => {
      settle = { resolve, reject };
    });
    // Handled here so that an item nobody waits for does not fail the process; a waiter still sees it.
    promise.catch(() => undefined);
    return { promise, ...(settle as NonNullable<typeof settle>) };
  });
  const controller = new AbortController();
  // Each running item may listen for the abort: more than Node's default 10 is not a leak.
  setMaxListeners(Math.max(10, limit), controller.signal);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !controller.signal.aborted) {
      const i = next++;
      try {
        (settlers[i] as (typeof settlers)[number]).resolve(await fn(items[i] as T, controller.signal));
      } catch (error) {
        if (!controller.signal.aborted) {
          controller.abort(error);
          for (const settler of settlers) settler.reject(error);
        }
        throw controller.signal.reason;
      }
    }
  });
  const each = settlers.map(({ promise }) => promise);
  return { each, all: Promise.all(workers).then(() => Promise.all(each)) };
}
