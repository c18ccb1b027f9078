import assert from "node:assert/strict";
import { test } from "node:test";
import type { NIX_SYSTEMS } from "../../../src/config/config.js";
import { binfmtRegistration, EMULATION_TARGETS, interpreterPath } from "../../../src/guest/binfmt.js";

/** The bytes a binfmt_misc \xNN string stands for (the kernel decodes it so). */
function bytesOf(escaped: string): Buffer {
  return Buffer.from(
    escaped.replace(/\\x([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    "latin1",
  );
}

test("the registration line: qemu's name, ELF magic and mask, the interpreter by absolute path, F and P", () => {
  assert.equal(
    binfmtRegistration("aarch64-linux"),
    ":qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:" +
      "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:" +
      "/usr/bin/qemu-aarch64:FP",
  );
  assert.equal(interpreterPath("x86_64-linux"), "/usr/bin/qemu-x86_64");
});

test("each target's magic matches its own machine's ELF header under the mask, and not the other's", () => {
  const header = (machine: number, type: number) => {
    const bytes = Buffer.alloc(20);
    bytes.write("\x7fELF", 0, "latin1");
    bytes.set([2, 1, 1], 4);
    bytes.writeUInt16LE(type, 16);
    bytes.writeUInt16LE(machine, 18);
    return bytes;
  };
  const matches = (system: (typeof NIX_SYSTEMS)[number], file: Buffer) => {
    const magic = bytesOf(EMULATION_TARGETS[system].magic);
    const mask = bytesOf(EMULATION_TARGETS[system].mask);
    assert.equal(magic.length, 20);
    assert.equal(mask.length, 20);
    // As fs/binfmt_misc.c compares: the bits the mask keeps are the magic's.
    return [...magic].every((byte, i) => (((file[i] ?? 0) ^ byte) & (mask[i] ?? 0)) === 0);
  };
  const ET_EXEC = 2;
  const ET_DYN = 3;
  for (const type of [ET_EXEC, ET_DYN]) {
    assert.ok(matches("aarch64-linux", header(0xb7, type)));
    assert.ok(matches("x86_64-linux", header(0x3e, type)));
    assert.ok(!matches("aarch64-linux", header(0x3e, type)));
    assert.ok(!matches("x86_64-linux", header(0xb7, type)));
  }
  // A relocatable object (ET_REL) is not a program.
  assert.ok(!matches("aarch64-linux", header(0xb7, 1)));
});
