/**
 * The host's Nix daemon for a test, as a multi-user Nix runs it: `/usr/bin/nix-daemon` as root
 * (Debian's nix-bin 2.8), listening on /nix/var/nix/daemon-socket/socket, where an unprivileged
 * user's `nix-build` reaches it. There is no systemd here, so the test starts it in the background,
 * restarts it when `install` says to (it re-reads /etc/nix/nix.conf only when it starts), and stops
 * it after.
 *
 *   const daemon = await startNixDaemon();   // fails if another daemon already listens
 *                                             // (nixDaemonBusy() says so beforehand, to skip)
 *   await daemon.restart();
 *   await daemon.stop();                      // idempotent; daemon.log() holds what it printed
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const NIX_DAEMON = process.env.LINUX_BUILDER_TEST_NIX_DAEMON ?? "/usr/bin/nix-daemon";
export const DAEMON_SOCKET = "/nix/var/nix/daemon-socket/socket";

export interface NixDaemon {
  /** Stops it and starts it again (the new one reads /etc/nix afresh). */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL after 10 s; waits until it is gone. Safe to call twice. */
  stop(): Promise<void>;
  /** What the daemons started so far printed. */
  log(): string;
}

/** Whether something accepts connections on the daemon's socket. */
export function socketAnswers(path = DAEMON_SOCKET): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Where the daemon a test started is recorded, so a run that was killed has its daemon ended by the next. */
const PIDFILE = join(tmpdir(), "linux-builder-test-nix-daemon.pid");

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Ends the daemon a killed test run left: its pid and its test process's are recorded; only when
 * that test process is gone and the pid is still a nix-daemon (a live run's daemon is left alone).
 */
async function endLeftover(): Promise<void> {
  const [pid, owner] = (await readFile(PIDFILE, "utf8").catch(() => ""))
    .trim()
    .split(" ")
    .map((word) => Number.parseInt(word, 10));
  if (pid === undefined || owner === undefined || !(pid > 1) || !(owner > 1) || alive(owner)) return;
  let command = "";
  try {
    command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    // Gone already.
  }
  if (command.split("\0").some((word) => word.endsWith("nix-daemon"))) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      return; // Not ours to end (unprivileged, and sudo's): the check below says so.
    }
    for (let i = 0; i < 100 && (await socketAnswers()); i++) await sleep(100);
  }
  await rm(PIDFILE, { force: true });
}

/**
 * Why a test cannot run its own daemon here (another one listens: the system's, say), or false.
 * A daemon a killed test run left is ended first.
 */
export async function nixDaemonBusy(): Promise<string | false> {
  await endLeftover();
  return (await socketAnswers())
    ? `a Nix daemon already listens on ${DAEMON_SOCKET} (the system's?): this test runs and restarts its own`
    : false;
}

export async function startNixDaemon(options: { timeoutMs?: number } = {}): Promise<NixDaemon> {
  await endLeftover();
  if (await socketAnswers()) {
    throw new Error(
      `a Nix daemon already listens on ${DAEMON_SOCKET}: this test runs its own (to restart it after install); stop the other one first`,
    );
  }
  let output = "";
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const argv = process.getuid?.() === 0 ? [NIX_DAEMON] : ["sudo", "--non-interactive", "--", NIX_DAEMON];
    const started = spawn(argv[0] ?? NIX_DAEMON, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    child = started;
    if (started.pid !== undefined) await writeFile(PIDFILE, `${started.pid} ${process.pid}\n`);
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
    };
    started.stdout?.on("data", collect);
    started.stderr?.on("data", collect);
    let gone = false;
    exited = new Promise((resolve) =>
      started.once("exit", () => {
        gone = true;
        resolve();
      }),
    );
    started.once("error", (error) => {
      output += `${error.message}\n`;
      gone = true;
    });
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    while (!(await socketAnswers())) {
      if (gone) throw new Error(`${NIX_DAEMON} exited before it listened:\n${output}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `${NIX_DAEMON} did not listen on ${DAEMON_SOCKET} within ${options.timeoutMs ?? 30_000} ms:\n${output}`,
        );
      }
      await sleep(100);
    }
  };

  const stop = async () => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    // Through sudo, SIGTERM is relayed to the daemon; it closes its socket and exits.
    running.kill("SIGTERM");
    const killed = setTimeout(() => running.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killed);
    await rm(PIDFILE, { force: true });
  };

  await launch();
  return {
    async restart() {
      await stop();
      await launch();
    },
    stop,
    log: () => output,
  };
}
