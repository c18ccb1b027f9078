import type { GuestBootParameters } from "../../guest/boot-parameters.js";
import type { Host } from "../../host/host.js";
import { ARCHITECTURES, type Arch } from "../../image/guest/profile.js";
import type { Backend } from "../backend.js";
import type { StateLayout } from "../state.js";
import { chooseAccel } from "./accel.js";
import {
  ACCELERATORS,
  type Accelerator,
  hostForwardAddress,
  privilegedPortWarning,
  qemuCommand,
} from "./argv.js";
import { qemuFirmware } from "./firmware.js";
import { QmpClient } from "./qmp.js";

/**
 * QEMU as the builder's backend: a daemonized QEMU (detached) or one in the foreground (attached),
 * user networking with the ssh port forwarded, the console on a socket or the terminal, and QMP for
 * stopping it. `layout` is the install whose runtime files (pidfile, QMP socket) it keeps.
 */
export function qemuBackend(
  host: Pick<Host, "kind" | "os" | "arch" | "cpuName">,
  layout: Pick<StateLayout, "pidfile" | "qmpSocket">,
): Backend<Accelerator> {
  /** Runs one QMP command; false when QEMU's QMP socket does not answer. */
  const qmp = async (command: string): Promise<boolean> => {
    const client = await QmpClient.connect(layout.qmpSocket).catch(() => undefined);
    if (client === undefined) return false;
    // QEMU may end before it replies (quit, or a guest that powers off at once): the command was taken.
    await client.execute(command).catch(() => undefined);
    client.close();
    return true;
  };
  return {
    name: "QEMU",
    features: { accelerators: ACCELERATORS, attachedConsole: true },
    chooseAccel: (request) => chooseAccel(host, { ...request, qemu: ARCHITECTURES[request.arch].qemu }),
    launch(spec) {
      const detached = spec.console.kind === "socket";
      const firmware = qemuFirmware(ARCHITECTURES[spec.arch].qemu, spec.arch);
      const { command, args } = qemuCommand({
        arch: spec.arch,
        accel: spec.accel,
        cpus: spec.cpus,
        memoryMiB: spec.memoryMiB,
        kernel: spec.kernel,
        initrd: spec.initrd,
        disk: dataDisk(spec.disks),
        sshPort: spec.sshPort,
        hostPlatform: host.kind,
        qmpSocket: layout.qmpSocket,
        console: spec.console,
        ...(detached ? { daemonize: { pidfile: layout.pidfile } } : {}),
        ...(spec.kernelArgs === undefined ? {} : { extraKernelArgs: spec.kernelArgs }),
        ...(firmware === undefined ? {} : { firmware }),
      });
      // -pidfile works without -daemonize too: QEMU writes it (and locks it) at once.
      return { command, args: detached ? args : [...args, "-pidfile", layout.pidfile] };
    },
    // The port was free a moment ago; something may have taken it since.
    launchFailure: (output) =>
      /Could not set up host forwarding rule/.test(output) ? "port-taken" : undefined,
    endpoint(spec) {
      const warning = privilegedPortWarning({ hostPlatform: host.kind, sshPort: spec.sshPort });
      return {
        kind: "tcp",
        host: "127.0.0.1",
        port: spec.sshPort,
        listenAddress: hostForwardAddress(host.kind, spec.sshPort),
        ...(warning === undefined ? {} : { warning }),
      };
    },
    guestParameters: qemuGuestParameters,
    isOurProcess: (cmdline) => cmdline.includes("qemu-system"),
    requestStop: () => qmp("system_powerdown"),
    forceStop: () => qmp("quit"),
  };
}

/** QEMU boots one disk, the builder's /nix. */
function dataDisk(disks: readonly string[]): string {
  const [disk, ...more] = disks;
  if (disk === undefined || more.length > 0)
    throw new Error(`QEMU boots exactly one disk, not ${disks.length}`);
  return disk;
}

/**
 * What a guest under QEMU finds: slirp's fixed network (the guest 10.0.2.15, the host 10.0.2.2, its
 * DNS relay 10.0.2.3), the one virtio disk, the machine's serial console, and its power button:
 * ACPI on q35, the PL061 GPIO line on arm64's virt.
 */
export function qemuGuestParameters(arch: Arch): GuestBootParameters {
  return {
    network: { kind: "static", address: "10.0.2.15/24", gateway: "10.0.2.2", nameserver: "10.0.2.3" },
    dataDisk: "/dev/vda",
    console: ARCHITECTURES[arch].console,
    powerButton: arch === "amd64" ? "acpi" : "pl061-gpio",
  };
}
