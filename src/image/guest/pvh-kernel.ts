import { init as initZstd, decompress as zstdDecompress } from "@bokuweb/zstd-wasm";
import { decompressBuffer } from "../archive/decompress.js";

/**
 * x86's bzImage is a self-decompressing kernel behind 16-bit setup code: a firmware (SeaBIOS, qboot)
 * runs the setup, then the kernel unpacks itself. Inside is the plain ELF kernel (vmlinux), which
 * QEMU starts at its PVH entry point: the firmware (qboot; SeaBIOS through QEMU's pvh.bin option ROM
 * where QEMU ships no qboot, see vm/qemu/firmware.ts) only loads it and jumps in, with no real-mode
 * setup and no decompression in the guest. Under TCG that saved 1.3 s of a 6 s boot here.
 */

/** The compressions a bzImage payload may use, by magic (Linux's `boot/compressed`). */
const PAYLOAD_FORMATS: readonly { magic: Buffer; extension: string; trailer: number }[] = [
  // Each payload ends with the 4-byte decompressed size (the build's size_append), not part of the stream.
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), extension: ".zst", trailer: 4 },
  { magic: Buffer.from([0x1f, 0x8b]), extension: ".gz", trailer: 4 },
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), extension: ".xz", trailer: 4 },
];

/** Xen's ELF note type for the 32-bit PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY). */
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** Where the compressed kernel is in a bzImage (boot protocol ≥ 2.08), or undefined if it is not one. */
export function bzImagePayload(bzImage: Buffer): Buffer | undefined {
  if (bzImage.length < 0x250 || bzImage.toString("latin1", 0x202, 0x206) !== "HdrS") return undefined;
  if (bzImage.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSectors = bzImage[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + bzImage.readUInt32LE(0x248);
  const length = bzImage.readUInt32LE(0x24c);
  if (start + length > bzImage.length) return undefined;
  return bzImage.subarray(start, start + length);
}

/** Whether an ELF64 little-endian image has a PVH entry note (Linux with CONFIG_PVH). */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const programHeaders = Number(elf.readBigUInt64LE(0x20));
  const entrySize = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  for (let i = 0; i < count; i++) {
    const header = programHeaders + i * entrySize;
    if (header + 56 > elf.length || elf.readUInt32LE(header) !== 4 /* PT_NOTE */) continue;
    let note = Number(elf.readBigUInt64LE(header + 8));
    const end = note + Number(elf.readBigUInt64LE(header + 32));
    while (note + 12 <= end && end <= elf.length) {
      const nameSize = elf.readUInt32LE(note);
      const descSize = elf.readUInt32LE(note + 4);
      const type = elf.readUInt32LE(note + 8);
      const name = elf.toString("latin1", note + 12, note + 12 + nameSize).replace(/\0+$/, "");
      if (name === "Xen" && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      note += 12 + align4(nameSize) + align4(descSize);
    }
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;

/**
 * The ELF kernel inside a bzImage, if it can start at a PVH entry point; undefined otherwise (an
 * unknown compression, or a kernel without CONFIG_PVH), in which case the bzImage is used as it is.
 */
export async function pvhKernel(bzImage: Buffer): Promise<Buffer | undefined> {
  const payload = bzImagePayload(bzImage);
  if (payload === undefined) return undefined;
  const format = PAYLOAD_FORMATS.find(({ magic }) => payload.subarray(0, magic.length).equals(magic));
  if (format === undefined) return undefined;
  const stream = payload.subarray(0, payload.length - format.trailer);
  const elf = await decompress(stream, format.extension, payload.readUInt32LE(payload.length - 4)).catch(
    () => undefined,
  );
  return elf !== undefined && hasPvhEntry(elf) ? elf : undefined;
}

async function decompress(stream: Buffer, extension: string, size: number): Promise<Buffer> {
  // zstd's own decoder in WebAssembly, into a buffer of the known size: 0.2–0.5 s for the 57 MiB
  // kernel, where fzstd (pure JS, which streams the rare .zst package member) took 2–3 s, on the
  // critical path of every first composition.
  if (extension === ".zst") {
    await zstdReady();
    const out = zstdDecompress(stream, { defaultHeapSize: size });
    if (out.byteLength !== size) throw new Error(`vmlinux.zst gave ${out.byteLength} bytes, not ${size}`);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  return decompressBuffer(`vmlinux${extension}`, stream);
}

let zstdLoaded: Promise<void> | undefined;
/** The WebAssembly module is compiled once per thread, when a kernel first needs it. */
function zstdReady(): Promise<void> {
  zstdLoaded ??= initZstd();
  return zstdLoaded;
}
