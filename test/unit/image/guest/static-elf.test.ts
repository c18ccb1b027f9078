import assert from "node:assert/strict";
import { test } from "node:test";
import { notStaticProgramFor } from "../../../../src/image/guest/static-elf.js";
import { elfProgram } from "./fake-elf.js";

test("a static program of the architecture passes, static-pie included", () => {
  assert.equal(notStaticProgramFor(elfProgram({ machine: 0x3e }), "amd64"), undefined);
  assert.equal(notStaticProgramFor(elfProgram({ machine: 0xb7, type: 3 }), "arm64"), undefined);
});

test("another machine's, a dynamically linked one, and what is no program are refused, saying why", () => {
  assert.match(
    notStaticProgramFor(elfProgram({ machine: 0xb7 }), "amd64") ?? "",
    /machine 0xb7, not amd64's 0x3e/,
  );
  assert.match(
    notStaticProgramFor(elfProgram({ machine: 0x3e, interpreter: true }), "amd64") ?? "",
    /dynamically linked/,
  );
  assert.match(notStaticProgramFor(elfProgram({ machine: 0x3e, type: 1 }), "amd64") ?? "", /not a program/);
  assert.match(notStaticProgramFor(Buffer.from("#!/bin/sh\n".padEnd(80)), "amd64") ?? "", /not an ELF file/);
  const thirtyTwoBit = elfProgram({ machine: 0x3e });
  thirtyTwoBit[4] = 1;
  assert.match(notStaticProgramFor(thirtyTwoBit, "amd64") ?? "", /not a 64-bit little-endian/);
  assert.match(
    notStaticProgramFor(elfProgram({ machine: 0x3e }).subarray(0, 100), "amd64") ?? "",
    /truncated/,
  );
});
