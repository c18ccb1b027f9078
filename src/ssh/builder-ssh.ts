import { LinuxBuilderError } from "../errors.js";
import type { StateLayout } from "../vm/state.js";

/** The files of an install that ssh uses to reach its builder. */
export type SshFiles = Pick<StateLayout, "dir" | "knownHosts" | "builderKey">;

/** Who ssh logs in as, and where: the guest's sshd, forwarded to the host's loopback. */
export const BUILDER_DESTINATION = "builder@127.0.0.1";

/** ssh arguments that reach the builder as `builder`, with this install's key and pinned host key. */
export function sshArgs(files: SshFiles, port: number, options: { reuse?: boolean } = {}): string[] {
  return [...sshOptions(files, port, options), BUILDER_DESTINATION];
}

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

/** sshArgs without the destination, for commands that put options after it (`-O`, `-L`). */
export function sshOptions(files: SshFiles, port: number, options: { reuse?: boolean }): string[] {
  return [
    // One connection, shared by the checks while the builder comes up (a handshake under TCG took
    // about a second) and by `linux-builder ssh` for a while after; the socket lives in the 0700
    // state folder. A forward's socket left by an earlier connection is replaced.
    ...(options.reuse
      ? [
          ...["-o", "ControlMaster=auto", "-o", `ControlPath=${sshPathValue(`${files.dir}/ssh.sock`)}`],
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
    `UserKnownHostsFile=${sshPathValue(files.knownHosts)}`,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-i",
    files.builderKey,
    "-p",
    String(port),
  ];
}
