import assert from "node:assert/strict";
import { test } from "node:test";
import { hostKindOf } from "../../../../src/host/host.js";
import {
  hostForwardAddress,
  kernelCommandLine,
  privilegedPortWarning,
  type QemuSpec,
  qemuCommand,
} from "../../../../src/vm/qemu/argv.js";

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

test("x86_64 on Linux under TCG: the whole argv", () => {
  const { command, args } = qemuCommand({ ...spec, hostPlatform: "linux" });
  assert.equal(command, "qemu-system-x86_64");
  assert.deepEqual(args, [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-machine",
    "q35,accel=tcg,i8042=off,vmport=off",
    "-cpu",
    "max,-erms",
    "-smp",
    "2",
    "-m",
    "1024M",
    "-kernel",
    "/img/kernel",
    "-initrd",
    "/state/initrd",
    "-append",
    "console=ttyS0 panic=-1 loglevel=4 initcall_blacklist=crypto_kdf108_init,init_encrypted,jent_mod_init,bpf_tcp_ca_kfunc_init,bpf_dummy_struct_ops_init,load_system_certificate_list cryptomgr.notests oops=panic nowatchdog sysctl.vm.compaction_proactiveness=0 cgroup_disable=memory psi=0 sysctl.vm.stat_interval=10 rcu_nocbs=all tsc=reliable",
    "-no-reboot",
    "-rtc",
    "base=utc,clock=host",
    "-drive",
    "file=/state/nix.img,if=none,id=nix,format=raw,cache=writeback,discard=unmap",
    "-device",
    "virtio-blk-pci,drive=nix",
    "-netdev",
    "user,id=net0,hostfwd=tcp:127.0.0.1:31022-:22",
    "-device",
    "virtio-net-pci,netdev=net0",
    "-device",
    "virtio-rng-pci",
    "-device",
    "virtio-balloon-pci,free-page-reporting=on",
    "-qmp",
    "unix:/state/qmp.sock,server=on,wait=off",
    "-chardev",
    "file,id=console,path=/state/console.log",
    "-serial",
    "chardev:console",
  ]);
});

/** The options that differ between platforms, one row per host, guest and accelerator. */
const platforms: ReadonlyArray<{
  name: string;
  spec: Pick<QemuSpec, "arch" | "accel" | "hostPlatform">;
  command: string;
  machine: string;
  cpu: string;
}> = [
  {
    name: "aarch64 on macOS (hvf)",
    spec: { arch: "arm64", accel: "hvf", hostPlatform: "darwin" },
    command: "qemu-system-aarch64",
    machine: "virt,accel=hvf",
    cpu: "host",
  },
  {
    name: "x86_64 on macOS (hvf)",
    spec: { arch: "amd64", accel: "hvf", hostPlatform: "darwin" },
    command: "qemu-system-x86_64",
    machine: "q35,accel=hvf,i8042=off,vmport=off",
    cpu: "host",
  },
  {
    name: "x86_64 on an Apple-silicon Mac (TCG)",
    spec: { arch: "amd64", accel: "tcg", hostPlatform: "darwin" },
    command: "qemu-system-x86_64",
    machine: "q35,accel=tcg,i8042=off,vmport=off",
    cpu: "max,-erms",
  },
  {
    name: "aarch64 on an Intel Mac (TCG)",
    spec: { arch: "arm64", accel: "tcg", hostPlatform: "darwin" },
    command: "qemu-system-aarch64",
    machine: "virt,accel=tcg,gic-version=3",
    cpu: "max,pauth-impdef=on",
  },
  {
    name: "x86_64 on Linux (kvm)",
    spec: { arch: "amd64", accel: "kvm", hostPlatform: "linux" },
    command: "qemu-system-x86_64",
    machine: "q35,accel=kvm,i8042=off,vmport=off",
    cpu: "host",
  },
  {
    name: "x86_64 on Linux (TCG): no ERMS, as TCG runs rep stosb a byte at a time",
    spec: { arch: "amd64", accel: "tcg", hostPlatform: "linux" },
    command: "qemu-system-x86_64",
    machine: "q35,accel=tcg,i8042=off,vmport=off",
    cpu: "max,-erms",
  },
  {
    name: "aarch64 on Linux (TCG): GICv3, as GICv2 stops at 8 vCPUs; the cheap pointer-auth hash",
    spec: { arch: "arm64", accel: "tcg", hostPlatform: "linux" },
    command: "qemu-system-aarch64",
    machine: "virt,accel=tcg,gic-version=3",
    cpu: "max,pauth-impdef=on",
  },
  {
    name: "aarch64 on an arm64 Linux host (kvm): the host's GIC",
    spec: { arch: "arm64", accel: "kvm", hostPlatform: "linux" },
    command: "qemu-system-aarch64",
    machine: "virt,accel=kvm,gic-version=max",
    cpu: "host",
  },
];

for (const platform of platforms) {
  test(`${platform.name}: ${platform.machine}, -cpu ${platform.cpu}, ssh on 127.0.0.1 only`, () => {
    const { command, args } = qemuCommand({ ...spec, ...platform.spec });
    assert.equal(command, platform.command);
    assert.deepEqual(after(args, "-machine"), [platform.machine]);
    assert.deepEqual(after(args, "-cpu"), [platform.cpu]);
    assert.deepEqual(after(args, "-netdev"), ["user,id=net0,hostfwd=tcp:127.0.0.1:31022-:22"]);
    // Never highmem=off: QEMU sizes the memory map from the host's address range by itself.
    assert.ok(!args.some((arg) => arg.includes("highmem")));
    if (platform.spec.accel === "hvf") {
      // QEMU rejects gic-version=2 under hvf; it picks the right one itself.
      assert.ok(!args.some((arg) => arg.includes("gic-version")));
    }
    // Freed guest memory goes back to the host: the balloon's free page reporting, on both machines.
    assert.ok(after(args, "-device").includes("virtio-balloon-pci,free-page-reporting=on"));
    assert.equal(
      after(args, "-append")[0],
      `console=${platform.spec.arch === "amd64" ? "ttyS0" : "ttyAMA0"} panic=-1 loglevel=4 initcall_blacklist=crypto_kdf108_init,init_encrypted,jent_mod_init,bpf_tcp_ca_kfunc_init,bpf_dummy_struct_ops_init,load_system_certificate_list cryptomgr.notests oops=panic nowatchdog sysctl.vm.compaction_proactiveness=0 cgroup_disable=memory psi=0 sysctl.vm.stat_interval=10 rcu_nocbs=all${platform.spec.arch === "amd64" ? " tsc=reliable" : ""}`,
    );
  });
}

test("free page reporting: on unless asked off (the bench's comparison), and then no balloon at all", () => {
  const devices = (extra: Partial<QemuSpec>) => after(qemuCommand({ ...spec, ...extra }).args, "-device");
  const balloon = "virtio-balloon-pci,free-page-reporting=on";
  assert.deepEqual(
    devices({}).filter((d) => d.startsWith("virtio-balloon")),
    [balloon],
  );
  assert.deepEqual(devices({ freePageReporting: true }), devices({}));
  for (const arch of ["amd64", "arm64"] as const) {
    const off = devices({ arch, freePageReporting: false });
    assert.ok(!off.some((d) => d.includes("balloon")));
    assert.deepEqual(
      off,
      devices({ arch }).filter((d) => d !== balloon),
    );
  }
});

test("port 22 on macOS: bound on 0.0.0.0 (macOS lets QEMU bind it nowhere else), with a warning", () => {
  const { args } = qemuCommand({ ...spec, arch: "arm64", accel: "hvf", hostPlatform: "darwin", sshPort: 22 });
  assert.deepEqual(after(args, "-netdev"), ["user,id=net0,hostfwd=tcp:0.0.0.0:22-:22"]);
  const warning = privilegedPortWarning({ hostPlatform: "darwin", sshPort: 22 });
  assert.match(warning ?? "", /^port 22 is privileged/);
  assert.match(warning ?? "", /0\.0\.0\.0/);
  assert.match(warning ?? "", /31022/);
  assert.equal(hostForwardAddress("darwin", 1023), "0.0.0.0");
});

test("macOS with an unprivileged port, and Linux with any port, stay on 127.0.0.1 without a warning", () => {
  for (const [hostPlatform, sshPort] of [
    ["darwin", 1024],
    ["darwin", 31022],
    ["linux", 22],
    ["linux", 31022],
  ] as const) {
    const { args } = qemuCommand({ ...spec, hostPlatform, sshPort });
    assert.deepEqual(after(args, "-netdev"), [`user,id=net0,hostfwd=tcp:127.0.0.1:${sshPort}-:22`]);
    assert.equal(privilegedPortWarning({ hostPlatform, sshPort }), undefined);
  }
  // No platform given (as the boot tests do): Linux, loopback only.
  assert.deepEqual(after(qemuCommand({ ...spec, sshPort: 22 }).args, "-netdev"), [
    "user,id=net0,hostfwd=tcp:127.0.0.1:22-:22",
  ]);
  assert.equal(privilegedPortWarning({ sshPort: 22 }), undefined);
});

test("the host platform: macOS is darwin, everything else is treated as Linux", () => {
  assert.equal(hostKindOf("darwin"), "darwin");
  assert.equal(hostKindOf("linux"), "linux");
  assert.equal(hostKindOf("freebsd"), "linux");
});

test("the console: a socket logged to a file, or the terminal shared with the monitor", () => {
  const detached = qemuCommand({
    ...spec,
    console: { kind: "socket", path: "/state/console.sock", logfile: "/state/console.log" },
    daemonize: { pidfile: "/state/qemu.pid" },
  }).args;
  assert.deepEqual(after(detached, "-chardev"), [
    "socket,id=console,path=/state/console.sock,server=on,wait=off,logfile=/state/console.log,logappend=on",
  ]);
  assert.ok(detached.includes("-daemonize"));
  assert.deepEqual(after(detached, "-pidfile"), ["/state/qemu.pid"]);

  const attached = qemuCommand({ ...spec, arch: "arm64", accel: "hvf", console: { kind: "stdio" } }).args;
  // Attached: the terminal carries the console and, after Ctrl-a c, the monitor.
  assert.deepEqual(after(attached, "-chardev"), ["stdio,id=console,mux=on,signal=off"]);
  assert.deepEqual(after(attached, "-serial"), ["chardev:console"]);
  assert.deepEqual(after(attached, "-mon"), ["chardev=console,mode=readline"]);
  assert.equal(
    kernelCommandLine({ arch: "arm64" }),
    "console=ttyAMA0 panic=-1 loglevel=4 initcall_blacklist=crypto_kdf108_init,init_encrypted,jent_mod_init,bpf_tcp_ca_kfunc_init,bpf_dummy_struct_ops_init,load_system_certificate_list cryptomgr.notests oops=panic nowatchdog sysctl.vm.compaction_proactiveness=0 cgroup_disable=memory psi=0 sysctl.vm.stat_interval=10 rcu_nocbs=all",
  );
});

test("a comma in a path is doubled, so QEMU does not read it as an option separator", () => {
  const { args } = qemuCommand({ ...spec, disk: "/a,b/nix.img", qmpSocket: "/a,b/qmp.sock" });
  assert.deepEqual(after(args, "-drive"), [
    "file=/a,,b/nix.img,if=none,id=nix,format=raw,cache=writeback,discard=unmap",
  ]);
  assert.deepEqual(after(args, "-qmp"), ["unix:/a,,b/qmp.sock,server=on,wait=off"]);
});

test("a firmware given is booted with -bios, before the kernel; none given, QEMU's default", () => {
  const { args } = qemuCommand({ ...spec, firmware: "/usr/share/qemu/qboot.rom" });
  assert.deepEqual(after(args, "-bios"), ["/usr/share/qemu/qboot.rom"]);
  assert.ok(args.indexOf("-bios") < args.indexOf("-kernel"));
  assert.deepEqual(after(qemuCommand(spec).args, "-bios"), []);
});
