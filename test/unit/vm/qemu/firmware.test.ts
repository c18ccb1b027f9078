import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { firmwareBeside, qemuFirmware } from "../../../../src/vm/qemu/firmware.js";

test("qboot is looked for where QEMU installs its firmware: <prefix>/share/qemu", () => {
  assert.equal(firmwareBeside("/usr/bin/qemu-system-x86_64"), "/usr/share/qemu/qboot.rom");
  assert.equal(
    firmwareBeside("/opt/homebrew/Cellar/qemu/9.2.0/bin/qemu-system-x86_64"),
    "/opt/homebrew/Cellar/qemu/9.2.0/share/qemu/qboot.rom",
  );
});

test("aarch64 keeps QEMU's default firmware; a QEMU not found gives none", () => {
  assert.equal(qemuFirmware("qemu-system-aarch64", "arm64"), undefined);
  assert.equal(qemuFirmware("/nonexistent/bin/qemu-system-x86_64", "amd64"), undefined);
});

/** QEMU installed in a temporary prefix, found through PATH as `start` finds it. */
describe("qboot found beside the QEMU on PATH", () => {
  let dir: string;
  let savedPath: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-firmware-"));
    savedPath = process.env.PATH;
  });
  after(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (path: string, mode: number) => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, "#!/bin/sh\n");
    await chmod(path, mode);
  };

  test("Homebrew: bin/ holds a link into Cellar/qemu/<version>, whose share/qemu has qboot.rom", async () => {
    const prefix = join(dir, "homebrew");
    const keg = join(prefix, "Cellar", "qemu", "9.2.0");
    await file(join(keg, "bin", "qemu-system-x86_64"), 0o755);
    await file(join(keg, "share", "qemu", "qboot.rom"), 0o644);
    await mkdir(join(prefix, "bin"));
    await symlink("../Cellar/qemu/9.2.0/bin/qemu-system-x86_64", join(prefix, "bin", "qemu-system-x86_64"));
    // Nothing at <prefix>/share/qemu: only the link's target leads to the firmware.
    process.env.PATH = join(prefix, "bin");
    assert.equal(qemuFirmware("qemu-system-x86_64", "amd64"), join(keg, "share", "qemu", "qboot.rom"));
  });

  test("Debian: /usr/bin and /usr/share/qemu; without qboot.rom, QEMU's default", async () => {
    const usr = join(dir, "debian", "usr");
    await file(join(usr, "bin", "qemu-system-x86_64"), 0o755);
    process.env.PATH = join(usr, "bin");
    assert.equal(qemuFirmware("qemu-system-x86_64", "amd64"), undefined, "no qboot.rom installed");
    await file(join(usr, "share", "qemu", "qboot.rom"), 0o644);
    assert.equal(qemuFirmware("qemu-system-x86_64", "amd64"), join(usr, "share", "qemu", "qboot.rom"));
  });
});
