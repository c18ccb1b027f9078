/** Linux (and every other Unix we run on): XDG folders, systemd, /etc/group, os-release, NixOS. */
import { join } from "node:path";
import { SERVICE_DIRS } from "../../service/os/service-definition.js";
import type { DaemonRestart, Platform, PlatformIo } from "./platform.js";

const SYSTEMD_RESTART = ["systemctl", "restart", "nix-daemon"];

interface SystemdFacts {
  /** Whether systemd runs this system (/run/systemd/system exists). */
  readonly systemd: boolean;
  /** Whether systemd knows a nix-daemon unit. */
  readonly nixDaemonUnit: boolean;
}

/** How to make the Nix daemon re-read its configuration under systemd, or why we cannot. */
function chooseSystemdRestart(facts: SystemdFacts): DaemonRestart {
  if (facts.systemd && facts.nixDaemonUnit) return { kind: "command", argv: SYSTEMD_RESTART };
  if (facts.systemd)
    return {
      kind: "none",
      why: "systemd has no nix-daemon unit; single-user Nix reads nix.conf on each run",
    };
  return {
    kind: "none",
    why: "systemd does not run here: restart nix-daemon however your system runs it",
  };
}

async function systemdFacts(io: PlatformIo): Promise<SystemdFacts> {
  const systemd = await io.exists("/run/systemd/system");
  if (!systemd) return { systemd, nixDaemonUnit: false };
  const unit = await io.run("systemctl", ["show", "--property=LoadState", "--value", "nix-daemon.service"]);
  return { systemd, nixDaemonUnit: unit.kind === "ran" && unit.stdout.trim() === "loaded" };
}

/** The /etc/group line of a group: name:password:gid:members. */
async function groupLine(name: string, io: PlatformIo): Promise<string | undefined> {
  const groups = (await io.readText("/etc/group")) ?? "";
  return groups.split("\n").find((line) => line.startsWith(`${name}:`));
}

export const linux: Platform = {
  kind: "linux",
  folders(home, env) {
    const xdg = (name: string, fallback: string): string => {
      const value = env[name];
      // The XDG spec says relative paths are invalid and must be ignored.
      return value?.startsWith("/") ? value : join(home, fallback);
    };
    return {
      cache: join(xdg("XDG_CACHE_HOME", ".cache"), "linux-builder"),
      images: join(xdg("XDG_DATA_HOME", ".local/share"), "linux-builder", "images"),
      state: join(xdg("XDG_STATE_HOME", ".local/state"), "linux-builder"),
      config: join(xdg("XDG_CONFIG_HOME", ".config"), "linux-builder", "config.json"),
    };
  },
  rootHome: "/root",
  nixDaemonRestart: SYSTEMD_RESTART,
  // As sd_booted(3): systemd made /run/systemd/system; a container without it has no manager.
  async serviceManager(io) {
    if (await io.exists("/run/systemd/system")) return { kind: "systemd", dir: SERVICE_DIRS.systemd };
    return { kind: "none", why: "systemd does not run here: no /run/systemd/system" };
  },
  async daemonRestart(io) {
    return chooseSystemdRestart(await systemdFacts(io));
  },
  async groupExists(name, io) {
    return (await groupLine(name, io)) !== undefined;
  },
  async groupId(name, io) {
    const id = Number.parseInt((await groupLine(name, io))?.split(":")[2] ?? "", 10);
    return Number.isInteger(id) ? id : undefined;
  },
  async configManager(io) {
    return (await io.exists("/etc/NIXOS")) ? "nixos" : "unknown";
  },
  async system(host, io) {
    if (host.os !== "linux") return { platform: "other", name: host.os };
    const osRelease = (await io.readText("/etc/os-release")) ?? (await io.readText("/usr/lib/os-release"));
    return { platform: "linux", kernel: io.kernelRelease(), osRelease };
  },
  // Hypervisor.framework's question; KVM is probed by booting (vm/accel.ts).
  async hypervisorSupport() {
    return undefined;
  },
  caExport: undefined,
};
