import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkAccel, checkQemu } from "../../../../src/host/doctor/qemu.js";

const ran = (stdout: string) => ({ kind: "ran", stdout }) as const;

describe("QEMU and the accelerator", () => {
  const qemu = { command: "qemu-system-x86_64", platform: "linux", arch: "amd64" } as const;

  test("the version, and old or missing QEMU with the platform's install command", () => {
    const banner =
      "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022\n";
    assert.deepEqual(checkQemu({ ...qemu, result: ran(banner) }), {
      name: "qemu",
      status: "ok",
      detail: "qemu-system-x86_64 7.2.22",
    });
    assert.equal(checkQemu({ ...qemu, result: ran("QEMU emulator version 11.1.0\n") }).status, "ok");
    const old = checkQemu({
      ...qemu,
      result: ran("QEMU emulator version 6.2.0 (Debian 1:6.2+dfsg-2ubuntu6)\n"),
    });
    assert.equal(old.status, "warn");
    assert.match(old.detail, /6\.2\.0 is older than 7\.2/);
    const missing = checkQemu({ ...qemu, result: { kind: "missing" } });
    assert.equal(missing.status, "fail");
    assert.match(missing.fix ?? "", /apt install qemu-system-x86/);
    assert.match(
      checkQemu({ ...qemu, command: "qemu-system-aarch64", arch: "arm64", result: { kind: "missing" } })
        .fix ?? "",
      /apt install qemu-system-arm/,
    );
    assert.match(
      checkQemu({ ...qemu, platform: "darwin", result: { kind: "missing" } }).fix ?? "",
      /brew install qemu/,
    );
    assert.equal(checkQemu({ ...qemu, result: ran("something else") }).status, "warn");
  });

  test("hardware acceleration that works is ok; the TCG fallback is a warning", () => {
    assert.equal(checkAccel({ kind: "chosen", requested: "auto", auto: { accel: "kvm" } }).status, "ok");
    assert.equal(
      checkAccel({ kind: "chosen", requested: "auto", auto: { accel: "hvf" }, hvSupport: true }).status,
      "ok",
    );
    const fallback = checkAccel({
      kind: "chosen",
      requested: "auto",
      auto: {
        accel: "tcg",
        warning: "/dev/kvm is there, but a KVM probe boot failed (the guest hung): using TCG (slow)",
      },
    });
    assert.equal(fallback.status, "warn");
    assert.match(fallback.detail, /KVM probe boot failed/);
  });

  test("a configured accelerator that does not work here fails; a needless TCG is a warning", () => {
    const kvm = checkAccel({
      kind: "chosen",
      requested: "kvm",
      auto: { accel: "tcg", warning: "/dev/kvm is missing or not accessible: using TCG (slow)" },
    });
    assert.equal(kvm.status, "fail");
    assert.match(kvm.detail, /the config asks for kvm, but \/dev\/kvm is missing/);
    assert.match(kvm.fix ?? "", /"auto"/);
    const tcg = checkAccel({ kind: "chosen", requested: "tcg", auto: { accel: "kvm" } });
    assert.equal(tcg.status, "warn");
    assert.match(tcg.detail, /kvm works here/);
    assert.equal(checkAccel({ kind: "chosen", requested: "kvm", auto: { accel: "kvm" } }).status, "ok");
  });

  test("a Mac without Hypervisor.framework fails; no image to probe with is a warning", () => {
    const noHv = checkAccel({ kind: "chosen", requested: "auto", auto: { accel: "hvf" }, hvSupport: false });
    assert.equal(noHv.status, "fail");
    assert.match(noHv.detail, /kern\.hv_support is 0/);
    const noImage = checkAccel({
      kind: "skipped",
      reason: "no amd64 image yet",
      fix: "Run `linux-builder image build`.",
    });
    assert.deepEqual(noImage, {
      name: "accelerator",
      status: "warn",
      detail: "no amd64 image yet",
      fix: "Run `linux-builder image build`.",
    });
  });
});
