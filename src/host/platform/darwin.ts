/** macOS: ~/Library, launchd, Directory Services, sw_vers, the System keychain. */
import { join } from "node:path";
import { SERVICE_DIRS } from "../../service/os/service-definition.js";
import type { DaemonRestart, Platform, PlatformIo } from "./platform.js";

/** macOS launch daemons that run the Nix daemon: the official installer's and Determinate's. */
const NIX_LAUNCH_DAEMONS = ["org.nixos.nix-daemon", "systems.determinate.nix-daemon"] as const;

const kickstart = (label: string): string[] => ["launchctl", "kickstart", "-k", `system/${label}`];

/** How to make the Nix daemon re-read its configuration, from the launch daemons installed (their plists exist). */
export function chooseLaunchdRestart(launchDaemons: readonly string[]): DaemonRestart {
  if (launchDaemons.includes("org.nixos.nix-daemon"))
    return { kind: "command", argv: kickstart("org.nixos.nix-daemon") };
  const [label] = launchDaemons;
  if (label !== undefined) {
    return {
      kind: "none",
      why: `the daemon is ${label}: \`sudo ${kickstart(label).join(" ")}\``,
    };
  }
  return {
    kind: "none",
    why: "no Nix launch daemon found; single-user Nix reads nix.conf on each run",
  };
}

async function installedLaunchDaemons(io: PlatformIo): Promise<string[]> {
  const found: string[] = [];
  for (const label of NIX_LAUNCH_DAEMONS) {
    if (await io.exists(`/Library/LaunchDaemons/${label}.plist`)) found.push(label);
  }
  return found;
}

/**
 * The certificates of the System keychain, where administrators and device management put the CAs
 * of their TLS-inspecting proxies; the public roots of SystemRootCertificates.keychain are already
 * in Debian's set. The export the Nix community documents for Nix behind such proxies (NixOS
 * Discourse "SSL CA cert error on macOS"); Determinate Nixd exports the keychain into ssl-cert-file
 * itself, which the nix.conf step finds first.
 */
const KEYCHAIN_EXPORT = {
  command: "/usr/bin/security",
  args: ["export", "-t", "certs", "-f", "pemseq", "-k", "/Library/Keychains/System.keychain"],
  source: "the System keychain",
} as const;

// macOS keeps groups in Directory Services, not /etc/group.
const readGroup = (name: string, io: PlatformIo, ...attributes: string[]) =>
  io.run("dscl", [".", "-read", `/Groups/${name}`, ...attributes]);

export const darwin: Platform = {
  kind: "darwin",
  folders(home) {
    return {
      cache: join(home, "Library", "Caches", "linux-builder"),
      images: join(home, "Library", "Application Support", "linux-builder", "images"),
      state: join(home, "Library", "Application Support", "linux-builder", "state"),
      config: join(home, "Library", "Application Support", "linux-builder", "config.json"),
    };
  },
  rootHome: "/var/root",
  nixDaemonRestart: kickstart("org.nixos.nix-daemon"),
  async serviceManager() {
    return { kind: "launchd", dir: SERVICE_DIRS.launchd };
  },
  async daemonRestart(io) {
    return chooseLaunchdRestart(await installedLaunchDaemons(io));
  },
  async groupExists(name, io) {
    return (await readGroup(name, io)).kind === "ran";
  },
  async groupId(name, io) {
    const result = await readGroup(name, io, "PrimaryGroupID");
    const stdout = result.kind === "ran" ? result.stdout : "";
    const id = Number.parseInt(stdout.split(":")[1] ?? "", 10);
    return Number.isInteger(id) ? id : undefined;
  },
  // /etc/nix as links into the store on macOS is nix-darwin's doing.
  async configManager() {
    return "nix-darwin";
  },
  async system(_host, io) {
    return { platform: "darwin", swVers: await io.run("sw_vers", ["-productVersion"]) };
  },
  async hypervisorSupport(io) {
    const result = await io.run("sysctl", ["-n", "kern.hv_support"]);
    return result.kind === "ran" ? result.stdout.trim() === "1" : undefined;
  },
  caExport: KEYCHAIN_EXPORT,
};
