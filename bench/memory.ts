/**
 * QEMU's resident size after a big allocation, with free page reporting (the product's argv: a
 * virtio-balloon-pci with free-page-reporting=on) and without (the same argv from the same builder,
 * `freePageReporting: false`: no balloon device). One builder install is made through the CLI
 * (`start`, `stop`: keys, boot initrd, a formatted /nix disk); then both variants boot QEMU directly
 * from the product's qemuCommand on that state folder, since the CLI has no switch for the device,
 * one after the other. In each the guest writes most of its memory into tmpfs files and deletes them;
 * QEMU's VmRSS is read before, at the peak, and each second for 60 s after the files are gone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoredImage } from "../src/image/store.js";
import { sshArgs } from "../src/ssh/builder-ssh.js";
import { isReady } from "../src/vm/lifecycle/readiness.js";
import { qemuCommand } from "../src/vm/qemu/argv.js";
import { QmpClient } from "../src/vm/qemu/qmp.js";
import {
  FREE_COMMAND,
  fillCommand,
  type ResidentSample,
  residentBytes,
  watchResident,
} from "../test/support/memory-reporting.js";
import type { VmShape } from "./baseline-vm.js";
import { OurBuilder } from "./ours.js";
import { freePort, log, onInterrupt, runCommand, sleep, tail } from "./support.js";

/** How long after the free the resident size is read (the slow test's limit too). */
export const AFTER_SECONDS = 60;
/** The share of the guest's memory the allocation fills. */
const FILL_SHARE = 0.7;

export interface MemoryRun {
  readonly freePageReporting: boolean;
  readonly beforeBytes: number;
  readonly peakBytes: number;
  /** VmRSS AFTER_SECONDS after the guest deleted the files. */
  readonly afterBytes: number;
  /** Seconds after the free until VmRSS had fallen by 70 % of the rise; null when it never did. */
  readonly fellSeconds: number | null;
  readonly samples: readonly ResidentSample[];
}

export interface MemoryFigures {
  readonly fillMiB: number;
  readonly shape: VmShape;
  readonly with: MemoryRun | null;
  readonly without: MemoryRun | null;
  readonly failures: readonly string[];
}

/** One boot of the prepared builder's state, QEMU spawned directly; the allocation; the watch. */
async function measure(
  builder: OurBuilder,
  image: StoredImage,
  fillMiB: number,
  freePageReporting: boolean,
): Promise<MemoryRun> {
  const layout = builder.layout;
  const { command, args } = qemuCommand({
    arch: "amd64",
    accel: "tcg",
    cpus: builder.shape.cpus,
    memoryMiB: builder.shape.memoryMiB,
    kernel: join(image.directory, "kernel"),
    initrd: layout.bootInitrd,
    disk: layout.disk,
    sshPort: builder.port,
    qmpSocket: layout.qmpSocket,
    console: {
      kind: "file",
      path: join(layout.dir, `console-memory-${freePageReporting ? "on" : "off"}.log`),
    },
    freePageReporting,
  });
  await rm(layout.qmpSocket, { force: true });
  const child: ChildProcess = spawn(command, [...args], { stdio: ["ignore", "ignore", "inherit"] });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = async () => {
    if (running()) child.kill("SIGKILL");
    await exited;
  };
  const unregister = onInterrupt(kill);
  try {
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${command} did not start`);
    const deadline = Date.now() + 180_000;
    while (!(await isReady(layout, builder.port, { timeoutMs: 20_000 }))) {
      if (!running() || Date.now() > deadline) throw new Error("the builder did not become ready");
      await sleep(500);
    }
    const ssh = async (script: string) => {
      const result = await runCommand("ssh", [...sshArgs(layout, builder.port), script], {
        timeoutMs: 600_000,
      });
      if (result.code !== 0)
        throw new Error(`ssh ${script} failed (${result.code}): ${tail(result.stderr, 3)}`);
    };
    // Late modules (the balloon's driver among them) load in the background: let the boot settle.
    await sleep(5000);
    const beforeBytes = await residentBytes(pid);
    await ssh(fillCommand(fillMiB));
    const peakBytes = Math.max(beforeBytes, await residentBytes(pid));
    await ssh(FREE_COMMAND);
    const target = peakBytes - 0.7 * (peakBytes - beforeBytes);
    const { samples } = await watchResident(pid, () => false, AFTER_SECONDS * 1000, 1000);
    const fell = samples.find((s) => s.bytes <= target);
    const afterBytes = samples.at(-1)?.bytes ?? peakBytes;
    const qmp = await QmpClient.connect(layout.qmpSocket).catch(() => undefined);
    await qmp?.execute("system_powerdown").catch(() => undefined);
    qmp?.close();
    await Promise.race([exited, sleep(60_000)]);
    return {
      freePageReporting,
      beforeBytes,
      peakBytes,
      afterBytes,
      fellSeconds: fell?.seconds ?? null,
      samples,
    };
  } finally {
    await kill();
    unregister();
  }
}

export async function memoryBench(
  image: StoredImage,
  shape: VmShape,
  diskGiB: number,
): Promise<MemoryFigures> {
  const fillMiB = Math.floor(shape.memoryMiB * FILL_SHARE);
  const dir = await mkdtemp(join(tmpdir(), "lb-bench-memory-"));
  const builder = new OurBuilder(join(dir, "state"), await freePort(), shape, diskGiB);
  const failures: string[] = [];
  const runs: Record<"with" | "without", MemoryRun | null> = { with: null, without: null };
  try {
    log("memory: one builder install through the CLI (start, stop), then QEMU with and without the balloon");
    const started = await builder.start(120);
    if (!started.ok) throw new Error(`start failed: ${started.error}`);
    const stopped = await builder.stop();
    if (!stopped.ok) throw new Error(`stop failed: ${stopped.how}`);
    for (const [key, on] of [
      ["with", true],
      ["without", false],
    ] as const) {
      log(
        `memory: ${key} free page reporting: ${fillMiB} MiB written to tmpfs, deleted, ${AFTER_SECONDS} s watched`,
      );
      try {
        const result = await measure(builder, image, fillMiB, on);
        runs[key] = result;
        const m = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
        log(
          `memory: ${key}: ${m(result.beforeBytes)} before, ${m(result.peakBytes)} at the peak, ${m(result.afterBytes)} ${AFTER_SECONDS} s after the free${result.fellSeconds === null ? "" : ` (down by 70 % of the rise in ${result.fellSeconds.toFixed(0)} s)`}`,
        );
      } catch (error) {
        failures.push(`${key}: ${(error as Error).message}`);
        log(`memory: ${key}: ${(error as Error).message}`);
      }
    }
  } finally {
    await builder.run("stop").catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return { fillMiB, shape, with: runs.with, without: runs.without, failures };
}
