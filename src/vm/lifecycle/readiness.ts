import { scanConsole } from "../../guest/console-lines.js";
import { daemonAnswers, daemonAnswersAt } from "../../nix/daemon-handshake.js";
import { sshArgs } from "../../ssh/builder-ssh.js";
import { type ControlMasterFiles, forwardDaemonSocket } from "../../ssh/control-master.js";

/**
 * Ready means the guest's host key matches our pin and its Nix store answers over the builder's ssh;
 * an open TCP port proves nothing (QEMU's user networking accepts before the guest listens).
 *
 * With `reuse`, the store is asked through the reused connection's forward of the daemon's socket:
 * no session and no program in the guest (sshd hands the channel to the daemon's socket). Without
 * it, as Nix does: `nix-daemon --stdio`, which the guest routes to that same socket through a small
 * relay (sshd_config's ForceCommand for builder) where Nix's own took 0.4 s to start under TCG. It
 * answers within `timeoutMs`.
 */
export async function isReady(
  files: ControlMasterFiles,
  port: number,
  options: { reuse?: boolean; timeoutMs?: number } = {},
): Promise<boolean> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const left = () => Math.max(1, deadline - Date.now());
  if (!options.reuse) {
    const args = [...sshArgs(files, port, options), "nix-daemon", "--stdio"];
    return (await daemonAnswers("ssh", args, left())) !== undefined;
  }
  const asked = await daemonAnswersAt(files.daemonSocket, left());
  if (asked.hello !== undefined) return true;
  // The forward is there, the daemon not yet: ask again later, without another ssh.
  if (asked.connected) return false;
  if (!(await forwardDaemonSocket(files, port, left()))) return false;
  return (await daemonAnswersAt(files.daemonSocket, left())).hello !== undefined;
}

/** One step of a boot's readiness, named for the phase it ends (start reports each one's time). */
export interface ReadinessCheck {
  readonly name: "guest" | "store";
  /** How often it is asked while it does not pass. */
  readonly pollMs: number;
  passed(timeoutMs: number): Promise<boolean>;
}

/**
 * What a boot waits for, in order: the guest's word that sshd listens, then the store answering over
 * the reused connection. Waiting for that line before the first ssh matters (see guest/console-lines):
 * an ssh started too early sat in a half-open connection for seconds.
 */
export function bootReadiness(options: {
  /** What this boot printed on its console so far. */
  readonly console: () => Promise<string>;
  /** Whether the store answers within the time given. */
  readonly storeAnswers: (timeoutMs: number) => Promise<boolean>;
}): readonly ReadinessCheck[] {
  return [
    {
      name: "guest",
      pollMs: 40,
      // A boot prints a few KiB: reading it whole each time also finds a line that arrived in parts.
      passed: async () => {
        const said = scanConsole(await options.console());
        return said?.kind === "sshd" || said?.kind === "ready";
      },
    },
    { name: "store", pollMs: 100, passed: (timeoutMs) => options.storeAnswers(timeoutMs) },
  ];
}
