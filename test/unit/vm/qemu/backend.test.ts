import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { BootSpec } from "../../../../src/vm/backend.js";
import { probeArgs } from "../../../../src/vm/qemu/accel.js";
import type { Accelerator } from "../../../../src/vm/qemu/argv.js";
import { qemuBackend } from "../../../../src/vm/qemu/backend.js";
import { stateLayout } from "../../../../src/vm/state.js";

const linux = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;
const mac = { kind: "darwin", os: "darwin", arch: "arm64", cpuName: "arm64" } as const;
const layout = stateLayout("/state");

const spec: BootSpec<Accelerator> = {
  arch: "amd64",
  accel: "tcg",
  cpus: 2,
  memoryMiB: 1024,
  kernel: "/img/kernel",
  initrd: "/state/initrd",
  disks: ["/state/nix.img"],
  sshPort: 31022,
  console: { kind: "socket", path: "/state/console.sock", logfile: "/state/console.log" },
};

const after = (args: readonly string[], flag: string) => args[args.indexOf(flag) + 1];

test("detached, QEMU daemonizes and writes the pidfile; attached, it stays and writes it too", () => {
  const backend = qemuBackend(linux, layout);
  const detached = backend.launch(spec);
  assert.equal(detached.command, "qemu-system-x86_64");
  assert.ok(detached.args.includes("-daemonize"));
  assert.equal(after(detached.args, "-pidfile"), "/state/qemu.pid");
  assert.equal(after(detached.args, "-qmp"), "unix:/state/qmp.sock,server=on,wait=off");
  const attached = backend.launch({ ...spec, console: { kind: "stdio", logfile: "/state/console.log" } });
  assert.ok(!attached.args.includes("-daemonize"));
  assert.deepEqual(attached.args.slice(-2), ["-pidfile", "/state/qemu.pid"]);
  assert.equal(after(attached.args, "-mon"), "chardev=console,mode=readline");
});

test("the boot spec's disk and kernel arguments reach QEMU; it boots exactly one disk", () => {
  const backend = qemuBackend(linux, layout);
  const { args } = backend.launch({ ...spec, kernelArgs: ["quiet"] });
  assert.match(after(args, "-drive") ?? "", /^file=\/state\/nix\.img,/);
  assert.match(after(args, "-append") ?? "", / quiet$/);
  assert.throws(() => backend.launch({ ...spec, disks: [] }));
  assert.throws(() => backend.launch({ ...spec, disks: ["/a", "/b"] }));
});

test("ssh reaches the guest on the forwarded port: loopback, except a privileged port on macOS", () => {
  assert.deepEqual(qemuBackend(linux, layout).endpoint({ sshPort: 22 }), {
    kind: "tcp",
    host: "127.0.0.1",
    port: 22,
    listenAddress: "127.0.0.1",
  });
  const exposed = qemuBackend(mac, layout).endpoint({ sshPort: 22 });
  assert.equal(exposed.kind === "tcp" && exposed.listenAddress, "0.0.0.0");
  assert.match(exposed.kind === "tcp" ? (exposed.warning ?? "") : "", /privileged/);
  assert.equal(qemuBackend(mac, layout).endpoint({ sshPort: 31022 }).kind === "tcp", true);
});

test("what a guest under QEMU finds: slirp's network, /dev/vda, the machine's console and power button", () => {
  const backend = qemuBackend(linux, layout);
  const network = { kind: "static", address: "10.0.2.15/24", gateway: "10.0.2.2", nameserver: "10.0.2.3" };
  assert.deepEqual(backend.guestParameters("amd64"), {
    network,
    dataDisk: "/dev/vda",
    console: "ttyS0",
    powerButton: "acpi",
  });
  assert.deepEqual(backend.guestParameters("arm64"), {
    network,
    dataDisk: "/dev/vda",
    console: "ttyAMA0",
    powerButton: "pl061-gpio",
  });
});

test("its processes, its launch failures, its accelerators", () => {
  const backend = qemuBackend(linux, layout);
  assert.equal(backend.isOurProcess("qemu-system-x86_64\0-nodefaults\0"), true);
  assert.equal(backend.isOurProcess("sleep\x080\0"), false);
  assert.equal(
    backend.launchFailure(
      "qemu-system-x86_64: Could not set up host forwarding rule 'tcp:127.0.0.1:31022-:22'",
    ),
    "port-taken",
  );
  assert.equal(backend.launchFailure("qemu-system-x86_64: -m 1T: cannot allocate"), undefined);
  assert.deepEqual(backend.features.accelerators, ["kvm", "hvf", "tcg"]);
});

test("stop requests go over QMP; no QMP socket, no stop", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-qmp-"));
  const received: string[] = [];
  // A QMP stand-in: the greeting, then an empty return for each command.
  const server = createServer((socket) => {
    socket.setEncoding("utf8");
    socket.write(`${JSON.stringify({ QMP: { version: {}, capabilities: [] } })}\n`);
    socket.on("data", (chunk: string) => {
      for (const line of chunk.split("\n").filter(Boolean)) {
        const { execute, id } = JSON.parse(line) as { execute: string; id: string };
        received.push(execute);
        socket.write(`${JSON.stringify({ return: {}, id })}\n`);
      }
    });
  });
  try {
    const here = stateLayout(dir);
    const backend = qemuBackend(linux, here);
    assert.equal(await backend.requestStop(), false);
    assert.equal(await backend.forceStop(), false);
    await new Promise<void>((resolve) => server.listen(here.qmpSocket, resolve));
    assert.equal(await backend.requestStop(), true);
    assert.equal(await backend.forceStop(), true);
    assert.deepEqual(received, ["qmp_capabilities", "system_powerdown", "qmp_capabilities", "quit"]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  }
});

/** The KVM probe's verdict stands for `start`'s boot only if it boots the same machine and firmware. */
test("the KVM probe boots with a launch's -machine and -bios", async () => {
  const prefix = await mkdtemp(join(tmpdir(), "lb-probe-argv-"));
  const savedPath = process.env.PATH;
  try {
    await mkdir(join(prefix, "bin"));
    await writeFile(join(prefix, "bin", "qemu-system-x86_64"), "#!/bin/sh\n");
    await chmod(join(prefix, "bin", "qemu-system-x86_64"), 0o755);
    process.env.PATH = join(prefix, "bin");
    /** The firmware both boot, once checked that they boot the same machine and firmware. */
    const firmwareOfBoth = () => {
      const launch = qemuBackend(linux, layout).launch({ ...spec, accel: "kvm" }).args;
      const probe = probeArgs("qemu-system-x86_64", "/img/kernel");
      assert.equal(after(probe, "-machine"), after(launch, "-machine"));
      const firmware = (args: readonly string[]) =>
        args.includes("-bios") ? after(args, "-bios") : undefined;
      assert.equal(firmware(probe), firmware(launch));
      return firmware(launch);
    };
    assert.equal(firmwareOfBoth(), undefined, "no qboot.rom: QEMU's default firmware for both");
    await mkdir(join(prefix, "share", "qemu"), { recursive: true });
    await writeFile(join(prefix, "share", "qemu", "qboot.rom"), "");
    assert.equal(firmwareOfBoth(), join(prefix, "share", "qemu", "qboot.rom"));
  } finally {
    process.env.PATH = savedPath;
    await rm(prefix, { recursive: true, force: true });
  }
});
