/**
 * Our builder, driven only through the product's CLI, the default path a user takes:
 * `node bin/linux-builder.js start|stop|install|ssh --state-dir … --port … --accel tcg …` with
 * LINUX_BUILDER_HOME pointing at the bench's own home (.cache/bench/home: its package cache and
 * images are reused between runs).
 */
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reachedReady, uptimeAt } from "../src/guest/console-lines.js";
import { readConsoleSince } from "../src/guest/console-log.js";
import { ImageStore, type StoredImage } from "../src/image/store.js";
import { builderNames } from "../src/nix/builders.js";
import { stateLayout } from "../src/vm/state.js";
import type { VmShape } from "./baseline-vm.js";
import { BENCH_DIR, type Finished, log, ROOT, runCommand, sleep, tail } from "./support.js";

export const BENCH_HOME = join(BENCH_DIR, "home");
export const CLI = join(ROOT, "bin", "linux-builder.js");

export function benchEnv(home = BENCH_HOME): NodeJS.ProcessEnv {
  return { ...process.env, LINUX_BUILDER_HOME: home };
}

/** `linux-builder ARGS` with the bench home (or `home`: one with its own config.json), to its end. */
export function cli(
  args: readonly string[],
  options: { timeoutMs?: number; echo?: boolean; home?: string } = {},
) {
  const { home, ...rest } = options;
  return runCommand(process.execPath, [CLI, ...args], { env: benchEnv(home), ...rest });
}

/** Once a run: every part after the first finds dist/ current. */
let compiling: Promise<void> | undefined;

/**
 * The CLI the bench times is the compiled one a user runs: bin/ falls back to the sources through
 * tsx (0.3 s more per command) when they are newer than dist/.
 */
export function compileCli(): Promise<void> {
  compiling ??= (async () => {
    log("ours: npm run build (the compiled CLI)");
    const compiled = await runCommand("npm", ["run", "build"], { timeoutMs: 5 * 60_000 });
    if (compiled.code !== 0) throw new Error(`npm run build failed:\n${tail(compiled.stderr)}`);
  })();
  return compiling;
}

/**
 * The current image of the bench home, composed (or found up to date) by `image build`: untimed, so
 * that a first boot measures booting, not composing. Tracks guest/ and the composer as they change.
 */
export async function prepareOurImage(mirror: string): Promise<StoredImage> {
  await compileCli();
  log("ours: `linux-builder image build` in the bench home (reused when up to date)");
  const built = await cli(["image", "build", "--arch", "amd64", "--mirror", mirror], {
    echo: true,
    timeoutMs: 15 * 60_000,
  });
  if (built.code !== 0) throw new Error(`image build failed:\n${tail(built.stderr)}`);
  const store = new ImageStore(join(BENCH_HOME, "images"));
  const id = await store.currentId("amd64");
  if (id === undefined) throw new Error("image build left no current amd64 image");
  return store.get(id);
}

export interface BootSample {
  readonly ok: boolean;
  /** Wall time of the command (ours: `start`; baseline: QEMU spawned → ready). */
  readonly seconds: number | null;
  /** Ours: the "Ready in X s" start printed (QEMU spawned → ready). */
  readonly reportedSeconds?: number | null;
  /** Kernel uptimes the guest printed on its console (ours: stage 2, READY). */
  readonly uptimes?: Readonly<Record<string, number>>;
  /** Ours, when `start` says: seconds from QEMU's start to each step it names (QEMU up, …). */
  readonly phases?: Readonly<Record<string, number>>;
  /** The console log of a failed boot, kept for a person to read. */
  readonly consoleLog?: string;
  readonly error?: string;
}

export interface StopSample {
  readonly ok: boolean;
  readonly seconds: number | null;
  /** Ours: what `stop` said it took (powerdown → QEMU gone, without the CLI's own start-up). */
  readonly reportedSeconds?: number | null;
  readonly how: string;
}

/** Saves what a failed boot printed under .cache/bench/failed-boots/; returns the file. */
export async function keepFailedConsole(name: string, printed: string): Promise<string> {
  const dir = join(BENCH_DIR, "failed-boots");
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}-${new Date().toISOString().replaceAll(":", "-")}.log`);
  await writeFile(file, printed);
  return file;
}

/** What `start` printed as "Ready in X s", or null. */
export function readySeconds(stderr: string): number | null {
  const said = /Ready in ([0-9.]+) s/.exec(stderr);
  return said ? Number(said[1]) : null;
}

/** Where `start` says the time went, as it words it: "QEMU up at 0.1 s, sshd up at 3.0 s, …". */
export function readyPhases(stderr: string): Record<string, number> {
  const phases: Record<string, number> = {};
  const readyLine = /Ready in [^\n]*/.exec(stderr)?.[0] ?? "";
  for (const [, label, value] of readyLine.matchAll(/(?:[;,] )([A-Za-z][\w ]*?) at ([0-9.]+) s/g)) {
    if (label !== undefined) phases[label] = Number(value);
  }
  return phases;
}

/** A new folder with a short path, for `install` (see OurBuilder.install). */
export function shortTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir().length <= 12 ? tmpdir() : "/tmp", "lbb-"));
}

/** What `install` wrote into folders standing in for /etc/nix and /etc/ssh/ssh_config.d. */
export interface Installed {
  readonly machines: string;
  /** The ssh_config file with the alias (and its connection reuse), for `ssh -F` and NIX_SSHOPTS. */
  readonly sshConfig: string;
  readonly alias: string;
}

/** One builder install: a state directory, a port, the VM's shape. */
export class OurBuilder {
  constructor(
    readonly stateDir: string,
    readonly port: number,
    readonly shape: VmShape,
    readonly diskGiB: number,
    /** LINUX_BUILDER_HOME for its commands when not the bench home (a home with its own config.json). */
    readonly home?: string,
  ) {}

  get layout() {
    return stateLayout(this.stateDir);
  }

  /** The bench's settings for this install, as the CLI's flags. */
  get flags(): string[] {
    return [
      ...["--state-dir", this.stateDir, "--port", String(this.port), "--accel", "tcg"],
      ...["--cpus", String(this.shape.cpus), "--memory", String(this.shape.memoryMiB)],
      ...["--disk", String(this.diskGiB)],
    ];
  }

  /** `linux-builder COMMAND` for this install, with the bench's settings as flags. */
  run(command: string, args: readonly string[] = [], timeoutMs = 300_000): Promise<Finished> {
    return cli([command, ...this.flags, ...args], { timeoutMs, ...(this.home ? { home: this.home } : {}) });
  }

  /** `start`, timed: it returns once the builder's Nix store answers over ssh. */
  async start(readyTimeoutSeconds: number): Promise<BootSample> {
    const consoleLog = this.layout.consoleLog;
    const offset = (await stat(consoleLog).catch(() => undefined))?.size ?? 0;
    const result = await this.run(
      "start",
      ["--timeout", String(readyTimeoutSeconds)],
      (readyTimeoutSeconds + 60) * 1000,
    );
    const said = readySeconds(result.stderr);
    // `start` can return before the guest prints READY (the host asks the store as soon as sshd
    // listens): give it a moment, outside the time measured.
    let printed = await readConsoleSince(consoleLog, offset);
    for (let i = 0; i < 50 && result.code === 0 && !reachedReady(printed); i++) {
      await sleep(100);
      printed = await readConsoleSince(consoleLog, offset);
    }
    const uptimes: Record<string, number> = {};
    const stage2 = uptimeAt(printed, "stage2");
    const ready = uptimeAt(printed, "ready");
    if (stage2 !== undefined) uptimes.stage2 = stage2;
    if (ready !== undefined) uptimes.ready = ready;
    if (result.code !== 0) {
      return {
        ok: false,
        seconds: null,
        uptimes,
        consoleLog: await keepFailedConsole("ours", printed),
        error: `start failed (${result.code}): ${tail(result.stderr, 3)}`,
      };
    }
    const phases = readyPhases(result.stderr);
    return {
      ok: true,
      seconds: result.seconds,
      reportedSeconds: said,
      uptimes,
      ...(Object.keys(phases).length > 0 ? { phases } : {}),
    };
  }

  /**
   * `start`, and once more if that boot failed (now and then a TCG guest dies at boot, a kernel
   * oops); what went wrong the first time is added to `notes`. Throws when the second fails too.
   */
  async startReady(readyTimeoutSeconds: number, notes: string[]): Promise<BootSample> {
    let started = await this.start(readyTimeoutSeconds);
    if (!started.ok) {
      notes.push(`ours: start failed, tried again: ${started.error}`);
      await this.stop();
      started = await this.start(readyTimeoutSeconds);
    }
    if (!started.ok) throw new Error(`start failed: ${started.error}`);
    return started;
  }

  /**
   * `install` into `dir`/nix and `dir`/ssh. `dir` must be short (shortTempDir): install puts ssh's reuse sockets in
   * <nix-conf-dir>/linux-builder-ssh/%C, and ssh fails outright (not only without reuse) when that
   * path, plus its 17-character temporary suffix, is longer than a unix socket path may be (108 bytes).
   */
  async install(dir: string): Promise<Installed> {
    const nixConfDir = join(dir, "nix");
    const sshConfigDir = join(dir, "ssh");
    await mkdir(nixConfDir);
    await mkdir(sshConfigDir);
    const installed = await this.run("install", [
      "--nix-conf-dir",
      nixConfDir,
      "--ssh-config-dir",
      sshConfigDir,
    ]);
    if (installed.code !== 0) throw new Error(`install failed: ${tail(installed.stderr, 5)}`);
    const names = builderNames(this.port);
    return {
      machines: join(nixConfDir, "machines"),
      sshConfig: join(sshConfigDir, names.sshConfigFile),
      alias: names.alias,
    };
  }

  async stop(): Promise<StopSample> {
    const result = await this.run("stop", ["--timeout", "60"], 120_000);
    const said = /in ([0-9.]+) s/.exec(result.stderr);
    const clean = /powered off cleanly/.test(result.stderr);
    return {
      ok: result.code === 0 && clean,
      seconds: result.code === 0 ? result.seconds : null,
      reportedSeconds: said ? Number(said[1]) : null,
      how: result.stderr.trim().split("\n").pop() ?? "",
    };
  }

  /** The running QEMU's pid, from the state folder; null when there is none. */
  async qemuPid(): Promise<number | null> {
    const text = await readFile(this.layout.pidfile, "utf8").catch(() => "");
    return /^\d+\s*$/.test(text) ? Number(text) : null;
  }

  /** `linux-builder ssh -- COMMAND`. */
  ssh(command: readonly string[]): Promise<Finished> {
    return this.run("ssh", ["--", ...command], 60_000);
  }
}

/** Ends the reuse connection's master, which lingers (ControlPersist): before the guest goes. */
export async function endReuse(installed: Installed): Promise<void> {
  await runCommand("ssh", ["-F", installed.sshConfig, "-O", "exit", installed.alias], { timeoutMs: 10_000 });
}
