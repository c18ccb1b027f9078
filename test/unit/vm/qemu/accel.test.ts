import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseAccel } from "../../../../src/vm/qemu/accel.js";

const request = {
  requested: "auto",
  qemu: "/nonexistent/qemu",
  kernel: "/nonexistent/kernel",
  kernelId: "img",
  cacheFile: "/nonexistent/accel.json",
} as const;

test("an explicit accelerator is used as it is, on any host", async () => {
  const host = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, requested: "tcg", arch: "arm64" }), {
    accel: "tcg",
  });
});

test("auto on a Mac whose CPU is the guest's: hvf, with no probe", async () => {
  const host = { kind: "darwin", os: "darwin", arch: "arm64", cpuName: "arm64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, arch: "arm64" }), { accel: "hvf" });
});

test("auto for another architecture than the host's: TCG, and the warning names the host's CPU", async () => {
  const host = { kind: "darwin", os: "darwin", arch: "arm64", cpuName: "arm64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, arch: "amd64" }), {
    accel: "tcg",
    warning: "the guest is amd64 on a arm64 host: emulating with TCG (slow)",
  });
});

test("auto on a host that is neither macOS nor Linux: TCG, with a warning", async () => {
  const host = { kind: "linux", os: "freebsd", arch: "amd64", cpuName: "x64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, arch: "amd64" }), {
    accel: "tcg",
    warning: "no hardware accelerator on this platform: TCG (slow)",
  });
});
