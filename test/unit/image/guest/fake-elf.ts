/**
 * The smallest 64-bit little-endian ELF program headers can describe: an ELF header, then a PT_LOAD
 * program header and, when asked, a PT_INTERP one (what makes a program dynamically linked).
 */
export function elfProgram(options: { machine: number; type?: number; interpreter?: boolean }): Buffer {
  const PT_LOAD = 1;
  const PT_INTERP = 3;
  const headers = options.interpreter ? [PT_INTERP, PT_LOAD] : [PT_LOAD];
  const file = Buffer.alloc(64 + 56 * headers.length + 16);
  file.writeUInt32BE(0x7f454c46, 0);
  file.set([2, 1, 1], 4);
  file.writeUInt16LE(options.type ?? 2, 0x10);
  file.writeUInt16LE(options.machine, 0x12);
  file.writeBigUInt64LE(64n, 0x20);
  file.writeUInt16LE(64, 0x34);
  file.writeUInt16LE(56, 0x36);
  file.writeUInt16LE(headers.length, 0x38);
  for (const [i, type] of headers.entries()) file.writeUInt32LE(type, 64 + 56 * i);
  return file;
}
