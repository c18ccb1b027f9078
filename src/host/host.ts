import { cpus, homedir, totalmem, userInfo } from "node:os";
import type { Arch } from "../image/guest/profile.js";

/**
 * The machine linux-builder runs on, read once in `main()` and passed down: nothing else reads
 * process.platform, process.arch, process.getuid() or process.env, so tests (and the macOS code
 * paths in Linux CI) give a command any host they like.
 */
export interface Host {
  /** The host kind whose behaviour we follow: macOS, or Linux (every other Unix is treated as Linux). */
  readonly kind: HostKind;
  /** Node's name for the OS, for messages and for `doctor`, which refuses unsupported ones. */
  readonly os: NodeJS.Platform;
  /** The host's CPU as a Debian architecture; undefined for one we have no guest for. */
  readonly arch: Arch | undefined;
  /** Node's name for the CPU, for messages. */
  readonly cpuName: string;
  /** The real user id; -1 where there are none. */
  readonly uid: number;
  /** The user's login name, as Nix's trusted-users names users. */
  readonly user: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly home: string;
  readonly cwd: string;
}

export type HostKind = "darwin" | "linux";

export function hostKindOf(os: NodeJS.Platform): HostKind {
  return os === "darwin" ? "darwin" : "linux";
}

export function archOf(cpuName: string): Arch | undefined {
  return cpuName === "x64" ? "amd64" : cpuName === "arm64" ? "arm64" : undefined;
}

export function isRoot(host: Pick<Host, "uid">): boolean {
  return host.uid === 0;
}

/** This process's host: the one place that reads the process's platform, user and environment. */
export function currentHost(): Host {
  return {
    kind: hostKindOf(process.platform),
    os: process.platform,
    arch: archOf(process.arch),
    cpuName: process.arch,
    uid: process.getuid?.() ?? -1,
    user: userInfo().username,
    env: process.env,
    cpus: cpus().length,
    memoryMiB: Math.floor(totalmem() / 1024 / 1024),
    home: homedir(),
    cwd: process.cwd(),
  };
}
