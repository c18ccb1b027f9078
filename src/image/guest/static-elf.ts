import { ELF_MACHINES } from "../../guest/binfmt.js";
import { ARCHITECTURES, type Arch } from "./profile.js";

/**
 * Whether a file is a statically linked program for an architecture: what a binfmt_misc interpreter
 * registered with F must be, since it runs where no dynamic loader or library of its own is (inside
 * Nix's sandbox). Pure.
 */

const ELF_MAGIC = 0x7f454c46;
const ET_EXEC = 2;
const ET_DYN = 3;
/** The program header that names a dynamic loader: a static program has none. */
const PT_INTERP = 3;

/** Why `file` is not a static 64-bit little-endian program for `arch`, or undefined when it is. */
export function notStaticProgramFor(file: Buffer, arch: Arch): string | undefined {
  if (file.length < 64 || file.readUInt32BE(0) !== ELF_MAGIC) return "not an ELF file";
  if (file[4] !== 2 || file[5] !== 1) return "not a 64-bit little-endian ELF file";
  const type = file.readUInt16LE(0x10);
  if (type !== ET_EXEC && type !== ET_DYN) return `not a program (ELF type ${type})`;
  const machine = file.readUInt16LE(0x12);
  const expected = ELF_MACHINES[ARCHITECTURES[arch].nixSystem];
  if (machine !== expected) {
    return `a program for ELF machine 0x${machine.toString(16)}, not ${arch}'s 0x${expected.toString(16)}`;
  }
  const headers = Number(file.readBigUInt64LE(0x20));
  const entrySize = file.readUInt16LE(0x36);
  const count = file.readUInt16LE(0x38);
  if (entrySize < 56 || headers + count * entrySize > file.length) return "a truncated ELF file";
  for (let i = 0; i < count; i++) {
    if (file.readUInt32LE(headers + i * entrySize) === PT_INTERP)
      return "dynamically linked (it names a loader)";
  }
  return undefined;
}
