import assert from "node:assert/strict";
import { test } from "node:test";
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
