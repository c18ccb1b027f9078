import type { NixSystem } from "../config/config.js";

/**
 * How the guest runs another Linux system's programs: binfmt_misc hands every ELF executable of
 * that machine to qemu-user's interpreter for it. The registration lines /init writes to
 * /proc/sys/fs/binfmt_misc/register are made here and nowhere else; the composer puts each
 * interpreter at the path its line names (guest-emulators.ts). Pure.
 */

/** The ELF machine (e_machine) of each system's programs: the one table binfmt and the composer share. */
export const ELF_MACHINES = { "x86_64-linux": 0x3e, "aarch64-linux": 0xb7 } as const satisfies Record<
  NixSystem,
  number
>;

/**
 * The ELF header binfmt_misc matches (its first 20 bytes) and which bits count, as qemu's
 * scripts/qemu-binfmt-conf.sh gives them (NixOS's binfmt magics are the same): class 64-bit,
 * little-endian, version 1, the ABI bytes ignored, e_type EXEC or DYN (the mask's \xfe), and the
 * machine (e_machine, little-endian).
 */
function elfMagic(system: NixSystem): string {
  const machine = ELF_MACHINES[system].toString(16).padStart(2, "0");
  return `\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x${machine}\\x00`;
}

export const EMULATION_TARGETS = {
  "x86_64-linux": {
    qemu: "qemu-x86_64",
    magic: elfMagic("x86_64-linux"),
    mask: "\\xff\\xff\\xff\\xff\\xff\\xfe\\xfe\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff",
  },
  "aarch64-linux": {
    qemu: "qemu-aarch64",
    magic: elfMagic("aarch64-linux"),
    mask: "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff",
  },
} as const satisfies Record<NixSystem, { qemu: string; magic: string; mask: string }>;

/**
 * The flags, as NixOS sets them for a static emulator (boot.binfmt with fixBinary):
 * F: the kernel opens the interpreter when it is registered and uses that open file from then on,
 *    so it runs inside Nix's sandbox, whose file system has no /usr/bin (no sandbox-paths needed);
 * P: the program's own argv[0] reaches it (qemu-user ≥ 6.1 reads the kernel's AT_FLAGS for it), so
 *    multi-call programs such as busybox see the name they were called by.
 * Not C (and so not O, which C implies): C runs the program with its own setuid bits, and nothing
 * in a build is setuid (the store is mounted nosuid); NixOS leaves it off too.
 */
export const BINFMT_FLAGS = "FP";

/** The interpreter's path in the image: the one Debian's qemu-user installs it at. */
export function interpreterPath(system: NixSystem): string {
  return `/usr/bin/${EMULATION_TARGETS[system].qemu}`;
}

/** binfmt_misc's name for the entry (/proc/sys/fs/binfmt_misc/NAME). */
export function binfmtName(system: NixSystem): string {
  return EMULATION_TARGETS[system].qemu;
}

/** The line that registers `system`'s interpreter: `:name:type:offset:magic:mask:interpreter:flags`. */
export function binfmtRegistration(system: NixSystem): string {
  const { magic, mask } = EMULATION_TARGETS[system];
  return `:${binfmtName(system)}:M::${magic}:${mask}:${interpreterPath(system)}:${BINFMT_FLAGS}`;
}
