/**
 * Start → ready, stop time, idle memory and idle host CPU, ours beside the systemd baseline: a first
 * boot on a fresh state (blank /nix disk; a pristine copy of the baseline's disk), then later boots
 * of the same state. The two alternate boot by boot, so that a busy moment on a shared machine falls
 * on both.
 */
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BaselineImage } from "./baseline-image.js";
import { BaselineVm, type VmShape } from "./baseline-vm.js";
import { type BootSample, keepFailedConsole, OurBuilder, type StopSample } from "./ours.js";
import {
  freePort,
  log,
  memoryInUse,
  onInterrupt,
  processCpuSeconds,
  runCommand,
  sleep,
  tail,
} from "./support.js";

/** One guest the series boots again and again. */
export interface Subject {
  readonly name: string;
  /** The host port its ssh is forwarded from. */
  readonly port: number;
  boot(): Promise<BootSample>;
  /** /proc/meminfo of the running guest. */
  meminfo(): Promise<string | null>;
  /** The running guest's QEMU process. */
  qemuPid(): Promise<number | null>;
  /** Whatever else the guest says about its boot, while it runs (the baseline: systemd-analyze). */
  bootReport(): Promise<string | null>;
  stop(): Promise<StopSample>;
  /** Back to a fresh state (for the next first boot, or another try at one that failed). */
  reset(): Promise<void>;
  /** The VM gone and the state removed, whatever happened. */
  dispose(): Promise<void>;
}

export interface BootSeries {
  /** One per fresh state (blank /nix disk, new keys; the baseline: a pristine disk copy). */
  readonly firsts: BootSample[];
  readonly later: BootSample[];
  readonly stops: StopSample[];
  /** MemTotal − MemAvailable after ready and the idle pause, on the last boot. */
  readonly memoryInUseBytes: number | null;
  /** Host CPU QEMU used during that idle pause (from ready on). */
  readonly idle: IdleCpu | null;
  /** Host CPU QEMU used over the next `settledIdleSeconds`, once the boot's tail is over. */
  readonly idleSettled: IdleCpu | null;
  readonly bootReport: string | null;
  /** Boots that failed (each was tried once more). */
  readonly failures: BootFailure[];
}

export interface BootFailure {
  readonly boot: string;
  readonly error: string;
  readonly consoleLog: string | null;
}

/** The idle pause after the last boot: long enough for the guest to settle. */
export const IDLE_SECONDS = 5;
/** The pause instead when the idle part measures host CPU: a minute, as a person would leave it. */
export const IDLE_CPU_SECONDS = 60;

export interface IdleCpu {
  /** Wall time of the pause, ready → the second reading. */
  readonly seconds: number;
  /** QEMU's utime + stime over it (all its threads: vCPUs, I/O, the event loop). */
  readonly cpuSeconds: number;
}

/** QEMU's CPU time from ready over `seconds` of idling; null when its pid is unknown. */
async function idleCpu(subject: Subject, seconds: number): Promise<IdleCpu | null> {
  const pid = await subject.qemuPid();
  const started = performance.now();
  const before = pid === null ? null : await processCpuSeconds(pid);
  await sleep(seconds * 1000);
  const after = pid === null ? null : await processCpuSeconds(pid);
  if (before === null || after === null) return null;
  return { seconds: (performance.now() - started) / 1000, cpuSeconds: after - before };
}

export async function ourSubject(
  shape: VmShape,
  diskGiB: number,
  readyTimeoutSeconds: number,
): Promise<Subject> {
  const stateDir = await mkdtemp(join(tmpdir(), "lb-bench-ours-"));
  const builder = new OurBuilder(stateDir, await freePort(), shape, diskGiB);
  const dispose = async () => {
    await builder.stop().catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(dispose);
  return {
    name: "ours",
    port: builder.port,
    boot: () => builder.start(readyTimeoutSeconds),
    async meminfo() {
      const result = await builder.ssh(["cat", "/proc/meminfo"]);
      return result.code === 0 ? result.stdout : null;
    },
    qemuPid: () => builder.qemuPid(),
    bootReport: async () => null,
    stop: () => builder.stop(),
    async reset() {
      await builder.stop().catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    },
    async dispose() {
      unregister();
      await dispose();
    },
  };
}

export async function baselineSubject(
  image: BaselineImage,
  shape: VmShape,
  readyTimeoutSeconds: number,
): Promise<Subject> {
  const stateDir = await mkdtemp(join(tmpdir(), "lb-bench-baseline-"));
  const disk = join(stateDir, "disk.img");
  // A first boot starts from the pristine image, as a freshly installed machine does.
  const fresh = async () => {
    const copied = await runCommand("cp", ["--sparse=always", image.disk, disk]);
    if (copied.code !== 0) await copyFile(image.disk, disk);
  };
  await fresh();
  const port = await freePort();
  let vm: BaselineVm | undefined;
  let boots = 0;
  const dispose = async () => {
    await vm?.kill();
    await rm(stateDir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(dispose);
  return {
    name: "baseline",
    port,
    async boot() {
      vm = await BaselineVm.spawn({ image, disk, stateDir, port, shape, boot: boots++ });
      const seconds = await vm.waitReady(readyTimeoutSeconds * 1000);
      if (seconds === null) {
        const printed = await readFile(vm.consoleLog, "utf8").catch(() => "");
        const why = vm.running ? `not ready within ${readyTimeoutSeconds} s` : `${vm.ended} before ready`;
        await vm.kill();
        const consoleLog = await keepFailedConsole("baseline", printed);
        return { ok: false, seconds: null, consoleLog, error: `${why}: ${tail(printed, 1)}` };
      }
      return { ok: true, seconds };
    },
    async meminfo() {
      const result = await vm?.ssh(["cat", "/proc/meminfo"]);
      return result?.code === 0 ? result.stdout : null;
    },
    qemuPid: async () => (vm?.running ? (vm.pid ?? null) : null),
    async bootReport() {
      const result = await vm?.ssh(["systemd-analyze"]);
      return result?.code === 0 ? (result.stdout.trim().split("\n")[0] ?? null) : null;
    },
    async stop() {
      if (vm === undefined || !vm.running) return { ok: false, seconds: null, how: "not running" };
      const { seconds, clean } = await vm.stop();
      return { ok: clean, seconds: clean ? seconds : null, how: clean ? "powered off" : "killed" };
    },
    async reset() {
      await vm?.kill();
      await fresh();
    },
    async dispose() {
      unregister();
      await dispose();
    },
  };
}

/**
 * Boots each subject `firstBoots` times from a fresh state, then `laterBoots` times more on the last
 * one, alternating between the subjects; all stopped in the end. Several first boots: a single one
 * on a shared machine is one noisy sample. The last boot of each idles `idleSeconds` after ready
 * (QEMU's CPU time read before and after), then its memory is read; then, if `settledIdleSeconds`,
 * it idles that long more, measured again: a builder left alone, past its boot's tail.
 */
export async function bootSeries(
  subjects: readonly Subject[],
  firstBoots: number,
  laterBoots: number,
  idleSeconds = IDLE_SECONDS,
  settledIdleSeconds = 0,
): Promise<Record<string, BootSeries>> {
  const series = new Map(
    subjects.map((s) => [
      s.name,
      {
        firsts: [] as BootSample[],
        later: [] as BootSample[],
        stops: [] as StopSample[],
        memoryInUseBytes: null as number | null,
        idle: null as IdleCpu | null,
        idleSettled: null as IdleCpu | null,
        bootReport: null as string | null,
        failures: [] as BootFailure[],
      },
    ]),
  );
  const rounds = firstBoots + laterBoots;
  for (let round = 0; round < rounds; round++) {
    const first = round < firstBoots;
    for (const subject of subjects) {
      const entry = series.get(subject.name);
      if (entry === undefined) continue;
      // Later boots continue on the last first boot's state: not when that boot failed.
      if (!first && entry.firsts.at(-1)?.ok !== true) continue;
      const kind = first ? `first ${round + 1}` : `later ${round - firstBoots + 1}`;
      if (first && round > 0) await subject.reset();
      log(`${subject.name}: ${kind} boot`);
      // No boot pays for earlier writes (a freshly composed image, a disk copy) flushed under it.
      await runCommand("sync", []);
      let sample = await subject.boot();
      if (!sample.ok) {
        // Once in a while a TCG guest dies at boot (a kernel oops): noted, and tried once more.
        log(
          `${subject.name}: ${kind} boot failed: ${sample.error} (console: ${sample.consoleLog}); once more`,
        );
        entry.failures.push({ boot: kind, error: sample.error ?? "", consoleLog: sample.consoleLog ?? null });
        await subject.stop().catch(() => undefined);
        if (first) await subject.reset();
        sample = await subject.boot();
      }
      if (first) entry.firsts.push(sample);
      else entry.later.push(sample);
      if (!sample.ok) {
        log(`${subject.name}: ${kind} boot failed again: ${sample.error} (console: ${sample.consoleLog})`);
        entry.failures.push({ boot: kind, error: sample.error ?? "", consoleLog: sample.consoleLog ?? null });
        await subject.stop().catch(() => undefined);
        continue;
      }
      log(
        `${subject.name}: ready in ${sample.seconds?.toFixed(1)} s${sample.uptimes ? ` ${JSON.stringify(sample.uptimes)}` : ""}`,
      );
      if (round === rounds - 1) {
        // Idle CPU and memory on the last boot, once the guest has settled.
        entry.idle = await idleCpu(subject, idleSeconds);
        if (entry.idle)
          log(
            `${subject.name}: ${entry.idle.cpuSeconds.toFixed(2)} CPU s in ${entry.idle.seconds.toFixed(0)} s idle`,
          );
        const meminfo = await subject.meminfo();
        entry.memoryInUseBytes = meminfo === null ? null : memoryInUse(meminfo);
        entry.bootReport = await subject.bootReport();
        if (settledIdleSeconds > 0) {
          entry.idleSettled = await idleCpu(subject, settledIdleSeconds);
          if (entry.idleSettled)
            log(
              `${subject.name}: ${entry.idleSettled.cpuSeconds.toFixed(2)} CPU s in the next ${entry.idleSettled.seconds.toFixed(0)} s idle`,
            );
        }
      }
      const stop = await subject.stop();
      entry.stops.push(stop);
      log(`${subject.name}: stopped in ${stop.seconds?.toFixed(1)} s (${stop.how})`);
    }
  }
  return Object.fromEntries(series);
}
