import { accessSync, constants, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Arch } from "../../image/guest/profile.js";
import { commandPath } from "./command-path.js";

/**
 * The firmware an x86_64 guest boots through: qboot, QEMU's own minimal firmware, where QEMU ships
 * it. It loads the PVH kernel and the initrd and jumps in; SeaBIOS (the default) first runs a PC's
 * POST and then loads both through the pvh.bin option ROM, which took 0.5-1.5 s more before the
 * kernel's first line under TCG here. The guest finds the same machine: QEMU builds the ACPI tables
 * (the power button) and the memory map either way, and the kernel needs no BIOS services.
 * Undefined (QEMU's default firmware) for aarch64, whose virt machine boots the kernel directly, and
 * where this QEMU has no qboot.rom (some distributions leave it out).
 */
export function qemuFirmware(qemu: string, arch: Arch): string | undefined {
  if (arch !== "amd64") return undefined;
  const binary = commandPath(qemu);
  if (binary === undefined) return undefined;
  try {
    const firmware = firmwareBeside(realpathSync(binary));
    return readable(firmware) ? firmware : undefined;
  } catch {
    // A link that cannot be followed: QEMU's default, and QEMU says what is wrong with its binary.
    return undefined;
  }
}

/** Where QEMU installs its firmware, from its binary's real path: <prefix>/bin → <prefix>/share/qemu. */
export function firmwareBeside(binary: string): string {
  return join(dirname(dirname(binary)), "share", "qemu", "qboot.rom");
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}
