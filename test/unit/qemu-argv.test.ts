import assert from "node:assert/strict";
import { test } from "node:test";
import { kernelCommandLine, type QemuSpec, qemuCommand } from "../../src/vm/qemu-argv.js";

const spec: QemuSpec = {
  arch: "amd64",
  accel: "tcg",
  cpus: 2,
  memoryMiB: 1024,
  kernel: "/img/kernel",
  initrd: "/state/initrd",
  disk: "/state/nix.img",
  sshPort: 31022,
  qmpSocket: "/state/qmp.sock",
  console: { kind: "file", path: "/state/console.log" },
};

function after(args: readonly string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1] ?? ""] : []));
}

test("x86_64 under TCG: q35, the cpu model max, ssh forwarded on loopback only", () => {
  const { command, args } = qemuCommand(spec);
  assert.equal(command, "qemu-system-x86_64");
  assert.deepEqual(after(args, "-machine"), ["q35,accel=tcg"]);
  assert.deepEqual(after(args, "-cpu"), ["max"]);
  assert.deepEqual(after(args, "-netdev"), ["user,id=net0,hostfwd=tcp:127.0.0.1:31022-:22"]);
  assert.deepEqual(after(args, "-append"), ["console=ttyS0 panic=-1 loglevel=4"]);
  assert.ok(args.includes("-no-reboot"));
  assert.deepEqual(after(args, "-qmp"), ["unix:/state/qmp.sock,server=on,wait=off"]);
  assert.deepEqual(after(args, "-serial"), ["chardev:console"]);
});

test("aarch64: the virt machine and the PL011 console", () => {
  const { command, args } = qemuCommand({ ...spec, arch: "arm64", accel: "hvf", console: { kind: "stdio" } });
  assert.equal(command, "qemu-system-aarch64");
  assert.deepEqual(after(args, "-machine"), ["virt,accel=hvf"]);
  assert.deepEqual(after(args, "-cpu"), ["host"]);
  // Attached: the terminal carries the console and, after Ctrl-a c, the monitor.
  assert.deepEqual(after(args, "-chardev"), ["stdio,id=console,mux=on,signal=off"]);
  assert.deepEqual(after(args, "-serial"), ["chardev:console"]);
  assert.deepEqual(after(args, "-mon"), ["chardev=console,mode=readline"]);
  assert.equal(kernelCommandLine({ arch: "arm64" }), "console=ttyAMA0 panic=-1 loglevel=4");
});
