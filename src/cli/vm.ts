import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { type Command, Option } from "commander";
import {
  type Config,
  type ConfigFile,
  defaultConfig,
  mergeConfig,
  parseConfigFile,
  parseConfigLayer,
} from "../config/config.js";
import { type Paths, resolvePaths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { hostCaDeps } from "../host/ca-certificates.js";
import { currentHost } from "../host/host.js";
import { composeImage } from "../image/compose/compose-image.js";
import { imageInputs } from "../image/compose/image-inputs.js";
import { GUEST_ROOT_PACKAGES } from "../image/guest/profile.js";
import type { Lock } from "../image/lock.js";
import { ImageStore, type StoredImage } from "../image/store.js";
import { sshArgs } from "../ssh/builder-ssh.js";
import { readInstance } from "../vm/instance.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import { isReady } from "../vm/lifecycle/readiness.js";
import { type StartBooted, type StartOptions, startVm } from "../vm/lifecycle/start.js";
import { stopVm } from "../vm/lifecycle/stop.js";
import { qemuBackend } from "../vm/qemu/backend.js";
import { diskUsage, stateLayout } from "../vm/state.js";
import { hostArch } from "./image.js";
import { consoleReporter, formatBytes } from "./output.js";

export interface ConfigFlags {
  arch?: string;
  cpus?: string;
  memory?: string;
  disk?: string;
  port?: string;
  stateDir?: string;
  accel?: string;
  maxJobs?: string;
}

export function addConfigFlags(command: Command): Command {
  return command
    .option("--arch <arch>", "guest architecture: amd64 or arm64")
    .option("--cpus <n>", "virtual CPUs (default: all of the host's)")
    .option("--memory <MiB>", "guest memory in MiB")
    .option("--disk <GiB>", "size of the /nix disk in GiB (grown when raised, never shrunk)")
    .option("--port <port>", "host port for the builder's ssh, on 127.0.0.1 (default 31022)")
    .option("--state-dir <dir>", "where this builder keeps its disk, keys and logs")
    .addOption(new Option("--accel <accel>", "accelerator").choices(["auto", "kvm", "hvf", "tcg"]))
    .option("--max-jobs <n>", "builds Nix may run on the builder at once");
}

function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new LinuxBuilderError("usage.number", `${flag} must be a whole number, not "${value}"`);
  }
  return Number(value);
}

/** Embedded defaults, then the config file, then the flags; each layer validated with its source named. */
export async function loadConfig(paths: Paths, flags: ConfigFlags): Promise<Config> {
  const defaults = defaultConfig({
    cpus: cpus().length,
    memoryMiB: Math.floor(totalmem() / 1024 / 1024),
    arch: hostArch(),
    stateDir: paths.state,
  });
  const text = await readFile(paths.config, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  const file = parseConfigFile(text, paths.config);
  const raw: Record<string, unknown> = {
    arch: flags.arch,
    cpus: integerFlag(flags.cpus, "--cpus"),
    memoryMiB: integerFlag(flags.memory, "--memory"),
    diskGiB: integerFlag(flags.disk, "--disk"),
    port: integerFlag(flags.port, "--port"),
    stateDir: flags.stateDir,
    accel: flags.accel,
    maxJobs: integerFlag(flags.maxJobs, "--max-jobs"),
  };
  const flagLayer: ConfigFile = parseConfigLayer(
    Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)),
    "the command-line flags",
  );
  const merged = mergeConfig(defaults, file, flagLayer);
  // Unless set, a builder takes as many jobs as it has CPUs.
  if (file.maxJobs === undefined && flagLayer.maxJobs === undefined)
    return { ...merged, maxJobs: merged.cpus };
  return merged;
}

/**
 * The current image for the architecture, composed (with progress) when there is none. An image
 * composed by another version of linux-builder (its guest files or format differ) is composed again
 * from its own lock: the same packages, verified by hash, offline when they are in the cache.
 */
export async function ensureImage(paths: Paths, config: Config): Promise<StoredImage> {
  const store = new ImageStore(paths.images);
  const id = await store.currentId(config.arch);
  const compose = (lock?: Lock) =>
    composeImage({
      arch: config.arch,
      suite: config.suite,
      mirror: config.mirror,
      extraPackages: [],
      checkValidUntil: true,
      force: false,
      cacheDir: paths.cache,
      imagesDir: paths.images,
      reporter: consoleReporter({ quiet: false }),
      ...(lock === undefined ? {} : { lock }),
    });
  if (id !== undefined) {
    const image = await store.get(id).catch(() => undefined);
    if (image !== undefined && (await store.looksIntact(image))) {
      const lock = await store.readLock(image).catch(() => undefined);
      if (lock === undefined || image.manifest.inputs === (await imageInputs(lock))) return image;
      // Its own lock, unless this version's guest needs packages that lock never had: then the
      // closure is resolved again from the mirror's signed index.
      const sameRoots = GUEST_ROOT_PACKAGES.every((name) => lock.roots.includes(name));
      process.stderr.write(
        `The ${config.arch} image ${image.manifest.id} was composed by another version of linux-builder: composing it again ${sameRoots ? "from its lock (the same packages)" : "(this version's guest has other packages)"}; \`linux-builder image prune\` removes the old one.\n`,
      );
      try {
        return await compose(sameRoots ? lock : undefined);
      } catch (error) {
        // The old image still boots: better than no builder (offline with a pruned cache, say).
        warn(
          `cannot compose the image again (${error instanceof Error ? error.message : String(error)}): starting ${image.manifest.id} as it is`,
        );
        return image;
      }
    }
  }
  process.stderr.write(`No ${config.arch} image yet: composing one.\n`);
  return compose();
}

export const warn = (message: string) => process.stderr.write(`linux-builder: warning: ${message}\n`);

async function start(flags: ConfigFlags & { wait: boolean; timeout: string }): Promise<void> {
  const paths = resolvePaths(currentHost());
  const config = await loadConfig(paths, flags);
  const layout = stateLayout(config.stateDir);
  // Composed (when needed) only if this start boots the builder: not when it runs already.
  let image: Promise<StoredImage> | undefined;
  const options: StartOptions = {
    config,
    layout,
    backend: qemuBackend(currentHost(), layout),
    image: () => {
      image ??= ensureImage(paths, config);
      return image;
    },
    waitReady: flags.wait,
    readyTimeoutMs: (integerFlag(flags.timeout, "--timeout") ?? 600) * 1000,
    onWarning: warn,
    caDeps: hostCaDeps(currentHost()),
    onBoot: () =>
      process.stderr.write(
        `Starting the ${config.arch} builder (${config.cpus} CPUs, ${config.memoryMiB} MiB) on 127.0.0.1:${config.port}\n`,
      ),
    onWait: (owner) =>
      process.stderr.write(`Another linux-builder (pid ${owner}) is starting the builder: waiting for it.\n`),
    onRetry: warn,
  };
  const result = await startVm(options);
  const pid = result.kind === "booted" ? result.instance.pid : result.pid;
  if (result.kind === "running" && !flags.wait) {
    process.stderr.write(`The builder is already running (pid ${pid}); not waiting for it to be ready.\n`);
  } else if (result.kind === "running" && result.ready) {
    // Waiting for it is worth a word; a quick look is not.
    const waited = result.waitedSeconds >= 1 ? `; waited ${result.waitedSeconds.toFixed(1)} s for it` : "";
    process.stderr.write(`The builder is already running and ready (pid ${pid}${waited}).\n`);
  } else if (result.kind === "booted" && !flags.wait) {
    process.stderr.write(`Started (pid ${pid}, ${result.instance.accel}); not waiting for it to be ready.\n`);
  } else if (result.kind === "booted" && result.ready) {
    process.stderr.write(
      `Ready in ${result.readySeconds?.toFixed(1)} s (pid ${pid}, ${result.instance.accel}${phaseText(result.phases)}). \`linux-builder ssh\` logs in.\n`,
    );
  } else {
    throw new LinuxBuilderError("vm.not-ready", `The builder (pid ${pid}) is running but not ready in time`, {
      hint: "`linux-builder logs` shows the console; `linux-builder status` checks again.",
    });
  }
}

/** "; QEMU up at 0.1 s, sshd up at 2.9 s, Nix store answered at 3.4 s" */
function phaseText(phases: StartBooted["phases"]): string {
  if (phases === undefined) return "";
  return `; QEMU up at ${phases.qemu.toFixed(1)} s, sshd up at ${phases.guest.toFixed(1)} s, Nix store answered at ${phases.store.toFixed(1)} s`;
}

async function stop(flags: ConfigFlags & { timeout: string }): Promise<void> {
  const paths = resolvePaths(currentHost());
  const config = await loadConfig(paths, flags);
  const layout = stateLayout(config.stateDir);
  const { outcome, seconds } = await stopVm(
    layout,
    qemuBackend(currentHost(), layout),
    (integerFlag(flags.timeout, "--timeout") ?? 60) * 1000,
  );
  const said: Record<typeof outcome, string> = {
    "not-running": "The builder is not running.",
    "powered-off": `Stopped: the guest powered off cleanly in ${seconds.toFixed(1)} s.`,
    quit: `Stopped: the guest did not power off in time, so QEMU was told to quit (${seconds.toFixed(1)} s).`,
    "quit-failed-boot": `Stopped: the guest's boot had failed (\`linux-builder logs\` shows why), so QEMU was told to quit (${seconds.toFixed(1)} s).`,
    terminated: `Stopped with SIGTERM after QMP did not answer (${seconds.toFixed(1)} s).`,
    killed: `Stopped with SIGKILL: QEMU ignored everything else (${seconds.toFixed(1)} s).`,
  };
  process.stderr.write(`${said[outcome]}\n`);
}

async function status(flags: ConfigFlags & { json?: boolean }): Promise<void> {
  const paths = resolvePaths(currentHost());
  const config = await loadConfig(paths, flags);
  const layout = stateLayout(config.stateDir);
  const pid = await runningPid(layout, qemuBackend(currentHost(), layout));
  const instance = pid === undefined ? undefined : await readInstance(layout);
  // Without a readable instance.json (a start killed before it wrote one, a foreign file), the
  // configured port is the best guess: a running builder is still asked.
  const ready =
    pid === undefined
      ? false
      : await isReady(layout, instance?.port ?? config.port, { reuse: true, timeoutMs: 15_000 });
  const disk = await diskUsage(layout);
  const uptimeSeconds =
    instance === undefined ? null : Math.round((Date.now() - Date.parse(instance.startedAt)) / 1000);
  const report = {
    running: pid !== undefined,
    pid: pid ?? null,
    ready,
    accel: instance?.accel ?? null,
    port: instance?.port ?? config.port,
    arch: instance?.arch ?? config.arch,
    uptimeSeconds,
    image: instance?.imageId ?? null,
    caCertificates: instance?.caCertificates ?? null,
    disk: disk === undefined ? null : { usedBytes: disk.allocated, sizeBytes: disk.size },
    stateDir: layout.dir,
    consoleLog: layout.consoleLog,
  };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const lines = [
    `Builder:  ${report.running ? `running (pid ${pid}), ${ready ? "ready" : "not ready"}` : "stopped"}`,
    ...(instance
      ? [
          `Accel:    ${instance.accel}, ${instance.cpus} CPUs, ${instance.memoryMiB} MiB`,
          `Address:  127.0.0.1:${instance.port}`,
          `Uptime:   ${uptimeSeconds} s`,
          `Image:    ${instance.imageId}`,
          ...(instance.caCertificates === undefined
            ? []
            : [
                `CAs:      Debian's set${instance.caCertificates === "none" ? "" : `, and ${instance.caCertificates}`}`,
              ]),
        ]
      : []),
    ...(disk ? [`Disk:     ${formatBytes(disk.allocated)} used of ${formatBytes(disk.size)}`] : []),
    `State:    ${layout.dir}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function ssh(command: string[], flags: ConfigFlags): Promise<number> {
  const paths = resolvePaths(currentHost());
  const config = await loadConfig(paths, flags);
  const layout = stateLayout(config.stateDir);
  if ((await runningPid(layout, qemuBackend(currentHost(), layout))) === undefined) {
    throw new LinuxBuilderError("vm.stopped", "The builder is not running", {
      hint: "Start it: linux-builder start",
    });
  }
  // instance.json unreadable: the configured port, as status does.
  const port = (await readInstance(layout))?.port ?? config.port;
  // No command: a login shell on a terminal (-t); a command runs as given.
  const args = [
    ...(command.length === 0 ? ["-t"] : []),
    ...sshArgs(layout, port, { reuse: true }),
    ...command,
  ];
  const child = spawn("ssh", args, { stdio: "inherit" });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

async function logs(flags: ConfigFlags & { follow?: boolean }): Promise<number> {
  const paths = resolvePaths(currentHost());
  const config = await loadConfig(paths, flags);
  const layout = stateLayout(config.stateDir);
  const child = spawn(
    "tail",
    flags.follow ? ["-n", "+1", "-F", layout.consoleLog] : ["-n", "+1", layout.consoleLog],
    {
      stdio: "inherit",
    },
  );
  return new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
}

export function registerVmCommands(program: Command): void {
  addConfigFlags(
    program.command("start").description("start the builder VM in the background and wait until it is ready"),
  )
    .option("--no-wait", "return once QEMU runs, without waiting for the builder to be ready")
    .option("--timeout <seconds>", "how long to wait for ready", "600")
    .action(start);
  addConfigFlags(program.command("stop").description("power the builder off cleanly (QMP system_powerdown)"))
    .option("--timeout <seconds>", "how long the guest may take before QEMU is told to quit", "60")
    .action(stop);
  addConfigFlags(program.command("restart").description("stop, then start"))
    .option("--timeout <seconds>", "how long to wait for each", "600")
    .action(async (flags: ConfigFlags & { timeout: string }) => {
      await stop({ ...flags, timeout: "60" });
      await start({ ...flags, wait: true });
    });
  addConfigFlags(program.command("status").description("is the builder running and ready, and how"))
    .option("--json", "print as JSON")
    .action(status);
  addConfigFlags(
    program
      .command("ssh [command...]")
      .description("log in to the builder as `builder`, or run a command there"),
  ).action(async (command: string[], flags: ConfigFlags) => {
    process.exitCode = await ssh(command, flags);
  });
  addConfigFlags(program.command("logs").description("the builder's console log"))
    .option("-f, --follow", "keep printing as it grows")
    .action(async (flags: ConfigFlags & { follow?: boolean }) => {
      process.exitCode = await logs(flags);
    });
}
