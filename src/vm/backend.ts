import type { GuestBootParameters } from "../guest/boot-parameters.js";
import type { Arch } from "../image/guest/profile.js";

/**
 * What runs the builder's VM: QEMU today (src/vm/qemu/), Apple's Virtualization.framework through
 * vfkit or a Linux microVM later. The lifecycle (src/vm/lifecycle/) is written against this alone,
 * as lima's hostagent is against its driver: the backend turns a boot spec into a command (pure data
 * in, argv out, as vfkit's config does), says how ssh reaches the guest, and stops the VM it started.
 * One backend value serves one install: it knows where that install keeps its runtime files.
 */
export interface Backend<Accel extends string = string> {
  /** For messages: "QEMU". */
  readonly name: string;
  readonly features: BackendFeatures<Accel>;
  /** The accelerator a boot uses: an explicit one as it is; `auto` the best this host has, with why not better. */
  chooseAccel(request: AccelRequest<Accel>): Promise<AccelChoice<Accel>>;
  /** The command that boots `spec` (pure: it starts nothing). */
  launch(spec: BootSpec<Accel>): LaunchPlan;
  /** Names a launch's failure the backend recognises (a forwarded port taken since it was checked). */
  launchFailure(output: string): "port-taken" | undefined;
  /** Where ssh reaches the guest's sshd once `spec` runs. */
  endpoint(spec: Pick<BootSpec<Accel>, "sshPort">): Endpoint;
  /** The network, disk, console and power button this backend gives a guest of `arch`, for its /init. */
  guestParameters(arch: Arch): GuestBootParameters;
  /** Whether a live process's command line (NUL-separated, as /proc shows it) is one of ours: pids are recycled. */
  isOurProcess(cmdline: string): boolean;
  /** Asks the guest to power off (ACPI's power button); true when the request was delivered. */
  requestStop(): Promise<boolean>;
  /** Ends the VM at once, guest or not; true when the backend accepted (the process may take a moment). */
  forceStop(): Promise<boolean>;
}

export interface BackendFeatures<Accel extends string> {
  /** Every accelerator the backend can be asked for (instance.json records one). */
  readonly accelerators: readonly [Accel, ...Accel[]];
  /** Whether the console can be this terminal (`run`); else only a socket (`start`). */
  readonly attachedConsole: boolean;
}

export interface AccelRequest<Accel extends string> {
  readonly requested: "auto" | Accel;
  readonly arch: Arch;
  /**
   * A kernel of `arch` a probe boot may use, asked for only when a probe runs: while the image is
   * still being composed, it waits for the composer's (or an older image's) kernel.
   */
  readonly kernel: () => Promise<string>;
  /** Where the verdict of a probe is remembered. */
  readonly cacheFile: string;
  /**
   * The image's composition, when the probe may run beside it: whether it still runs, and the
   * image's kernel once it is there. A hang seen beside it (every core busy) is not believed: the
   * probe boots once more after it, and only that verdict is remembered.
   */
  readonly composition?: { readonly running: () => boolean; readonly done: () => Promise<string> };
  /** Cancels the choice: a probe running is killed. */
  readonly signal?: AbortSignal;
}

export interface AccelChoice<Accel extends string> {
  readonly accel: Accel;
  /** Why, when it is not the obvious choice: shown to the user as a warning. */
  readonly warning?: string;
}

/** One boot of the builder, backend-neutral. */
export interface BootSpec<Accel extends string = string> {
  readonly arch: Arch;
  readonly accel: Accel;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly kernel: string;
  readonly initrd: string;
  /** Added to the backend's own kernel command line. */
  readonly kernelArgs?: readonly string[];
  /** Block devices in order: the first is the guest's data disk (/nix). */
  readonly disks: readonly string[];
  /** The host port ssh reaches the guest's sshd at, where the backend forwards one. */
  readonly sshPort: number;
  /**
   * The serial console: a unix socket others attach to (detached: the backend runs in the
   * background), or this process's stdio (attached); logged to `logfile` either way.
   */
  readonly console:
    | { readonly kind: "socket"; readonly path: string; readonly logfile: string }
    | { readonly kind: "stdio"; readonly logfile: string };
}

/**
 * A command to run. Detached, it returns once the VM runs in the background; attached, it runs until
 * the VM ends. Either way it writes the install's pidfile.
 */
export interface LaunchPlan {
  readonly command: string;
  readonly args: readonly string[];
}

/** How ssh reaches the guest: a host port today; a unix socket for a vsock proxy later. */
export type Endpoint =
  | {
      readonly kind: "tcp";
      readonly host: string;
      readonly port: number;
      /** Where the backend's forward listens on the host: the port must be free there before a boot. */
      readonly listenAddress: string;
      /** What the user should know about it (a forward that cannot stay on loopback). */
      readonly warning?: string;
    }
  | { readonly kind: "unix"; readonly path: string };
