/**
 * The host-side entries that hand builds to the VM: a Nix machines line and an ssh_config alias.
 * Pure text; `install` writes them, tests point a real Nix at them.
 */

/** The ssh_config host alias Nix reaches the builder by (Nix's store URI cannot carry a port). */
export const BUILDER_HOST_ALIAS = "linux-builder";
/** The port of the default builder; another port is another builder (see builderNames). */
export const DEFAULT_BUILDER_PORT = 31022;

/**
 * The names one builder is installed under. The default builder has the seed's names
 * (/etc/nix/builder_ed25519); a builder on another port (a second one, say an aarch64 beside an
 * x86_64) gets its own alias, key file and blocks, so several can be installed side by side.
 */
export function builderNames(port: number): { alias: string; keyFile: string; sshConfigFile: string } {
  const alias = port === DEFAULT_BUILDER_PORT ? BUILDER_HOST_ALIAS : `${BUILDER_HOST_ALIAS}-${port}`;
  return {
    alias,
    keyFile: port === DEFAULT_BUILDER_PORT ? "builder_ed25519" : `${alias}_ed25519`,
    sshConfigFile: `${alias}.conf`,
  };
}

export interface BuilderEntry {
  readonly alias: string;
  /** The native system first, then any the guest emulates (Nix's machines format: comma-separated). */
  readonly systems: readonly string[];
  /** The builder's private key as the Nix daemon reads it, e.g. /etc/nix/builder_ed25519. */
  readonly identityFile: string;
  readonly maxJobs: number;
  readonly speedFactor: number;
  readonly supportedFeatures: readonly string[];
  /** The guest's host key, an OpenSSH public key line: pinned in the machines line. */
  readonly hostPublicKey: string;
}

/**
 * One line of /etc/nix/machines:
 * `URI SYSTEMS SSH-KEY MAX-JOBS SPEED-FACTOR SUPPORTED-FEATURES MANDATORY-FEATURES BASE64-HOST-KEY`.
 */
export function machinesLine(entry: BuilderEntry): string {
  const features = entry.supportedFeatures.length > 0 ? entry.supportedFeatures.join(",") : "-";
  return [
    `ssh-ng://builder@${entry.alias}`,
    entry.systems.join(","),
    entry.identityFile,
    String(entry.maxJobs),
    String(entry.speedFactor),
    features,
    "-",
    pinnedHostKey(entry.hostPublicKey),
  ].join(" ");
}

/** Nix pins the key for the host name in the URI: base64 of "type blob" of an OpenSSH public key line. */
export function pinnedHostKey(hostPublicKey: string): string {
  const [type, blob] = hostPublicKey.trim().split(/\s+/);
  return Buffer.from(`${type} ${blob}`).toString("base64");
}

/**
 * The ssh_config block for the alias. HostKeyAlias must be the alias itself: Nix hands ssh the pinned
 * key under the URI's host name, and without it ssh looks the key up as [127.0.0.1]:PORT.
 */
export function sshConfigBlock(options: {
  alias: string;
  port: number;
  identityFile: string;
  /** A folder only root can write, for connection-reuse sockets; none: no reuse. */
  controlDir?: string;
}): string {
  return [
    `Host ${options.alias}`,
    "  HostName 127.0.0.1",
    `  Port ${options.port}`,
    `  HostKeyAlias ${options.alias}`,
    "  User builder",
    `  IdentityFile ${options.identityFile}`,
    "  IdentitiesOnly yes",
    ...(options.controlDir
      ? [
          // Each build is a new ssh; reusing one connection skips the handshake (measured: 2.2 →
          // 1.0–1.5 s per trivial build under TCG). ssh fails outright when the folder is missing,
          // so install makes it; it must not be writable by others (a planted socket would answer).
          "  ControlMaster auto",
          `  ControlPath ${options.controlDir}/%C`,
          "  ControlPersist 60",
          "  ServerAliveInterval 15",
        ]
      : []),
    "",
  ].join("\n");
}
