import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { bzImagePayload, hasPvhEntry, pvhKernel } from "../../../../src/image/guest/pvh-kernel.js";

/** A minimal ELF64 with one PT_NOTE segment holding the given notes. */
function elfWithNotes(notes: { name: string; type: number; desc: Buffer }[]): Buffer {
  const noteBytes = Buffer.concat(
    notes.map(({ name, type, desc }) => {
      const nameBytes = Buffer.from(`${name}\0`);
      const header = Buffer.alloc(12);
      header.writeUInt32LE(nameBytes.length, 0);
      header.writeUInt32LE(desc.length, 4);
      header.writeUInt32LE(type, 8);
      const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
      return Buffer.concat([header, pad(nameBytes), pad(desc)]);
    }),
  );
  const elf = Buffer.alloc(64 + 56);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // ELFCLASS64
  elf[5] = 1; // little-endian
  elf.writeBigUInt64LE(64n, 0x20); // e_phoff
  elf.writeUInt16LE(56, 0x36); // e_phentsize
  elf.writeUInt16LE(1, 0x38); // e_phnum
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(BigInt(64 + 56), 64 + 8); // p_offset
  elf.writeBigUInt64LE(BigInt(noteBytes.length), 64 + 32); // p_filesz
  return Buffer.concat([elf, noteBytes]);
}

/** A bzImage shell: setup header with HdrS, protocol 2.15, payload offset and length. */
function bzImage(payload: Buffer): Buffer {
  const setupSectors = 3;
  const header = Buffer.alloc((setupSectors + 1) * 512);
  header[0x1f1] = setupSectors;
  header.write("HdrS", 0x202, "latin1");
  header.writeUInt16LE(0x20f, 0x206);
  const payloadOffset = 0x100;
  header.writeUInt32LE(payloadOffset, 0x248);
  header.writeUInt32LE(payload.length, 0x24c);
  return Buffer.concat([header, Buffer.alloc(payloadOffset), payload, Buffer.alloc(64)]);
}

const pvhNote = { name: "Xen", type: 18, desc: Buffer.from([0, 0, 0, 1]) };
const otherNote = { name: "Xen", type: 6, desc: Buffer.from("linux\0") };

test("an ELF is PVH-bootable only with Xen's PHYS32_ENTRY note", () => {
  assert.ok(hasPvhEntry(elfWithNotes([otherNote, pvhNote])));
  assert.ok(!hasPvhEntry(elfWithNotes([otherNote])));
  assert.ok(!hasPvhEntry(elfWithNotes([{ name: "GNU", type: 18, desc: Buffer.alloc(4) }])));
  assert.ok(!hasPvhEntry(Buffer.from("not an elf at all, but long enough to read a header from it....")));
});

test("the ELF inside a bzImage comes out; anything else gives undefined", async () => {
  const elf = elfWithNotes([otherNote, pvhNote]);
  // The build appends the decompressed size to the payload.
  const size = Buffer.alloc(4);
  size.writeUInt32LE(elf.length);
  const payload = Buffer.concat([gzipSync(elf), size]);
  assert.deepEqual(bzImagePayload(bzImage(payload)), payload);
  assert.deepEqual(await pvhKernel(bzImage(payload)), elf);

  const noPvh = elfWithNotes([otherNote]);
  size.writeUInt32LE(noPvh.length);
  assert.equal(await pvhKernel(bzImage(Buffer.concat([gzipSync(noPvh), size]))), undefined);
  assert.equal(await pvhKernel(bzImage(Buffer.from("unknown compression"))), undefined);
  assert.equal(await pvhKernel(Buffer.from("an arm64 Image, not a bzImage")), undefined);
});
