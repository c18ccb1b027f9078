/** A minimal ELF64 little-endian object with a .modinfo section, as a kernel module has. */
export function fakeModule(modinfo: string[]): Buffer {
  const info = Buffer.from(`${modinfo.join("\0")}\0`, "latin1");
  const names = Buffer.from("\0.modinfo\0.shstrtab\0", "latin1");
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  const infoOffset = 64;
  const namesOffset = infoOffset + info.length;
  const sectionTable = namesOffset + names.length;
  header.writeBigUInt64LE(BigInt(sectionTable), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(2, 0x3e);
  const section = (name: number, offset: number, size: number) => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(name, 0);
    s.writeBigUInt64LE(BigInt(offset), 0x18);
    s.writeBigUInt64LE(BigInt(size), 0x20);
    return s;
  };
  return Buffer.concat([
    header,
    info,
    names,
    section(0, 0, 0),
    section(1, infoOffset, info.length),
    section(10, namesOffset, names.length),
  ]);
}
