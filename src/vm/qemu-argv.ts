import type { Arch } from "../image/guest/profile.js";

export type Accelerator = "kvm" | "hvf" | "tcg";

/** Everything that decides QEMU's command line: pure data in, pure data out. */
export interface QemuSpec {
  readonly arch: Arch;
  readonly accel: Accelerator;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly initrd: string;
  readonly disk: string;
  /** Host port forwarded to the guest's sshd, bound to 127.0.0.1 only. */
  readonly sshPort: number;
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
}

export interface QemuCommand {
  readonly command: string;
  readonly args: readonly string[];
}

export function kernelCommandLine(spec: Pick<QemuSpec, "arch" | "extraKernelArgs">): string {
  const console = spec.arch === "amd64" ? "ttyS0" : "ttyAMA0";
  return [
    `console=${console}`,
    // A panic reboots at once, and -no-reboot turns that into QEMU exiting: no hung VM.
    "panic=-1",
    "loglevel=4",
    ...(spec.extraKernelArgs ?? []),
  ].join(" ");
}

/** QEMU separates options with commas; a comma inside a value (a path) is written twice. */
export function qemuValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/** QEMU's argv for the builder VM. */
export function qemuCommand(spec: QemuSpec): QemuCommand {
  const machine =
    spec.arch === "amd64"
      ? ["-machine", `q35,accel=${spec.accel}`]
      : ["-machine", `virt,accel=${spec.accel}`];
  const cpu = spec.accel === "tcg" ? "max" : "host";
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
      ...machine,
      "-cpu",
      cpu,
      "-smp",
      String(spec.cpus),
      "-m",
      `${spec.memoryMiB}M`,
      "-kernel",
      spec.kernel,
      "-initrd",
      spec.initrd,
      "-append",
      kernelCommandLine(spec),
      "-no-reboot",
      "-drive",
      `file=${qemuValue(spec.disk)},if=none,id=nix,format=raw,cache=writeback,discard=unmap`,
      "-device",
      "virtio-blk-pci,drive=nix",
      "-netdev",
      `user,id=net0,hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22`,
      "-device",
      "virtio-net-pci,netdev=net0",
      "-device",
      "virtio-rng-pci",
      "-qmp",
      `unix:${qemuValue(spec.qmpSocket)},server=on,wait=off`,
      ...serial,
      ...daemonize,
    ],
  };
}
