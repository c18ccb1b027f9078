import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import type { StateLayout } from "../vm/state.js";
import { BUILDER_DESTINATION, type SshFiles, sshOptions } from "./builder-ssh.js";

/** Where the guest's Nix daemon listens (Nix's default). */
const GUEST_DAEMON_SOCKET = "/nix/var/nix/daemon-socket/socket";

/** The files of the reused connection: ssh's own, and where the daemon's socket is forwarded to. */
export type ControlMasterFiles = SshFiles & Pick<StateLayout, "daemonSocket">;

/** `-L` for the daemon socket's forward (its local path %-escaped, as ssh expands tokens there). */
function daemonForward(files: ControlMasterFiles): string[] {
  return ["-L", `${files.daemonSocket.replaceAll("%", "%%")}:${GUEST_DAEMON_SOCKET}`];
}

/** Runs ssh to its exit (never longer than `timeoutMs`), with no pipes a backgrounded ssh would hold. */
export function sshExits(args: readonly string[], timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Past the time, ssh is killed (SIGTERM) and reported as an error.
    const child = spawn("ssh", [...args], { stdio: "ignore", signal: AbortSignal.timeout(timeoutMs) });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

/**
 * Puts the guest's daemon socket at files.daemonSocket: added to the reused connection when one
 * runs (`-O forward`, no session in the guest), else a new one is started with it (`-f -N -L`
 * returns once the connection is up and the forward in place).
 */
export async function forwardDaemonSocket(
  files: ControlMasterFiles,
  port: number,
  timeoutMs: number,
): Promise<boolean> {
  const options = sshOptions(files, port, { reuse: true });
  // Nothing answered there: whatever socket file is left belongs to a connection that is gone.
  await rm(files.daemonSocket, { force: true });
  if (await sshExits([...options, "-O", "check", BUILDER_DESTINATION], timeoutMs)) {
    return sshExits([...options, "-O", "forward", ...daemonForward(files), BUILDER_DESTINATION], timeoutMs);
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
      ...daemonForward(files),
      "-f",
      "-N",
      BUILDER_DESTINATION,
    ],
    timeoutMs,
  );
}
