import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, constants, copyFile, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { Config } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import { type PerBoot, perBootTail } from "../guest/boot-archive.js";
import type { GuestBootParameters } from "../guest/boot-parameters.js";
import { failureBeforeReady, kernelCrash, scanConsole } from "../guest/console-lines.js";
import { consoleOffset, readConsoleSince, waitForGuestSignal } from "../guest/console-log.js";
import { guestNixConf } from "../guest/nix-conf.js";
import { guestCas, type HostCaDeps, hostCaDeps } from "../host/ca-certificates.js";
import { ARCHITECTURES, type Arch } from "../image/guest/profile.js";
import type { StoredImage } from "../image/store.js";
import { daemonAnswers, daemonAnswersAt } from "../nix/daemon-handshake.js";
import { chooseAccel } from "./accel.js";
import { type InstanceInfo, readInstance, writeInstance } from "./instance.js";
import {
  type Accelerator,
  hostForwardAddress,
  hostPlatformOf,
  privilegedPortWarning,
  qemuCommand,
} from "./qemu-argv.js";
import { QmpClient } from "./qmp.js";
import {
  acquireStartLock,
  lockedStep,
  processAlive,
  readyWaitStep,
  releaseStartLock,
  takeStartLockNow,
} from "./start-lock.js";
import { ensureDisk, ensureKeys, type InstallKeys, type StateLayout, writeFileAtomic } from "./state.js";

const run = promisify(execFile);

export { type InstanceInfo, readInstance } from "./instance.js";

/** The pid of our QEMU if it runs; a pidfile left by a dead one is removed. */
export async function runningPid(layout: StateLayout): Promise<number | undefined> {
  const text = await readFile(layout.pidfile, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  // Not a pid (yet): QEMU may be writing it right now (it truncates, then writes); leave it be.
  if (!/^\d+$/.test(text.trim())) return undefined;
  const pid = Number(text.trim());
  if (pid > 0 && processAlive(pid)) {
    // A recycled pid is not our VM: on Linux, check what runs under it.
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
    if (cmdline === undefined || cmdline.includes("qemu-system")) return pid;
  }
  await rm(layout.pidfile, { force: true });
  return undefined;
}

/** Holds the state folder's start lock while `fn` runs, without waiting for it (see takeStartLockNow). */
async function withStartLockNow<T>(layout: StateLayout, fn: () => Promise<T>): Promise<T> {
  await takeStartLockNow(layout);
  try {
    return await fn();
  } finally {
    await releaseStartLock(layout);
  }
}

/** ssh arguments that reach the builder as `builder`, with this install's key and pinned host key. */
export function sshArgs(layout: StateLayout, port: number, options: { reuse?: boolean } = {}): string[] {
  return [...sshOptions(layout, port, options), BUILDER_DESTINATION];
}

const BUILDER_DESTINATION = "builder@127.0.0.1";

/**
 * A path as the value of an ssh `-o` option: quoted, as ssh splits values at spaces (the state folder
 * on macOS is under "Application Support"), and with `%` doubled, as ssh expands %-tokens in paths.
 */
export function sshPathValue(path: string): string {
  if (path.includes('"')) {
    throw new LinuxBuilderError(
      "vm.state-path",
      `ssh cannot be given a path with a double quote in it: ${path}`,
      {
        hint: "Choose a state folder without one (--state-dir, or stateDir in config.json).",
      },
    );
  }
  return `"${path.replaceAll("%", "%%")}"`;
}

function sshOptions(layout: StateLayout, port: number, options: { reuse?: boolean }): string[] {
  return [
    // One connection, shared by the checks while the builder comes up (a handshake under TCG took
    // about a second) and by `linux-builder ssh` for a while after; the socket lives in the 0700
    // state folder. A forward's socket left by an earlier connection is replaced.
    ...(options.reuse
      ? [
          ...["-o", "ControlMaster=auto", "-o", `ControlPath=${sshPathValue(`${layout.dir}/ssh.sock`)}`],
          ...["-o", "ControlPersist=60", "-o", "StreamLocalBindUnlink=yes"],
        ]
      : []),
    "-F",
    "/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${sshPathValue(layout.knownHosts)}`,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-i",
    layout.builderKey,
    "-p",
    String(port),
  ];
}

/** Where the guest's Nix daemon listens (Nix's default). */
const GUEST_DAEMON_SOCKET = "/nix/var/nix/daemon-socket/socket";

/** `-L` for the daemon socket's forward (its local path %-escaped, as ssh expands tokens there). */
function daemonForward(layout: StateLayout): string[] {
  return ["-L", `${layout.daemonSocket.replaceAll("%", "%%")}:${GUEST_DAEMON_SOCKET}`];
}

/** Runs ssh to its exit (never longer than `timeoutMs`), with no pipes a backgrounded ssh would hold. */
function sshExits(args: readonly string[], timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("ssh", [...args], { stdio: "ignore" });
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(code === 0);
    });
  });
}

/**
 * Puts the guest's daemon socket at layout.daemonSocket: added to the reused connection when one
 * runs (`-O forward`, no session in the guest), else a new one is started with it (`-f -N -L`
 * returns once the connection is up and the forward in place).
 */
async function forwardDaemonSocket(layout: StateLayout, port: number, timeoutMs: number): Promise<boolean> {
  const options = sshOptions(layout, port, { reuse: true });
  // Nothing answered there: whatever socket file is left belongs to a connection that is gone.
  await rm(layout.daemonSocket, { force: true });
  if (await sshExits([...options, "-O", "check", BUILDER_DESTINATION], timeoutMs)) {
    return sshExits([...options, "-O", "forward", ...daemonForward(layout), BUILDER_DESTINATION], timeoutMs);
  }
  return sshExits(
    [
      ...options,
      // Plain X25519 rather than the default post-quantum hybrid, whose guest half under TCG made
      // each connection 0.1 s slower (0.64 s against 0.74 s, mean of 6): this connection never
      // leaves the machine (127.0.0.1 to our own VM), so there is no traffic for anyone to record
      // now and decrypt later.
      "-o",
      "KexAlgorithms=curve25519-sha256,curve25519-sha256@libssh.org",
      "-o",
      "ExitOnForwardFailure=yes",
      ...daemonForward(layout),
      "-f",
      "-N",
      BUILDER_DESTINATION,
    ],
    timeoutMs,
  );
}

/**
 * Ready means the guest's host key matches our pin and its Nix store answers over the builder's ssh;
 * an open TCP port proves nothing (QEMU's user networking accepts before the guest listens).
 *
 * With `reuse`, the store is asked through the reused connection's forward of the daemon's socket:
 * no program starts in the guest (sshd hands the channel to the daemon's socket), where
 * `nix-daemon --stdio` (what Nix's ssh-ng:// store runs, a relay to that same socket) took 0.3 s
 * under TCG. Without it, as Nix does: `nix-daemon --stdio`. It answers within `timeoutMs`.
 */
export async function isReady(
  layout: StateLayout,
  port: number,
  options: { reuse?: boolean; timeoutMs?: number } = {},
): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const left = () => Math.max(1, deadline - Date.now());
  if (!options.reuse) {
    const args = [...sshArgs(layout, port, options), "nix-daemon", "--stdio"];
    return (await daemonAnswers("ssh", args, left())) !== undefined;
  }
  const asked = await daemonAnswersAt(layout.daemonSocket, left());
  if (asked.hello !== undefined) return true;
  // The forward is there, the daemon not yet: ask again later, without another ssh.
  if (asked.connected) return false;
  if (!(await forwardDaemonSocket(layout, port, left()))) return false;
  return (await daemonAnswersAt(layout.daemonSocket, left())).hello !== undefined;
}

export interface BootOptions {
  readonly config: Config;
  readonly layout: StateLayout;
  readonly image: StoredImage;
  readonly onWarning?: (message: string) => void;
  /** The host's files and commands the default CAs come from (tests pass their own). */
  readonly caDeps?: HostCaDeps;
}

export interface StartOptions extends Omit<BootOptions, "image"> {
  /** The image to boot: asked for only when this start boots the VM (it may compose one). */
  readonly image: () => Promise<StoredImage>;
  readonly waitReady: boolean;
  /** How long to wait in all: for another start to finish, then for the builder to be ready. */
  readonly readyTimeoutMs: number;
  /** This start boots the VM (said once the image is there, before QEMU starts). */
  readonly onBoot?: () => void;
  /** Another linux-builder (`owner`) is starting the builder: this start waits for it. */
  readonly onWait?: (owner: number) => void;
}

/** This start booted the VM. */
export interface StartBooted {
  readonly kind: "booted";
  readonly instance: InstanceInfo;
  readonly ready: boolean;
  readonly readySeconds?: number;
  /** Where the time went, in seconds from QEMU's start: QEMU running, the guest's sshd up, the store's answer. */
  readonly phases?: { readonly qemu: number; readonly guest: number; readonly store: number };
}

/** The VM was running already, or another start booted it; `ready` once it answered (never with --no-wait). */
export interface StartFoundRunning {
  readonly kind: "running";
  readonly pid: number;
  readonly ready: boolean;
  /** How long this start waited: for the other start, then for ready. */
  readonly waitedSeconds: number;
}

export type StartResult = StartBooted | StartFoundRunning;

/** A VM ready to boot: QEMU's argv, the accelerator chosen, and the keys the host trusts it by. */
export interface PreparedBoot {
  readonly command: string;
  readonly args: readonly string[];
  readonly accel: Accelerator;
  readonly keys: InstallKeys;
  /** Where this boot's extra CAs came from, for status. */
  readonly caSource: string;
}

function portTakenError(port: number): LinuxBuilderError {
  return new LinuxBuilderError(
    "vm.port-taken",
    `Cannot start the builder: port ${port} on 127.0.0.1 is taken`,
    {
      hint: 'Set another port (--port or "port" in the config file); `linux-builder doctor` names the process that holds it.',
    },
  );
}

/** QEMU would fail on a taken port too, but only after the accelerator probe and with a terse message. */
/** Binds where QEMU's forward will (see hostForwardAddress), so a taken port is named before booting. */
async function assertPortFree(port: number, host: string): Promise<void> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host, exclusive: true }, resolve);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw portTakenError(port);
    if (code === "EACCES") {
      throw new LinuxBuilderError(
        "vm.port-privileged",
        `Cannot listen on ${host}:${port}: permission denied`,
        {
          hint: "Ports below 1024 need privileges: pick a port above 1023 (--port).",
        },
      );
    }
    throw error;
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Everything before QEMU runs, for `start` and `run` alike (call under the start lock): not already
 * running, the port free, keys, disk, the pinned host key, the per-boot initrd, the accelerator.
 * Detached, QEMU serves the console on a socket and daemonizes; attached, the console is this
 * terminal, shared with the monitor (Ctrl-a c). Either way QEMU writes the pidfile and serves QMP, so
 * status, stop and ssh work from anywhere.
 */
export async function prepareBoot(
  options: BootOptions,
  mode: "detached" | "attached",
): Promise<PreparedBoot> {
  const { config, layout, image } = options;
  const existing = await runningPid(layout);
  // `start` looks under the lock first (a running builder is success there); `run` cannot take over
  // a running builder's console, so for it this is an error.
  if (existing !== undefined) {
    throw new LinuxBuilderError(
      "vm.running",
      mode === "attached"
        ? `The builder is already running (pid ${existing}): \`run\` boots one in this terminal, and cannot attach to it`
        : `The builder is already running (pid ${existing})`,
      {
        hint:
          mode === "attached"
            ? "`linux-builder console` attaches to its console, `linux-builder ssh` logs in; `linux-builder stop` stops it."
            : "`linux-builder status` shows it; `linux-builder stop` stops it.",
      },
    );
  }
  if (image.manifest.arch !== config.arch) {
    throw new LinuxBuilderError(
      "vm.arch",
      `The image ${image.manifest.id} is ${image.manifest.arch}, the config says ${config.arch}`,
    );
  }
  const hostPlatform = hostPlatformOf(process.platform);
  await assertPortFree(config.port, hostForwardAddress(hostPlatform, config.port));
  const privileged = privilegedPortWarning({ hostPlatform, sshPort: config.port });
  if (privileged) options.onWarning?.(privileged);
  // Before the keys and the disk are made: a bad caCertificates file stops the start here.
  const cas = await guestCas(config.caCertificates, options.caDeps ?? hostCaDeps());
  if (cas.warning) options.onWarning?.(cas.warning);
  const keys = await ensureKeys(layout);
  const disk = await ensureDisk(layout.disk, config.diskGiB);
  if (disk.grownFromGiB !== undefined) {
    options.onWarning?.(`the /nix disk grows from ${disk.grownFromGiB} GiB to ${config.diskGiB} GiB`);
  }
  const [type, blob] = keys.hostPublicKey.split(" ");
  await writeFileAtomic(layout.knownHosts, `[127.0.0.1]:${config.port} ${type} ${blob}\n`, 0o644);
  await ensureBootInitrd(layout, image, {
    secrets: {
      hostPrivateKey: await readFile(layout.hostKey, "utf8"),
      hostPublicKey: keys.hostPublicKey,
      authorizedKeys: `${keys.builderPublicKey}\n`,
      nixConf: guestNixConf(config),
      caCertificates: cas.pem,
    },
    parameters: qemuGuestParameters(config.arch),
  });
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
  for (const stale of [layout.qmpSocket, layout.consoleSocket, layout.daemonSocket])
    await rm(stale, { force: true });
  const attached = mode === "attached";
  const { command, args } = qemuCommand({
    arch: config.arch,
    accel: accel.accel,
    cpus: config.cpus,
    memoryMiB: config.memoryMiB,
    kernel: join(image.directory, "kernel"),
    initrd: layout.bootInitrd,
    disk: layout.disk,
    sshPort: config.port,
    hostPlatform,
    qmpSocket: layout.qmpSocket,
    console: attached
      ? { kind: "stdio", logfile: layout.consoleLog }
      : { kind: "socket", path: layout.consoleSocket, logfile: layout.consoleLog },
    ...(attached ? {} : { daemonize: { pidfile: layout.pidfile } }),
  });
  // -pidfile works without -daemonize too: QEMU writes it (and locks it) at once.
  return {
    command,
    args: attached ? [...args, "-pidfile", layout.pidfile] : args,
    accel: accel.accel,
    keys,
    caSource: cas.count === 0 ? cas.source : `${cas.count} from ${cas.source}`,
  };
}

/** Writes instance.json, what status and ssh read about the running VM. */
async function recordInstance(
  options: BootOptions,
  boot: PreparedBoot,
  pid: number,
  attached: boolean,
  consoleOffset: number,
): Promise<InstanceInfo> {
  const { config, layout, image } = options;
  const instance: InstanceInfo = {
    pid,
    port: config.port,
    accel: boot.accel,
    arch: config.arch,
    imageId: image.manifest.id,
    startedAt: new Date().toISOString(),
    cpus: config.cpus,
    memoryMiB: config.memoryMiB,
    attached,
    consoleOffset,
    caCertificates: boot.caSource,
  };
  await writeInstance(layout, instance);
  return instance;
}

/**
 * Makes sure the builder runs, and with `waitReady` that it is ready: idempotent, and safe to run
 * many times at once on one state folder. Under the start lock, exactly one start boots the VM; a
 * start that finds the lock held by a live process waits until it is given up (a start that died
 * leaves a stale lock, which is removed), then looks again: the VM running, it waits for it to be
 * ready (still under the lock, so one start at a time sets up the shared ssh connection); else it
 * boots it. All within `readyTimeoutMs`, except a boot's own wait for ready, which has all of it
 * from QEMU's start.
 */
export async function startVm(options: StartOptions): Promise<StartResult> {
  const { layout } = options;
  const began = performance.now();
  const deadline = Date.now() + options.readyTimeoutMs;
  const waited = () => (performance.now() - began) / 1000;
  const got = await acquireStartLock(layout, {
    deadline,
    waitReady: options.waitReady,
    vmPid: () => runningPid(layout),
    ...(options.onWait ? { onWait: options.onWait } : {}),
  });
  if (got.kind === "running") return { kind: "running", pid: got.pid, ready: false, waitedSeconds: waited() };
  try {
    const pid = await runningPid(layout);
    switch (lockedStep({ vmRunning: pid !== undefined, waitReady: options.waitReady })) {
      case "boot": {
        const image = await options.image();
        options.onBoot?.();
        return await bootDetached({ ...options, image });
      }
      case "running":
        return { kind: "running", pid: pid as number, ready: false, waitedSeconds: waited() };
      case "wait-ready": {
        const port = (await readInstance(layout))?.port ?? options.config.port;
        const ready = await waitUntilReady(layout, port, pid as number, deadline);
        return { kind: "running", pid: pid as number, ready, waitedSeconds: waited() };
      }
    }
  } finally {
    await releaseStartLock(layout);
  }
}

/**
 * Waits for a VM this start did not boot to be ready; false when the deadline comes first. A VM that
 * stops meanwhile, or whose guest says its boot failed, is an error, as for a boot of our own.
 */
async function waitUntilReady(
  layout: StateLayout,
  port: number,
  pid: number,
  deadline: number,
): Promise<boolean> {
  const offset = (await readInstance(layout))?.consoleOffset;
  for (;;) {
    const vmRunning = (await runningPid(layout)) === pid;
    const ready =
      vmRunning &&
      (await isReady(layout, port, {
        reuse: true,
        timeoutMs: Math.min(15_000, Math.max(1, deadline - Date.now())),
      }));
    const failure = vmRunning && !ready ? await bootFailure(layout) : undefined;
    switch (
      readyWaitStep({ vmRunning, ready, bootFailed: failure !== undefined, timedOut: Date.now() >= deadline })
    ) {
      case "ready":
        return true;
      case "timed-out":
        return false;
      case "poll":
        await sleep(200);
        continue;
      case "failed":
        throw new LinuxBuilderError("vm.guest-failed", `The builder failed to boot: ${failure}`, {
          hint: `\`linux-builder logs\` shows the console (${layout.consoleLog}); \`linux-builder stop\` stops it.`,
        });
      case "died": {
        const crash =
          offset === undefined ? undefined : kernelCrash(await readConsoleSince(layout.consoleLog, offset));
        throw new LinuxBuilderError(
          crash ? "vm.kernel-crashed" : "vm.died",
          crash
            ? `The builder's kernel crashed while booting (${crash})`
            : `The builder (pid ${pid}) stopped while this start waited for it to be ready; its console log is ${layout.consoleLog}`,
          { hint: "`linux-builder logs` shows what the guest printed." },
        );
      }
    }
  }
}

/** Boots the VM detached, under the start lock: the shared preparation, QEMU with -daemonize, then waits for ready. */
async function bootDetached(
  options: Omit<StartOptions, "image"> & { readonly image: StoredImage },
): Promise<StartBooted> {
  const { config, layout } = options;
  const boot = await prepareBoot(options, "detached");
  const logOffset = await consoleOffset(layout.consoleLog);
  const started = performance.now();
  try {
    await run(boot.command, [...boot.args], { timeout: 60_000 });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? "").trim();
    // The port was free a moment ago; something may have taken it since.
    if (/Could not set up host forwarding rule/.test(stderr)) throw portTakenError(config.port);
    throw new LinuxBuilderError(
      "vm.qemu-failed",
      `Cannot start the builder: ${boot.command} failed: ${stderr || (error as Error).message}`,
      { hint: `Is QEMU installed (${boot.command})? \`linux-builder doctor\` checks.` },
    );
  }
  const pid = await runningPid(layout);
  if (pid === undefined) {
    throw new LinuxBuilderError(
      "vm.qemu-failed",
      `QEMU started but left no running process (see ${layout.consoleLog})`,
    );
  }
  const instance = await recordInstance(options, boot, pid, false, logOffset);
  if (!options.waitReady) return { kind: "booted", instance, ready: false };
  const deadline = Date.now() + options.readyTimeoutMs;
  const seconds = () => (performance.now() - started) / 1000;
  const qemuSeconds = seconds();
  // Wait for the guest's word that sshd listens (or that it failed); then check the store answers,
  // over one reused connection, until it does.
  const signal = await waitForGuestSignal(layout.consoleLog, logOffset, {
    deadline,
    alive: async () => (await runningPid(layout)) !== undefined,
  });
  const failed = async () => {
    const now = scanConsole(await readConsoleSince(layout.consoleLog, logOffset));
    if (now?.kind !== "failed") return;
    throw new LinuxBuilderError("vm.guest-failed", `The builder failed to boot: ${now.reason}`, {
      hint: `\`linux-builder logs\` shows the console (${layout.consoleLog}); \`linux-builder stop\` stops it.`,
    });
  };
  await failed();
  const guestSeconds = seconds();
  while (signal !== undefined && Date.now() < deadline) {
    if ((await runningPid(layout)) === undefined) {
      const crash = kernelCrash(await readConsoleSince(layout.consoleLog, logOffset));
      throw new LinuxBuilderError(
        crash ? "vm.kernel-crashed" : "vm.died",
        crash
          ? `The builder's kernel crashed while booting (${crash})`
          : `The builder stopped while booting; its console log is ${layout.consoleLog}`,
        { hint: "`linux-builder logs` shows what the guest printed." },
      );
    }
    if (await isReady(layout, config.port, { reuse: true, timeoutMs: Math.max(1, deadline - Date.now()) })) {
      const store = seconds();
      return {
        kind: "booted",
        instance,
        ready: true,
        readySeconds: store,
        phases: { qemu: qemuSeconds, guest: guestSeconds, store },
      };
    }
    await failed();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { kind: "booted", instance, ready: false };
}

export interface RunOptions extends BootOptions {
  /** Runs once the VM is prepared, before QEMU takes the terminal: prints, installs. */
  readonly beforeBoot?: (boot: PreparedBoot) => Promise<void>;
  /** On SIGTERM or SIGHUP, how long the guest may take to power off, as `stop --timeout`. */
  readonly stopDeadlineMs: number;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly seconds: number;
  /** The end of what this boot printed on the console, to tell how it ended. */
  readonly consoleTail: string;
}

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

/**
 * While an attached QEMU runs, this process must outlive it to clean up. Ctrl-c reaches the guest
 * through the terminal (QEMU's signal=off), and a SIGINT sent to the whole process group reaches QEMU
 * too, which decides: we ignore it. A SIGTERM for us (a service manager, `kill PID`) or a SIGHUP (the
 * terminal went away; when we lead the session, QEMU is not told) stops the guest cleanly, as `stop`
 * does. Returns the function that restores the default handlers.
 */
function holdSignals(layout: StateLayout, stopDeadlineMs: number, child: ChildProcess): () => void {
  let stopping = false;
  const ignore = () => {};
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Before QEMU wrote its pidfile there is nothing for `stop` to find: signal it directly.
    void stopVm(layout, stopDeadlineMs)
      .then(({ outcome }) => outcome === "not-running" && child.kill("SIGTERM"))
      .catch(() => undefined);
  };
  process.on("SIGINT", ignore);
  process.on("SIGHUP", stop);
  process.on("SIGTERM", stop);
  return () => {
    process.off("SIGINT", ignore);
    process.off("SIGHUP", stop);
    process.off("SIGTERM", stop);
  };
}

/** Waits until QEMU's pidfile names `pid`, or QEMU ends first (then says how). */
async function waitForPidfile(
  layout: StateLayout,
  pid: number,
  ended: Promise<Ended>,
): Promise<Ended | undefined> {
  let end: Ended | undefined;
  void ended.then((value) => {
    end = value;
  });
  const deadline = Date.now() + 30_000;
  while (end === undefined && Date.now() < deadline) {
    if ((await runningPid(layout)) === pid) return undefined;
    await sleep(50);
  }
  return end ?? { code: null, signal: null, error: new Error("QEMU wrote no pidfile within 30 s") };
}

/**
 * Runs the VM attached to this terminal (`nix run nixpkgs#darwin.builder`): the shared preparation,
 * `beforeBoot`, then QEMU in the foreground with the console and monitor on stdio, until it exits.
 * Cleans up as `stop` does and returns QEMU's exit status.
 */
export async function runVm(options: RunOptions): Promise<RunResult> {
  const { layout } = options;
  const logOffset = await consoleOffset(layout.consoleLog);
  // Set once QEMU is spawned: from then on, whatever happens, its files are cleaned up.
  let restoreSignals: (() => void) | undefined;
  try {
    const { ended, started } = await withStartLockNow(layout, async () => {
      const boot = await prepareBoot(options, "attached");
      await options.beforeBoot?.(boot);
      const child = spawn(boot.command, [...boot.args], { stdio: "inherit" });
      restoreSignals = holdSignals(layout, options.stopDeadlineMs, child);
      const started = performance.now();
      const ended = new Promise<Ended>((resolve) => {
        child.once("error", (error) => resolve({ code: null, signal: null, error }));
        child.once("exit", (code, signal) => resolve({ code, signal }));
      });
      const pid = child.pid;
      const early = pid === undefined ? await ended : await waitForPidfile(layout, pid, ended);
      if (early !== undefined || pid === undefined) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        // QEMU printed its own message on the terminal (stderr is inherited).
        const why =
          (early?.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT"
            ? "is not installed"
            : early?.error
              ? `failed: ${early.error.message}`
              : `exited with status ${early?.code ?? early?.signal} (its message is above)`;
        throw new LinuxBuilderError("vm.qemu-failed", `Cannot start the builder: ${boot.command} ${why}`, {
          hint: "`linux-builder doctor` checks QEMU and the port.",
        });
      }
      await recordInstance(options, boot, pid, true, logOffset);
      return { ended, started };
    });
    const end = await ended;
    return {
      code: end.code,
      signal: end.signal,
      seconds: (performance.now() - started) / 1000,
      consoleTail: await readConsoleSince(layout.consoleLog, logOffset),
    };
  } finally {
    if (restoreSignals !== undefined) {
      restoreSignals();
      await cleanUpAfterQemu(layout);
    }
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !processAlive(pid);
}

/** Once QEMU is gone: its pidfile and sockets. */
async function cleanUpAfterQemu(layout: StateLayout): Promise<void> {
  for (const file of [layout.pidfile, layout.qmpSocket, layout.consoleSocket])
    await rm(file, { force: true });
}

/**
 * The guest as QEMU shapes it (user networking's fixed addresses, the virtio disk, the serial
 * console, the power button: ACPI's on q35, the PL061 GPIO line on arm64's virt machine).
 * Here until the QEMU backend has its guestParameters(arch) (issue 11).
 */
export function qemuGuestParameters(arch: Arch): GuestBootParameters {
  return {
    network: { kind: "static", address: "10.0.2.15/24", gateway: "10.0.2.2", nameserver: "10.0.2.3" },
    dataDisk: "/dev/vda",
    console: ARCHITECTURES[arch].console,
    powerButton: arch === "amd64" ? "acpi" : "pl061-gpio",
  };
}

/**
 * The initrd QEMU boots: the image's, then this boot's archive. It is kept between boots (in the
 * 0700 state folder, beside the keys it copies) and rewritten only when the image or the keys
 * change: copying the image (85 MiB then) every start cost 0.5 s here.
 */
async function ensureBootInitrd(layout: StateLayout, image: StoredImage, perBoot: PerBoot): Promise<void> {
  const tail = perBootTail(image.manifest.initrd.size, perBoot);
  const key = createHash("sha256").update(`${image.manifest.initrd.sha256}\n`).update(tail).digest("hex");
  // What a start that died here left (starts hold the state folder's lock, so none is running).
  const base = basename(layout.bootInitrd);
  for (const name of await readdir(layout.dir).catch(() => [] as string[])) {
    if (name.startsWith(`${base}.`) && name.endsWith(".tmp"))
      await rm(join(layout.dir, name), { force: true });
  }
  const stampFile = `${layout.bootInitrd}.key`;
  const stamp = await readFile(stampFile, "utf8").catch(() => undefined);
  const current = await stat(layout.bootInitrd).catch(() => undefined);
  if (stamp === key && current?.size === image.manifest.initrd.size + tail.length) return;
  await rm(stampFile, { force: true });
  // A clone where the file system makes one (APFS, btrfs, XFS), else a copy inside the kernel: the
  // image (63 MiB) never passes through this process. Then the secrets, appended once the copy is 0600.
  const temp = `${layout.bootInitrd}.${process.pid}.tmp`;
  try {
    await copyFile(join(image.directory, "initrd"), temp, constants.COPYFILE_FICLONE);
    await chmod(temp, 0o600);
    const handle = await open(temp, "a");
    try {
      await handle.write(tail);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, layout.bootInitrd);
  } finally {
    await rm(temp, { force: true });
  }
  await writeFileAtomic(stampFile, key, 0o600);
}

export type StopOutcome =
  | "not-running"
  | "powered-off"
  | "quit"
  | "quit-failed-boot"
  | "terminated"
  | "killed";

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
    // A guest whose boot failed waits in a rescue shell that no power button reaches: QEMU quits
    // at once instead of after the deadline.
    const failed = (await bootFailure(layout)) !== undefined;
    if (!failed) await qmp.execute("system_powerdown").catch(() => undefined);
    if (!failed && (await waitGone(pid, deadlineMs))) outcome = "powered-off";
    else {
      await qmp.execute("quit").catch(() => undefined);
      if (await waitGone(pid, 5_000)) outcome = failed ? "quit-failed-boot" : "quit";
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
  await cleanUpAfterQemu(layout);
  return { outcome, seconds: seconds() };
}

/** Why the running boot's guest said it failed (FAILED on its console, before any READY), if it did. */
async function bootFailure(layout: StateLayout): Promise<string | undefined> {
  const instance = await readInstance(layout);
  if (instance?.consoleOffset === undefined) return undefined;
  return failureBeforeReady(await readConsoleSince(layout.consoleLog, instance.consoleOffset));
}

/** Bytes the sparse disk really uses on the host. */
export async function diskUsage(
  layout: StateLayout,
): Promise<{ allocated: number; size: number } | undefined> {
  const info = await stat(layout.disk).catch(() => undefined);
  if (info === undefined) return undefined;
  return { allocated: info.blocks * 512, size: info.size };
}
