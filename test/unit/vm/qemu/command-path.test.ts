import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, test } from "node:test";
import { commandPath } from "../../../../src/vm/qemu/command-path.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "lb-command-path-"));
  for (const [folder, mode] of [
    ["plain", 0o644],
    ["first", 0o755],
    ["second", 0o755],
  ] as const) {
    await mkdir(join(dir, folder));
    await writeFile(join(dir, folder, "qemu-system-x86_64"), "#!/bin/sh\n");
    await chmod(join(dir, folder, "qemu-system-x86_64"), mode);
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the first executable on PATH, skipping empty entries and files that cannot be run", () => {
  const path = ["", join(dir, "missing"), join(dir, "plain"), join(dir, "first"), join(dir, "second")].join(
    delimiter,
  );
  assert.equal(commandPath("qemu-system-x86_64", path), join(dir, "first", "qemu-system-x86_64"));
  assert.equal(commandPath("qemu-system-aarch64", path), undefined);
});

test("a path is itself when it can be run, whatever PATH says", () => {
  assert.equal(
    commandPath(join(dir, "second", "qemu-system-x86_64"), ""),
    join(dir, "second", "qemu-system-x86_64"),
  );
  assert.equal(commandPath(join(dir, "plain", "qemu-system-x86_64"), join(dir, "first")), undefined);
});

test("PATH is the process's by default", () => {
  const saved = process.env.PATH;
  process.env.PATH = join(dir, "second");
  try {
    assert.equal(commandPath("qemu-system-x86_64"), join(dir, "second", "qemu-system-x86_64"));
  } finally {
    process.env.PATH = saved;
  }
});
