import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { type ErrorCode, LinuxBuilderError } from "../../errors.js";
import type { ComposeTask, ComposeTasks } from "./compose-tasks.js";

export interface WorkerRequest {
  readonly id: number;
  readonly task: ComposeTask;
  readonly args: readonly unknown[];
  /**
   * The task's last parameter is a function the caller gave (it cannot cross to the thread): the
   * thread passes its own, which sends what it is given back as an `early` reply.
   */
  readonly early?: true;
}

/**
 * An error thrown in a thread, as it crosses to the main thread (structured clone keeps an Error's
 * message and stack only): what a catch or a report may read of it.
 */
export interface WorkerFailure {
  readonly message: string;
  readonly name?: string;
  readonly stack?: string;
  /** A LinuxBuilderError's code (with `linuxBuilder`), or Node's (ENOENT...). */
  readonly code?: string;
  readonly linuxBuilder?: true;
  readonly hint?: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly errno?: number;
  readonly cause?: WorkerFailure;
}

export type WorkerReply =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: WorkerFailure }
  /** A result the task hands over before it ends (the kernel, read before its modules). */
  | { readonly id: number; readonly early: unknown };

/** `error` (thrown in a thread) made cloneable, its causes with it (a few deep). */
export function failureOf(error: unknown, depth = 0): WorkerFailure {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields = error as Error & { code?: unknown; syscall?: unknown; path?: unknown; errno?: unknown };
  const failure: { -readonly [K in keyof WorkerFailure]: WorkerFailure[K] } = {
    message: error.message,
    name: error.name,
  };
  if (error.stack !== undefined) failure.stack = error.stack;
  if (typeof fields.code === "string") failure.code = fields.code;
  if (error instanceof LinuxBuilderError) {
    failure.linuxBuilder = true;
    if (error.hint !== undefined) failure.hint = error.hint;
  }
  if (typeof fields.syscall === "string") failure.syscall = fields.syscall;
  if (typeof fields.path === "string") failure.path = fields.path;
  if (typeof fields.errno === "number") failure.errno = fields.errno;
  if (error.cause !== undefined && depth < 4) failure.cause = failureOf(error.cause, depth + 1);
  return failure;
}

/** The error a thread threw, made again in the main thread: its class, code, hint, stack and cause. */
export function errorOf(failure: WorkerFailure): Error {
  const cause = failure.cause === undefined ? {} : { cause: errorOf(failure.cause) };
  const error =
    failure.linuxBuilder && failure.code !== undefined
      ? new LinuxBuilderError(failure.code as ErrorCode, failure.message, {
          ...(failure.hint === undefined ? {} : { hint: failure.hint }),
          ...cause,
        })
      : Object.assign(new Error(failure.message, cause), {
          ...(failure.name === undefined ? {} : { name: failure.name }),
          ...(failure.code === undefined ? {} : { code: failure.code }),
          ...(failure.syscall === undefined ? {} : { syscall: failure.syscall }),
          ...(failure.path === undefined ? {} : { path: failure.path }),
          ...(failure.errno === undefined ? {} : { errno: failure.errno }),
        });
  // Where it was thrown, in the thread: the main thread's stack here would only name this file.
  if (failure.stack !== undefined) error.stack = failure.stack;
  return error;
}

type Result<T extends ComposeTask> = Awaited<ReturnType<ComposeTasks[T]>>;

interface Pending {
  readonly request: WorkerRequest;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The caller's function for the task's early results, if it gave one. */
  readonly early?: (value: unknown) => void;
}

/**
 * Threads that run the composer's pure work on .debs (composeTasks: xz, tar, zstd, all CPU-bound
 * and in JS or WASM) beside the main thread, one per core up to `size`, started only when a task
 * comes (or start() is called): a compose whose results are all cached starts none. Tasks run in the
 * order given, those given to runFirst before the others. Once closed, it starts no thread again.
 * A task whose last parameter is a function may call it before it ends: the caller's function is
 * called, in the main thread, with what the thread gave it.
 */
export class ComposeWorkers {
  readonly #size: number;
  readonly #startThread: () => Worker;
  readonly #idle: Worker[] = [];
  readonly #all: Worker[] = [];
  readonly #queue: Pending[] = [];
  readonly #firstQueue: Pending[] = [];
  readonly #running = new Map<Worker, Pending>();
  #nextId = 0;
  // A thread started after close() would be stopped by nobody, and keep the process alive.
  #closed = false;

  constructor(size = Math.min(4, availableParallelism()), startThread: () => Worker = startWorker) {
    this.#size = Math.max(1, size);
    this.#startThread = startThread;
  }

  run<T extends ComposeTask>(task: T, ...args: Parameters<ComposeTasks[T]>): Promise<Result<T>> {
    return this.#enqueue(this.#queue, task, args);
  }

  /**
   * Like run, but before every task queued by run: for the longest tasks (the kernel's), which
   * would otherwise wait behind many short ones and then run alone at the end.
   */
  runFirst<T extends ComposeTask>(task: T, ...args: Parameters<ComposeTasks[T]>): Promise<Result<T>> {
    return this.#enqueue(this.#firstQueue, task, args);
  }

  #enqueue<T extends ComposeTask>(queue: Pending[], task: T, args: readonly unknown[]): Promise<Result<T>> {
    if (this.#closed) {
      return Promise.reject(new Error(`the composer's workers were closed: cannot run ${task}`));
    }
    const last = args.at(-1);
    const early = typeof last === "function" ? (last as (value: unknown) => void) : undefined;
    const request: WorkerRequest =
      early === undefined
        ? { id: this.#nextId++, task, args }
        : { id: this.#nextId++, task, args: args.slice(0, -1), early: true };
    return new Promise<unknown>((resolve, reject) => {
      queue.push({ request, resolve, reject, ...(early === undefined ? {} : { early }) });
      this.#dispatch();
    }) as Promise<Result<T>>;
  }

  /**
   * Starts the threads now, before any task: what a thread loads first (the modules, WebAssembly)
   * then happens while the caller still waits for something else (the downloads). Does nothing once closed.
   */
  start(): void {
    if (this.#closed) return;
    while (this.#all.length < this.#size) this.#idle.push(this.#spawn());
  }

  /** Stops the threads; tasks still queued or running fail, and any given later. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error("the composer's workers were closed");
    const waiting = [...this.#firstQueue.splice(0), ...this.#queue.splice(0)];
    for (const pending of [...waiting, ...this.#running.values()]) pending.reject(closed);
    this.#running.clear();
    await Promise.all(this.#all.map((worker) => worker.terminate()));
  }

  #dispatch(): void {
    while (this.#firstQueue.length + this.#queue.length > 0) {
      const worker = this.#idle.pop() ?? (this.#all.length < this.#size ? this.#spawn() : undefined);
      if (worker === undefined) return;
      const pending = (this.#firstQueue.shift() ?? this.#queue.shift()) as Pending;
      this.#running.set(worker, pending);
      worker.postMessage(pending.request);
    }
  }

  #spawn(): Worker {
    const worker = this.#startThread();
    worker.on("message", (reply: WorkerReply) => {
      const pending = this.#running.get(worker);
      if ("early" in reply) {
        // The task goes on: its thread is not free yet.
        pending?.early?.(asBuffers(reply.early));
        return;
      }
      this.#running.delete(worker);
      this.#idle.push(worker);
      if ("error" in reply) pending?.reject(errorOf(reply.error));
      else pending?.resolve(asBuffers(reply.result));
      this.#dispatch();
    });
    worker.on("error", (error) => {
      this.#running.get(worker)?.reject(error);
      this.#running.delete(worker);
      this.#all.splice(this.#all.indexOf(worker), 1);
      // A thread started ahead (start()) may fail while idle: it must not be given a task.
      if (this.#idle.includes(worker)) this.#idle.splice(this.#idle.indexOf(worker), 1);
      this.#dispatch();
    });
    this.#all.push(worker);
    return worker;
  }
}

/**
 * compose-worker.js beside this module once built; from the sources (tsx), compose-worker.ts, with
 * tsx's loader registered in the thread first, as Node 20 does not carry `--import tsx` into workers.
 */
export function startWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./compose-worker.js", import.meta.url));
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./compose-worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true });
}

/** Buffers come back from a thread as plain Uint8Arrays: made Buffers again (views, not copies). */
function asBuffers(value: unknown): unknown {
  const buffer = (item: unknown) =>
    item instanceof Uint8Array && !Buffer.isBuffer(item)
      ? Buffer.from(item.buffer, item.byteOffset, item.byteLength)
      : item;
  if (value instanceof Uint8Array) return buffer(value);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, buffer(item)]));
}
