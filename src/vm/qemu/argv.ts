import type { HostKind } from "../../host/host.js";
import { ARCHITECTURES, type Arch } from "../../image/guest/profile.js";

/** QEMU's accelerators, declared once: instance.json records one of them. */
export const ACCELERATORS = ["kvm", "hvf", "tcg"] as const;

export type Accelerator = (typeof ACCELERATORS)[number];

/** Everything that decides QEMU's command line: pure data in, pure data out. */
export interface QemuSpec {
  readonly arch: Arch;
  readonly accel: Accelerator;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly initrd: string;
  readonly disk: string;
  /** Host port forwarded to the guest's sshd, bound to 127.0.0.1 (see hostForwardAddress). */
  readonly sshPort: number;
  /**
   * Where QEMU runs. Only macOS with a privileged port changes the argv (see hostForwardAddress);
   * absent means Linux, which keeps the port on loopback.
   */
  readonly hostPlatform?: HostKind;
  readonly qmpSocket: string;
  /**
   * Where the serial console goes: a log file; a unix socket others can attach to, logged to a file
   * (detached); or this process's stdio multiplexed with the QEMU monitor (attached: Ctrl-a c).
   */
  readonly console:
    | { readonly kind: "file"; readonly path: string }
    | { readonly kind: "socket"; readonly path: string; readonly logfile: string }
    | { readonly kind: "stdio"; readonly logfile?: string };
  /** Detach once the VM runs (QEMU reports start-up errors before it returns), writing its pid here. */
  readonly daemonize?: { readonly pidfile: string };
  readonly extraKernelArgs?: readonly string[];
  /**
   * A virtio-balloon device with free page reporting (default on): the guest tells QEMU which pages
   * it has freed, and QEMU gives them back to the host, so QEMU's resident size falls after a big
   * build instead of staying at its peak. Off only for the bench's comparison.
   */
  readonly freePageReporting?: boolean;
  /** The firmware QEMU boots (`-bios`), when not its default (see firmware.ts). */
  readonly firmware?: string;
}

export interface QemuCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/** Kernel initcalls the builder's boot skips (see kernelCommandLine). */
export const BLACKLISTED_INITCALLS = [
  "crypto_kdf108_init",
  "init_encrypted",
  "jent_mod_init",
  "bpf_tcp_ca_kfunc_init",
  "bpf_dummy_struct_ops_init",
  "load_system_certificate_list",
] as const;

/**
 * What an idle guest's kernel would wake up for on its own, and a builder needs none of (found with
 * tracefs's timer and sched_wakeup events under TCG, where every wake-up is host CPU): the soft and
 * hard lockup watchdogs (an hrtimer on each vCPU every 4 s; under TCG a busy host only makes them
 * cry wolf); proactive memory compaction (kcompactd woke twice a second to find nothing to do; a
 * large allocation still compacts on demand); the memory cgroup's statistics flush (every 2 s; the
 * guest mounts no cgroup, Nix's sandbox uses none by default). On x86_64 also the clocksource
 * watchdog, which read the HPET twice a second to check the TSC, an emulated device read each
 * time: under TCG the TSC is the host's own clock, under KVM the guest uses kvm-clock. Then, measured
 * together (each alone was within the noise): pressure stall accounting, whose averaging work ran
 * every 2 s for /proc/pressure, which nothing in the guest reads; the per-CPU memory statistics,
 * folded every 10 s instead of every second (the counters /proc/meminfo sums are then up to 10 s
 * old, within a few MiB); RCU callbacks on every CPU offloaded to kthreads, where the kernel's lazy
 * RCU batches them for up to 10 s instead of a grace period for each (memory pressure flushes
 * them at once). The fair server's timer, which no parameter sets, is slowed by the init
 * (guest/init.sh, slow_fair_server).
 */
export const IDLE_KERNEL_PARAMETERS = {
  common: [
    "nowatchdog",
    "sysctl.vm.compaction_proactiveness=0",
    "cgroup_disable=memory",
    "psi=0",
    "sysctl.vm.stat_interval=10",
    "rcu_nocbs=all",
  ],
  amd64: ["tsc=reliable"],
  arm64: [],
} as const satisfies Record<"common" | Arch, readonly string[]>;

export function kernelCommandLine(spec: Pick<QemuSpec, "arch" | "extraKernelArgs">): string {
  return [
    `console=${ARCHITECTURES[spec.arch].console}`,
    // A panic reboots at once, and -no-reboot turns that into QEMU exiting: no hung VM.
    "panic=-1",
    "loglevel=4",
    // Set-up a builder never uses, found with initcall_debug under TCG (about 1.1 s of a 3 s boot):
    // the SP800-108 KDF's self-test (0.7 s) and encrypted keys (30 ms), both for keyctl's encrypted
    // keys; the jitter-entropy RNG's self-test (130 ms), which seeds only the crypto API's DRBG
    // (/dev/random has its own sources); BPF TCP congestion control and struct_ops (90 ms); and the
    // built-in X.509 certificates (160 ms), which check module signatures. The composer has already
    // checked those modules, byte for byte, against Debian's signed index; without the certificates
    // they load all the same, and dmesg says so once ("tainting kernel").
    `initcall_blacklist=${BLACKLISTED_INITCALLS.join(",")}`,
    // The crypto API's self-tests of every algorithm built in, at boot (0.6-1.3 s of the kernel's
    // start under TCG): known-answer checks of the kernel's own implementations, which FIPS mode
    // requires and a builder does not run (its kernel hashes only ext4's crc32c; Nix and sshd use
    // their own libraries).
    "cryptomgr.notests",
    // A kernel Oops stops the machine (panic, then QEMU exits) instead of leaving a builder that
    // hangs half-booted; `start` and `run` then say so, and under TCG try once more.
    "oops=panic",
    ...IDLE_KERNEL_PARAMETERS.common,
    ...IDLE_KERNEL_PARAMETERS[spec.arch],
    ...(spec.extraKernelArgs ?? []),
  ].join(" ");
}

/** QEMU separates options with commas; a comma inside a value (a path) is written twice. */
export function qemuValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/**
 * The host address the ssh forward listens on: 127.0.0.1, except for a privileged port (< 1024) on
 * macOS, which lets an unprivileged process bind one only on all addresses (the seed's port 22
 * quirk, see privilegedPortWarning).
 */
export function hostForwardAddress(hostPlatform: HostKind, port: number): "127.0.0.1" | "0.0.0.0" {
  return hostPlatform === "darwin" && port < 1024 ? "0.0.0.0" : "127.0.0.1";
}

/** What to tell the user when the forward cannot stay on loopback; undefined when it does. */
export function privilegedPortWarning(spec: Pick<QemuSpec, "hostPlatform" | "sshPort">): string | undefined {
  if (hostForwardAddress(spec.hostPlatform ?? "linux", spec.sshPort) === "127.0.0.1") return undefined;
  return (
    `port ${spec.sshPort} is privileged, and macOS lets an unprivileged process such as QEMU bind it only ` +
    "on all addresses (0.0.0.0), not on 127.0.0.1 alone: the builder's ssh is reachable from the network " +
    "(only its key logs in), and macOS may ask whether QEMU may accept incoming connections; you can deny " +
    "that, the builder needs none. A port above 1023 (the default is 31022) stays on 127.0.0.1."
  );
}

/**
 * `-machine`: q35 for x86_64; virt for aarch64, whose interrupt controller depends on the
 * accelerator. TCG: GICv3, since the default GICv2 caps the guest at 8 vCPUs. KVM: the host's own
 * (`max`), as a host with only a GICv3 cannot give a guest the default GICv2. hvf: none at all:
 * QEMU picks the one Hypervisor.framework supports, and newer QEMU rejects gic-version=2 there.
 * Never highmem=off: QEMU >= 7.0 sizes the memory map from the host's IPA range (36 bits on M1) by
 * itself, and highmem=off now caps the guest at 32-bit addresses, which fails with more than ~3 GiB
 * ("Addressing limited to 32 bits"). The M1 Max bug it once worked around is fixed in macOS 12.4,
 * which `doctor` requires.
 */
// Not `microvm`: its guest reached READY 0.5 s sooner under TCG, but with neither HPET nor ACPI PM
// timer the kernel calibrates its TSC against the PIT alone, which fails on a loaded host, and the
// boot then hangs (6 of 8 boots under load here). q35 boots the same PVH kernel reliably.
export function machineOption(spec: Pick<QemuSpec, "arch" | "accel">): string {
  // Without the PS/2 controller (and VMware's port, which needs it): the kernel's i8042 probe was
  // 0.3 s of its start under TCG, for a keyboard and mouse no builder has.
  if (spec.arch === "amd64") return `q35,accel=${spec.accel},i8042=off,vmport=off`;
  const gic = { tcg: ",gic-version=3", kvm: ",gic-version=max", hvf: "" }[spec.accel];
  return `virt,accel=${spec.accel}${gic}`;
}

/**
 * `-cpu`: the host's own CPU under a hypervisor; under TCG the most capable model QEMU emulates. For
 * aarch64 with QEMU's own pointer-authentication hash instead of the architected QARMA5, which is
 * costly to emulate and which Debian's kernel uses on every call: the guest reached READY in about
 * half the time (6-9 s instead of 12-18 s, QEMU 7.2, 2 vCPUs). For x86_64 without ERMS ("enhanced
 * rep movsb"), so the kernel clears pages with `rep stosq` instead of `rep stosb`: TCG runs a rep
 * string instruction one element at a time, 512 steps a page instead of 4096; sshd listened 0.15-0.2 s
 * sooner. Older models (qemu64, Nehalem) were slower: user space lost its SSE4/AVX string and crypto
 * code.
 */
function cpuOption(spec: Pick<QemuSpec, "arch" | "accel">): string {
  if (spec.accel !== "tcg") return "host";
  return spec.arch === "arm64" ? "max,pauth-impdef=on" : "max,-erms";
}

/**
 * The balloon, for free page reporting only: it is never inflated (no target is ever set), so the
 * guest keeps all its memory; the guest's virtio_balloon driver reports free blocks of 2 MiB and more
 * (the kernel's page_reporting_order) a few seconds after they are freed, and QEMU discards them
 * (MADV_DONTNEED). QEMU has had the property since 5.1; PCI on both machines we use (q35, virt).
 */
function balloonDevice(spec: Pick<QemuSpec, "freePageReporting">): string[] {
  return spec.freePageReporting === false ? [] : ["-device", "virtio-balloon-pci,free-page-reporting=on"];
}

/** QEMU's argv for the builder VM. */
export function qemuCommand(spec: QemuSpec): QemuCommand {
  const forwardAddress = hostForwardAddress(spec.hostPlatform ?? "linux", spec.sshPort);
  const serial =
    spec.console.kind === "file"
      ? ["-chardev", `file,id=console,path=${qemuValue(spec.console.path)}`, "-serial", "chardev:console"]
      : spec.console.kind === "socket"
        ? [
            "-chardev",
            `socket,id=console,path=${qemuValue(spec.console.path)},server=on,wait=off,logfile=${qemuValue(spec.console.logfile)},logappend=on`,
            "-serial",
            "chardev:console",
          ]
        : [
            // The terminal, shared with the monitor (Ctrl-a c), as the seed's -nographic does; Ctrl-c
            // goes to the guest (signal=off) rather than killing QEMU mid-build.
            "-chardev",
            `stdio,id=console,mux=on,signal=off${spec.console.logfile ? `,logfile=${qemuValue(spec.console.logfile)},logappend=on` : ""}`,
            "-serial",
            "chardev:console",
            "-mon",
            "chardev=console,mode=readline",
          ];
  const daemonize = spec.daemonize ? ["-daemonize", "-pidfile", spec.daemonize.pidfile] : [];
  return {
    command: spec.arch === "amd64" ? "qemu-system-x86_64" : "qemu-system-aarch64",
    args: [
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-machine",
      machineOption(spec),
      "-cpu",
      cpuOption(spec),
      "-smp",
      String(spec.cpus),
      "-m",
      `${spec.memoryMiB}M`,
      ...(spec.firmware === undefined ? [] : ["-bios", spec.firmware]),
      "-kernel",
      spec.kernel,
      "-initrd",
      spec.initrd,
      "-append",
      kernelCommandLine(spec),
      "-no-reboot",
      // The guest's RTC reads the host's clock, in UTC, at every read, and keeps counting while the
      // VM is stopped or the host sleeps (clock=vm would stall with the guest): the guest steps its
      // own clock to it after such a pause (guest/rootfs/usr/lib/linux-builder/follow-host-clock).
      // These are QEMU's defaults, stated because the guest depends on them.
      "-rtc",
      "base=utc,clock=host",
      "-drive",
      `file=${qemuValue(spec.disk)},if=none,id=nix,format=raw,cache=writeback,discard=unmap`,
      "-device",
      "virtio-blk-pci,drive=nix",
      "-netdev",
      `user,id=net0,hostfwd=tcp:${forwardAddress}:${spec.sshPort}-:22`,
      "-device",
      "virtio-net-pci,netdev=net0",
      "-device",
      "virtio-rng-pci",
      ...balloonDevice(spec),
      "-qmp",
      `unix:${qemuValue(spec.qmpSocket)},server=on,wait=off`,
      ...serial,
      ...daemonize,
    ],
  };
}
