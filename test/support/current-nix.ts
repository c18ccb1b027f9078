/**
 * A current Nix on the host side: Debian trixie's nix-bin (2.26, the guest's version) in a root made by
 * mmdebstrap, with its own /nix, its daemon running as root, its client as an unprivileged user, and
 * the host's Nix and ssh configuration (what `linux-builder install` wrote) at the paths install wrote
 * them to. The host's own Nix (Debian 12's 2.8, its /nix) is not touched.
 *
 * How it is isolated: the daemon runs under `unshare --mount --pid --fork --kill-child`, then
 * `chroot` into a fresh copy of the root. Every mount (proc, /dev, the configuration's binds) is made
 * inside that private mount namespace, so the host never sees one and none can be left behind; the
 * daemon is PID 1 of its own PID namespace, so when it dies (SIGKILL, sent by the kernel when
 * `unshare` goes) every process in it dies too, ssh's ControlMaster included. Commands inside
 * (nix-build, nix --version) join that namespace with `nsenter --root` and drop to the given uid and
 * gid with the root's own `setpriv`; the host's `setpriv --pdeathsig` ties the namespace to the
 * tests' process, should it die without cleaning up. The network namespace is the host's:
 * 127.0.0.1:PORT reaches the builder. Nothing beyond util-linux and coreutils is needed on the host
 * (no bubblewrap, no uidmap): the tests run as root anyway.
 *
 * The root is built once per machine and package set with `mmdebstrap --variant=essential` (1.3–2
 * min on a shared 2-core machine, 50 MB compressed) and cached as
 * .cache/current-nix/trixie-amd64-HASH.tar.zst; each session unpacks a copy (1–4 s) and deletes it
 * afterwards, so every session starts with an empty store.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEFAULT_MIRROR } from "../../src/image/guest/profile.js";

const run = promisify(execFile);

/** Bumped whenever what is built changes for the same inputs. */
const ROOT_FORMAT = 1;
export const CURRENT_NIX_SUITE = "trixie";
/** What the root holds beyond trixie's essential packages: Nix's daemon and client, ssh for ssh-ng. */
export const CURRENT_NIX_PACKAGES = ["nix-bin", "openssh-client", "ca-certificates"] as const;
/** What the root leaves out: nothing here reads documentation. */
const DPKG_EXCLUDES = ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*", "/usr/share/info/*"];

const CACHE_DIR = join(process.cwd(), ".cache", "current-nix");

export interface CurrentNixRoot {
  /** The cached tarball of the root. */
  readonly tarball: string;
  /** Seconds mmdebstrap took, when this call built it; undefined when it was cached. */
  readonly builtSeconds?: number;
}

function mirror(): string {
  return process.env.LINUX_BUILDER_TEST_MIRROR ?? DEFAULT_MIRROR;
}

function tail(text: string, lines = 25): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** The cached trixie root with nix-bin, made with mmdebstrap (as root) when there is none. */
export async function currentNixRoot(): Promise<CurrentNixRoot> {
  const key = createHash("sha256")
    .update(
      JSON.stringify({
        format: ROOT_FORMAT,
        suite: CURRENT_NIX_SUITE,
        mirror: mirror(),
        variant: "essential",
        packages: CURRENT_NIX_PACKAGES,
        excludes: DPKG_EXCLUDES,
      }),
    )
    .digest("hex")
    .slice(0, 16);
  const tarball = join(CACHE_DIR, `${CURRENT_NIX_SUITE}-amd64-${key}.tar.zst`);
  if (existsSync(tarball)) return { tarball };
  await mkdir(CACHE_DIR, { recursive: true });
  // mmdebstrap picks the format (tar, zstd) from the name's ending.
  const partial = join(CACHE_DIR, `.partial-${process.pid}-${key}.tar.zst`);
  const started = performance.now();
  try {
    await run(
      "mmdebstrap",
      [
        "--mode=root",
        "--variant=essential",
        "--architectures=amd64",
        `--include=${CURRENT_NIX_PACKAGES.join(",")}`,
        ...DPKG_EXCLUDES.map((glob) => `--dpkgopt=path-exclude=${glob}`),
        // Device nodes are not wanted in the tarball: each session binds the host's /dev.
        "--skip=output/dev",
        CURRENT_NIX_SUITE,
        partial,
        mirror(),
      ],
      { timeout: 20 * 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (error) {
    await rm(partial, { force: true });
    const stderr = String((error as { stderr?: string }).stderr ?? "");
    throw new Error(`mmdebstrap failed to make the trixie root for the current Nix:\n${tail(stderr)}`, {
      cause: error,
    });
  }
  await rename(partial, tarball);
  return { tarball, builtSeconds: (performance.now() - started) / 1000 };
}

export interface NixUser {
  readonly uid: number;
  readonly gid: number;
}

export interface RunOptions {
  /** Who runs the command; root when not given. */
  readonly user?: NixUser;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

export interface CurrentNix {
  /** The root's directory on the host: the current Nix's /nix/store/X is at `${root}/nix/store/X`. */
  readonly root: string;
  /** The daemon's PID in the host's PID namespace. */
  readonly daemonPid: number;
  /** Runs a command inside the root (its mount and PID namespaces), as `user` or root. */
  run(argv: readonly string[], options?: RunOptions): Promise<{ stdout: string; stderr: string }>;
  /** A path inside the root, as the host reaches it (for files outside the binds). */
  hostPath(path: string): string;
  /** What the daemon wrote to its standard error so far. */
  daemonLog(): string;
  /** Kills the daemon and everything in its namespaces, then deletes the root's copy. Idempotent. */
  stop(): Promise<void>;
}

export interface CurrentNixOptions {
  /**
   * What install wrote as /etc/nix: seen at /etc/nix inside the root (the daemon reads nix.conf and
   * machines there), and at its own path too, because the machines line and ssh alias name the key
   * and the ControlPath folder by that path.
   */
  readonly nixConfDir: string;
  /** What install wrote as /etc/ssh/ssh_config.d: seen there inside the root. */
  readonly sshConfigDir: string;
  /** The ssh_config that includes ssh_config.d/*.conf: the host's, when it has one (default). */
  readonly sshConfig?: string | undefined;
}

/**
 * The mount namespace's set-up, run by `sh` as PID 1 of the new namespaces before it becomes the
 * daemon. $1 root, $2 nix conf dir, $3 ssh_config.d, $4 ssh_config or "".
 */
const SETUP = `set -eu
root="$1"; nix_conf="$2"; ssh_dir="$3"; ssh_config="$4"
mkdir -p "$root/dev" "$root/proc" "$root/etc/nix" "$root/etc/ssh/ssh_config.d" "$root$nix_conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --bind "$nix_conf" "$root/etc/nix"
mount --bind "$nix_conf" "$root$nix_conf"
mount --bind "$ssh_dir" "$root/etc/ssh/ssh_config.d"
if [ -n "$ssh_config" ]; then mount --bind "$ssh_config" "$root/etc/ssh/ssh_config"; fi
exec chroot "$root" /usr/bin/nix-daemon
`;

const PATH_INSIDE = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

async function waitFor(condition: () => boolean | Promise<boolean>, ms: number, what: () => string) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(what());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The PIDs (host's numbering) of the processes in `pid`'s PID namespace, `pid` itself left out. */
async function othersInNamespace(pid: number): Promise<number[]> {
  const namespace = await readlink(`/proc/${pid}/ns/pid`).catch(() => undefined);
  if (namespace === undefined) return [];
  const others: number[] = [];
  for (const name of await readdir("/proc")) {
    const other = Number(name);
    if (!Number.isInteger(other) || other === pid) continue;
    if ((await readlink(`/proc/${other}/ns/pid`).catch(() => "")) === namespace) others.push(other);
  }
  return others;
}

/** SIGTERM to every process in the daemon's PID namespace but the daemon; waits up to 5 s for them. */
async function politelyEndChildren(pid: number): Promise<void> {
  const others = await othersInNamespace(pid);
  if (others.length === 0) return;
  for (const other of others) {
    try {
      process.kill(other, "SIGTERM");
    } catch {
      // Gone already.
    }
  }
  await waitFor(
    async () => (await othersInNamespace(pid)).length === 0,
    5_000,
    () => "",
  ).catch(() => undefined);
}

/** The mounts of the host's namespace under `dir`: there must be none. */
async function hostMountsUnder(dir: string): Promise<string[]> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  return mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

const WORK_PREFIX = "lb-current-nix-";

/**
 * Deletes the copies of the root a killed test left (its namespace died with it, so no mounts are
 * left, but the 220 MiB copy is): those whose unshare is gone, or that never got one and are an
 * hour old.
 */
async function removeAbandonedCopies(): Promise<void> {
  for (const name of await readdir(tmpdir()).catch(() => [])) {
    if (!name.startsWith(WORK_PREFIX)) continue;
    const work = join(tmpdir(), name);
    const pid = Number.parseInt(await readFile(join(work, "unshare.pid"), "utf8").catch(() => ""), 10);
    const cmdline = Number.isInteger(pid)
      ? await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")
      : undefined;
    const abandoned =
      cmdline === undefined
        ? Date.now() - ((await stat(work).catch(() => undefined))?.mtimeMs ?? Date.now()) > 3_600_000
        : !cmdline.includes(join(work, "root"));
    if (abandoned && (await hostMountsUnder(work)).length === 0) {
      await rm(work, { recursive: true, force: true });
    }
  }
}

/**
 * Unpacks a fresh copy of the cached root and starts its nix-daemon (as root) with the given
 * configuration bound in. The caller must call stop(), in a finally or after().
 */
export async function startCurrentNix(options: CurrentNixOptions): Promise<CurrentNix> {
  if (process.getuid?.() !== 0)
    throw new Error("the current Nix's daemon runs as root: run the test as root");
  const { tarball } = await currentNixRoot();
  await removeAbandonedCopies();
  const work = await mkdtemp(join(tmpdir(), WORK_PREFIX));
  const root = join(work, "root");
  await mkdir(root);
  let daemon: ChildProcess | undefined;
  let daemonExited: Promise<void> = Promise.resolve();
  let log = "";
  let stopped = false;
  let daemonPid: number | undefined;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (daemonPid !== undefined && alive(daemonPid)) {
      // First the processes the daemon started (its workers, ssh's ControlMaster): SIGTERM lets ssh
      // remove its control socket from the (bound, host's) linux-builder-ssh folder.
      await politelyEndChildren(daemonPid);
    }
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      // unshare's --kill-child: its death SIGKILLs the daemon, PID 1 of the namespace, and with it
      // every process there; the mount namespace then goes with its last process.
      daemon.kill("SIGKILL");
    }
    await daemonExited;
    const inside = daemonPid;
    if (inside !== undefined) {
      await waitFor(
        () => !alive(inside),
        10_000,
        () => `the current Nix's daemon (pid ${inside}) outlived unshare`,
      );
    }
    const leftover = await hostMountsUnder(work);
    if (leftover.length > 0) {
      // Never delete through a mount: that would delete the host's files.
      throw new Error(`mounts under ${work} in the host's namespace, not deleting it: ${leftover.join(" ")}`);
    }
    await rm(work, { recursive: true, force: true });
  };

  try {
    await run("tar", ["--extract", "--zstd", "--file", tarball, "--directory", root], {
      timeout: 5 * 60_000,
    });
    const sshConfig =
      options.sshConfig ?? (existsSync("/etc/ssh/ssh_config") ? "/etc/ssh/ssh_config" : undefined);
    const child = spawn(
      "setpriv",
      [
        // Should the tests' process die without stop(), the kernel kills unshare, and so the daemon.
        "--pdeathsig=KILL",
        "--",
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        SETUP,
        "sh",
        root,
        options.nixConfDir,
        options.sshConfigDir,
        sshConfig ?? "",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    daemon = child;
    if (child.pid !== undefined) await writeFile(join(work, "unshare.pid"), `${child.pid}\n`);
    daemonExited = new Promise((resolve) => child.once("close", () => resolve()));
    const collect = (chunk: Buffer) => {
      log += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const unsharePid = child.pid;
    if (unsharePid === undefined) throw new Error("unshare did not start");
    // setpriv execs unshare, which forks once: its child is PID 1 of the new namespaces, the daemon
    // after the exec.
    const childrenFile = `/proc/${unsharePid}/task/${unsharePid}/children`;
    await waitFor(
      async () => {
        const pid = Number.parseInt(await readFile(childrenFile, "utf8").catch(() => ""), 10);
        if (Number.isFinite(pid)) daemonPid = pid;
        return daemonPid !== undefined || child.exitCode !== null;
      },
      10_000,
      () => `unshare made no namespace:\n${log}`,
    );
    const socket = join(root, "nix", "var", "nix", "daemon-socket", "socket");
    await waitFor(
      () => existsSync(socket) || child.exitCode !== null,
      30_000,
      () => `the current Nix's daemon did not make its socket within 30 s:\n${log}`,
    );
    if (child.exitCode !== null)
      throw new Error(`the current Nix's daemon exited (${child.exitCode}):\n${log}`);
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = daemonPid as number;

  return {
    root,
    daemonPid: pid,
    hostPath: (path) => join(root, path),
    daemonLog: () => log,
    stop,
    async run(argv, runOptions = {}) {
      if (stopped) throw new Error("the current Nix has been stopped");
      const user = runOptions.user ?? { uid: 0, gid: 0 };
      // A home of its own, where the client keeps its cache (~/.cache/nix).
      const home = user.uid === 0 ? "/root" : `/tmp/home-${user.uid}`;
      if (user.uid !== 0) {
        await mkdir(join(root, home), { recursive: true, mode: 0o700 });
        await chown(join(root, home), user.uid, user.gid);
      }
      const env = {
        HOME: home,
        PATH: PATH_INSIDE,
        USER: user.uid === 0 ? "root" : `uid${user.uid}`,
        ...runOptions.env,
      };
      return run(
        "nsenter",
        [
          `--target=${pid}`,
          "--mount",
          "--pid",
          "--root",
          "--wd",
          "--",
          "/usr/bin/setpriv",
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--clear-groups",
          "--",
          "/usr/bin/env",
          "-i",
          ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
          ...argv,
        ],
        { timeout: runOptions.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 },
      );
    },
  };
}

/** Whether this machine can run the current Nix: root, mmdebstrap, unshare and nsenter. */
export async function currentNixUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0)
    return "needs root (the daemon, mounts in a namespace, mmdebstrap --mode=root)";
  for (const tool of ["mmdebstrap", "unshare", "nsenter", "setpriv", "zstd"]) {
    const found = await run("sh", ["-c", `command -v ${tool}`]).then(
      () => true,
      () => false,
    );
    if (!found) return `needs ${tool} on the PATH`;
  }
  return undefined;
}
