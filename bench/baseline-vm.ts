/**
 * Boots the baseline disk image under the same QEMU, machine type, accelerator, CPUs, memory and
 * devices our product uses (its own qemuCommand, with the baseline's kernel and initrd and
 * `root=/dev/vda rw`), waits until it is ready by our criterion, and stops it the way `stop` does:
 * QMP system_powerdown, then waits for QEMU to be gone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sshArgs } from "../src/ssh/builder-ssh.js";
import { isReady } from "../src/vm/lifecycle/readiness.js";
import { qemuCommand } from "../src/vm/qemu/argv.js";
import { QmpClient } from "../src/vm/qemu/qmp.js";
import { type StateLayout, stateLayout } from "../src/vm/state.js";
import type { BaselineImage } from "./baseline-image.js";
import { runCommand, sleep } from "./support.js";

export interface VmShape {
  readonly cpus: number;
  readonly memoryMiB: number;
}

export class BaselineVm {
  private constructor(
    readonly image: BaselineImage,
    readonly port: number,
    readonly consoleLog: string,
    private readonly qmpSocket: string,
    /** Laid out as our state directory, so that our own readiness check and ssh reach it. */
    private readonly layout: StateLayout,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    /** performance.now() when QEMU was spawned. */
    readonly spawnedAt: number,
  ) {}

  /** Spawns QEMU on `disk` (a copy of the image's pristine disk); returns at once. */
  static async spawn(options: {
    image: BaselineImage;
    disk: string;
    stateDir: string;
    port: number;
    shape: VmShape;
    boot: number;
  }): Promise<BaselineVm> {
    const { image, stateDir, port } = options;
    const layout = stateLayout(stateDir);
    const [type, blob] = image.hostPublicKey.split(" ");
    await writeFile(layout.knownHosts, `[127.0.0.1]:${port} ${type} ${blob}\n`);
    await mkdir(join(stateDir, "keys"), { recursive: true, mode: 0o700 });
    await copyFile(image.builderKey, layout.builderKey);
    const consoleLog = join(stateDir, `console-${options.boot}.log`);
    const qmpSocket = join(stateDir, "qmp.sock");
    await rm(qmpSocket, { force: true });
    const { command, args } = qemuCommand({
      arch: "amd64",
      accel: "tcg",
      cpus: options.shape.cpus,
      memoryMiB: options.shape.memoryMiB,
      kernel: image.kernel,
      initrd: image.initrd,
      disk: options.disk,
      sshPort: port,
      qmpSocket,
      console: { kind: "file", path: consoleLog },
      extraKernelArgs: ["root=/dev/vda", "rw"],
    });
    const spawnedAt = performance.now();
    const child = spawn(command, [...args], { stdio: ["ignore", "ignore", "inherit"] });
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    return new BaselineVm(image, port, consoleLog, qmpSocket, layout, child, exited, spawnedAt);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How QEMU ended, once it has. */
  get ended(): string {
    return `QEMU exited (${this.child.exitCode ?? this.child.signalCode})`;
  }

  /** Runs a command in the guest as `builder`, as `linux-builder ssh` would. */
  async ssh(command: string[], timeoutMs = 30_000) {
    return runCommand("ssh", [...sshArgs(this.layout, this.port), ...command], { timeoutMs });
  }

  /**
   * Polls our own readiness criterion (the product's isReady, as `start` calls it: the pinned host
   * key, then the Nix daemon answers through the reused connection's forward of its socket) every
   * 250 ms. Returns the seconds since QEMU
   * was spawned, or null on timeout or when QEMU is gone.
   */
  async waitReady(timeoutMs: number): Promise<number | null> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.running) {
      if (await isReady(this.layout, this.port, { reuse: true }))
        return (performance.now() - this.spawnedAt) / 1000;
      await sleep(250);
    }
    return null;
  }

  /** QMP system_powerdown → QEMU gone; after `deadlineMs`, SIGKILL. Seconds, and how it ended. */
  async stop(deadlineMs = 120_000): Promise<{ seconds: number; clean: boolean }> {
    const started = performance.now();
    if (!this.running) return { seconds: 0, clean: true };
    const qmp = await QmpClient.connect(this.qmpSocket).catch(() => undefined);
    await qmp?.execute("system_powerdown").catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const gone = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    qmp?.close();
    const seconds = (performance.now() - started) / 1000;
    if (!gone) await this.kill();
    return { seconds, clean: gone && qmp !== undefined };
  }

  /** For finally blocks: QEMU gone, whatever it takes. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }
}
