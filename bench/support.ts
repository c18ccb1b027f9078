/** Small helpers the benchmark's parts share: progress on stderr, timing, processes, ports. */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

export const execFileAsync = promisify(execFile);

/** The repository root: `npm run bench` runs from there. */
export const ROOT = process.cwd();
/** Everything the bench keeps between runs: our bench home, the baseline image, results.json. */
export const BENCH_DIR = join(ROOT, ".cache", "bench");

export const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - start) / 1000, value };
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Bytes a (sparse) file really takes on disk. */
export async function allocatedBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

/** A port free right now on 127.0.0.1 (the VM tests' own helper). */
export { freePort } from "../test/support/guest-vm.js";

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/**
 * Runs a command to its end, never throwing on a non-zero exit (the caller decides); `echo` copies
 * its stderr to ours as it comes (for long steps whose progress a person wants to see).
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; echo?: boolean; cwd?: string } = {},
): Promise<Finished> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, [...args], {
      env: options.env ?? process.env,
      cwd: options.cwd ?? ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      if (options.echo) process.stderr.write(chunk);
    });
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n(bench: killed after ${options.timeoutMs} ms)`;
            child.kill("SIGKILL");
          }, options.timeoutMs);
    const done = (code: number | null) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    };
    child.once("error", (error) => {
      stderr += String(error);
      done(127);
    });
    child.once("close", (code) => done(code));
  });
}

/** The last lines of a text, for error messages. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** `MemTotal − MemAvailable` from /proc/meminfo, in bytes. */
export function memoryInUse(meminfo: string): number | null {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(meminfo);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const total = field("MemTotal");
  const available = field("MemAvailable");
  return total === undefined || available === undefined ? null : total - available;
}

/** utime + stime of a process in clock ticks, from its /proc/PID/stat line. */
function cpuTicks(stat: string): number {
  // Fields 14 and 15; the command name (field 2, in parentheses) may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime))
    throw new Error(`not a /proc/PID/stat line: ${stat}`);
  return utime + stime;
}

let clockTicks: number | undefined;

/** The CPU time (user + system, all threads) a running process has used, in seconds; Linux only. */
export async function processCpuSeconds(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (stat === null) return null;
  clockTicks ??= Number((await execFileAsync("getconf", ["CLK_TCK"])).stdout.trim());
  return cpuTicks(stat) / clockTicks;
}

/** Cleanups to run if the bench is interrupted (Ctrl-c): VMs stopped, temporary state removed. */
const cleanups = new Set<() => Promise<void>>();

/** Registers `fn` to run on SIGINT/SIGTERM; returns what unregisters it (call it in finally). */
export function onInterrupt(fn: () => Promise<void>): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping the VMs`);
    void Promise.allSettled([...cleanups].map((fn) => fn())).then(() => process.exit(130));
  });
}

/** What else ran on the machine during the bench: other QEMU processes (other people's VMs). */
export interface Contention {
  readonly samples: number;
  /** Share of samples in which at least one QEMU not started by this bench was running. */
  readonly othersRunningShare: number;
  readonly maxOthersAtOnce: number;
}

/** QEMU processes that are not this bench's (whose command lines name none of its state folders). */
async function otherQemus(): Promise<number> {
  const pids = await readdir("/proc").catch(() => [] as string[]);
  let count = 0;
  for (const pid of pids.filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (/^[^\0]*qemu-system/.test(cmdline) && !/lb-bench-|\/lbb-/.test(cmdline)) count++;
  }
  return count;
}

/** Samples every 2 s until the returned function is called; Linux only (elsewhere: no samples). */
export function monitorContention(): () => Contention {
  let samples = 0;
  let busy = 0;
  let max = 0;
  const timer = setInterval(() => {
    void otherQemus().then((n) => {
      samples++;
      if (n > 0) busy++;
      max = Math.max(max, n);
    });
  }, 2000);
  timer.unref();
  return () => {
    clearInterval(timer);
    return { samples, othersRunningShare: samples === 0 ? 0 : busy / samples, maxOthersAtOnce: max };
  };
}
