import { execFile } from "node:child_process";
import { mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Config } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import { ARCHITECTURES } from "../image/guest/profile.js";
import type { StoredImage } from "../image/store.js";
import { chooseAccel } from "./accel.js";
import { bootInitrd } from "./boot-secrets.js";
import { type Accelerator, qemuCommand } from "./qemu-argv.js";
import { QmpClient } from "./qmp.js";
import { ensureDisk, ensureKeys, type StateLayout, writeFileAtomic } from "./state.js";

const run = promisify(execFile);

/** What `start` recorded about the running VM (instance.json). */
export interface InstanceInfo {
  readonly pid: number;
  readonly port: number;
  readonly accel: Accelerator;
  readonly arch: string;
  readonly imageId: string;
  readonly startedAt: string;
  readonly cpus: number;
  readonly memoryMiB: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid of our QEMU if it runs; a pidfile left by a dead one is removed. */
export async function runningPid(layout: StateLayout): Promise<number | undefined> {
  const text = await readFile(layout.pidfile, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  const pid = Number.parseInt(text.trim(), 10);
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    // A recycled pid is not our VM: on Linux, check what runs under it.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
    if (cmdline === undefined || cmdline.includes("qemu-system")) return pid;
  }
  await rm(layout.pidfile, { force: true });
  return undefined;
}

/** Holds the state directory's start lock (O_EXCL file with our pid) while `fn` runs. */
async function withStartLock<T>(layout: StateLayout, fn: () => Promise<T>): Promise<T> {
  await mkdir(layout.dir, { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(layout.startLock, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const owner = Number.parseInt(await readFile(layout.startLock, "utf8").catch(() => ""), 10);
      if (Number.isInteger(owner) && alive(owner)) {
        throw new LinuxBuilderError(
          "vm.starting",
          `Another linux-builder (pid ${owner}) is starting the builder`,
          {
            hint: "Wait for it, then run `linux-builder status`.",
          },
        );
      }
      await rm(layout.startLock, { force: true }); // Stale: its owner died.
    }
  }
  try {
    return await fn();
  } finally {
    await rm(layout.startLock, { force: true });
  }
}

/** ssh arguments that reach the builder as `builder`, with this install's key and pinned host key. */
export function sshArgs(layout: StateLayout, port: number): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${layout.knownHosts}`,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-i",
    layout.builderKey,
    "-p",
    String(port),
    "builder@127.0.0.1",
  ];
}

/**
 * Ready means the guest's host key matches our pin and its Nix store answers through the daemon;
 * an open TCP port proves nothing (QEMU's user networking accepts before the guest listens).
 */
export async function isReady(layout: StateLayout, port: number): Promise<boolean> {
  try {
    await run("ssh", [...sshArgs(layout, port), "nix", "store", "info", "--store", "daemon"], {
      timeout: 30_000,
    });
    return true;
  } catch {
    return false;
  }
}

export interface StartOptions {
  readonly config: Config;
  readonly layout: StateLayout;
  readonly image: StoredImage;
  readonly waitReady: boolean;
  readonly readyTimeoutMs: number;
  readonly onWarning?: (message: string) => void;
}

export interface StartResult {
  readonly instance: InstanceInfo;
  readonly ready: boolean;
  readonly readySeconds?: number;
}

/** Starts the VM detached: keys, disk, the per-boot initrd, QEMU with -daemonize, then waits for ready. */
export async function startVm(options: StartOptions): Promise<StartResult> {
  const { config, layout, image } = options;
  return withStartLock(layout, async () => {
    const existing = await runningPid(layout);
    if (existing !== undefined) {
      throw new LinuxBuilderError("vm.running", `The builder is already running (pid ${existing})`, {
        hint: "`linux-builder status` shows it; `linux-builder stop` stops it.",
      });
    }
    if (image.manifest.arch !== config.arch) {
      throw new LinuxBuilderError(
        "vm.arch",
        `The image ${image.manifest.id} is ${image.manifest.arch}, the config says ${config.arch}`,
      );
    }
    const keys = await ensureKeys(layout);
    const disk = await ensureDisk(layout.disk, config.diskGiB);
    if (disk.grownFromGiB !== undefined) {
      options.onWarning?.(`the /nix disk grows from ${disk.grownFromGiB} GiB to ${config.diskGiB} GiB`);
    }
    const [type, blob] = keys.hostPublicKey.split(" ");
    await writeFileAtomic(layout.knownHosts, `[127.0.0.1]:${config.port} ${type} ${blob}\n`, 0o644);
    const shared = await readFile(join(image.directory, "initrd"));
    await writeFileAtomic(
      layout.bootInitrd,
      bootInitrd(shared, {
        hostPrivateKey: await readFile(layout.hostKey, "utf8"),
        hostPublicKey: keys.hostPublicKey,
        authorizedKeys: `${keys.builderPublicKey}\n`,
      }),
      0o600,
    );
    const qemu = ARCHITECTURES[config.arch].qemu;
    const accel = await chooseAccel({
      requested: config.accel,
      arch: config.arch,
      qemu,
      kernel: join(image.directory, "kernel"),
      kernelId: image.manifest.id,
      cacheFile: join(layout.dir, "accel.json"),
    });
    if (accel.warning) options.onWarning?.(accel.warning);
    for (const stale of [layout.qmpSocket, layout.consoleSocket]) await rm(stale, { force: true });
    const { command, args } = qemuCommand({
      arch: config.arch,
      accel: accel.accel,
      cpus: config.cpus,
      memoryMiB: config.memoryMiB,
      kernel: join(image.directory, "kernel"),
      initrd: layout.bootInitrd,
      disk: layout.disk,
      sshPort: config.port,
      qmpSocket: layout.qmpSocket,
      console: { kind: "socket", path: layout.consoleSocket, logfile: layout.consoleLog },
      daemonize: { pidfile: layout.pidfile },
    });
    const started = performance.now();
    try {
      await run(command, [...args], { timeout: 60_000 });
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
      const portTaken = /Could not set up host forwarding rule/.test(stderr);
      throw new LinuxBuilderError(
        portTaken ? "vm.port-taken" : "vm.qemu-failed",
        portTaken
          ? `Cannot start the builder: port ${config.port} on 127.0.0.1 is taken`
          : `Cannot start the builder: ${command} failed: ${stderr || (error as Error).message}`,
        {
          hint: portTaken
            ? 'Set another port (--port or "port" in the config file); `linux-builder doctor` names the process that holds it.'
            : `Is QEMU installed (${command})? \`linux-builder doctor\` checks.`,
        },
      );
    }
    const pid = await runningPid(layout);
    if (pid === undefined) {
      throw new LinuxBuilderError(
        "vm.qemu-failed",
        `QEMU started but left no running process (see ${layout.consoleLog})`,
      );
    }
    const instance: InstanceInfo = {
      pid,
      port: config.port,
      accel: accel.accel,
      arch: config.arch,
      imageId: image.manifest.id,
      startedAt: new Date().toISOString(),
      cpus: config.cpus,
      memoryMiB: config.memoryMiB,
    };
    await writeFileAtomic(layout.instance, `${JSON.stringify(instance, null, 2)}\n`, 0o644);
    if (!options.waitReady) return { instance, ready: false };
    const deadline = Date.now() + options.readyTimeoutMs;
    while (Date.now() < deadline) {
      if ((await runningPid(layout)) === undefined) {
        throw new LinuxBuilderError(
          "vm.died",
          `The builder stopped while booting; its console log is ${layout.consoleLog}`,
          {
            hint: "`linux-builder logs` shows what the guest printed.",
          },
        );
      }
      if (await isReady(layout, config.port)) {
        return { instance, ready: true, readySeconds: (performance.now() - started) / 1000 };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { instance, ready: false };
  });
}

export async function readInstance(layout: StateLayout): Promise<InstanceInfo | undefined> {
  const text = await readFile(layout.instance, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as InstanceInfo;
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !alive(pid);
}

export type StopOutcome = "not-running" | "powered-off" | "quit" | "terminated" | "killed";

/**
 * Stops the VM: ACPI power-down through QMP (the guest stops its daemons and unmounts /nix); after
 * the deadline QMP `quit`; then SIGTERM and SIGKILL. Says how it ended.
 */
export async function stopVm(
  layout: StateLayout,
  deadlineMs: number,
): Promise<{ outcome: StopOutcome; seconds: number }> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const pid = await runningPid(layout);
  if (pid === undefined) return { outcome: "not-running", seconds: 0 };
  const qmp = await QmpClient.connect(layout.qmpSocket).catch(() => undefined);
  let outcome: StopOutcome | undefined;
  if (qmp) {
    await qmp.execute("system_powerdown").catch(() => undefined);
    if (await waitGone(pid, deadlineMs)) outcome = "powered-off";
    else {
      await qmp.execute("quit").catch(() => undefined);
      if (await waitGone(pid, 5_000)) outcome = "quit";
    }
    qmp.close();
  }
  if (outcome === undefined) {
    process.kill(pid, "SIGTERM");
    if (await waitGone(pid, 5_000)) outcome = "terminated";
    else {
      process.kill(pid, "SIGKILL");
      await waitGone(pid, 5_000);
      outcome = "killed";
    }
  }
  await rm(layout.pidfile, { force: true });
  for (const file of [layout.qmpSocket, layout.consoleSocket, layout.bootInitrd])
    await rm(file, { force: true });
  return { outcome, seconds: seconds() };
}

/** Bytes the sparse disk really uses on the host. */
export async function diskUsage(
  layout: StateLayout,
): Promise<{ allocated: number; size: number } | undefined> {
  const info = await stat(layout.disk).catch(() => undefined);
  if (info === undefined) return undefined;
  return { allocated: info.blocks * 512, size: info.size };
}
