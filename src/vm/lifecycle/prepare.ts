import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type Config, emulatedSystemsOf, type NixSystem } from "../../config/config.js";
import { LinuxBuilderError } from "../../errors.js";
import { writeFileAtomic } from "../../fs/write-file-atomic.js";
import { guestNixConf } from "../../guest/nix-conf.js";
import { casBeyondImage, casSourceText, guestCas, type HostCaDeps } from "../../host/ca-certificates.js";
import { emulatorsOf, type ImageManifest } from "../../image/manifest.js";
import type { StoredImage } from "../../image/store.js";
import type { AccelChoice, Backend, LaunchPlan } from "../backend.js";
import type { InstanceInfo } from "../instance.js";
import { ensureDisk, ensureKeys, type InstallKeys, type StateLayout } from "../state.js";
import { ensureBootInitrd } from "./boot-initrd.js";
import { hostDeps, type LifecycleDeps } from "./deps.js";
import { runningPid } from "./pidfile.js";
import { assertPortFree } from "./port-check.js";

/** The backend the lifecycle drives: its accelerators are the ones instance.json records. */
export type VmBackend = Backend<InstanceInfo["accel"]>;

export interface BootOptions {
  readonly config: Config;
  readonly layout: StateLayout;
  readonly image: StoredImage;
  readonly backend: VmBackend;
  readonly onWarning?: (message: string) => void;
  /** The host's files and commands the default CAs come from (hostCaDeps(host); tests pass their own). */
  readonly caDeps: HostCaDeps;
  /** Processes and the clock (tests pass fakes). */
  readonly deps?: LifecycleDeps;
  /**
   * Where the backend forwards the guest's sshd (default config.port). The service (`serve`) listens
   * on config.port itself and has the backend forward another port behind it.
   */
  readonly forwardPort?: number;
  /**
   * The accelerator, chosen beside the image's composition (`start`: see early-accel.ts); without
   * it, chosen here, probing the image's kernel when a probe is needed.
   */
  readonly accel?: Promise<AccelChoice<InstanceInfo["accel"]>>;
}

/** The port the backend forwards for this boot. */
export function bootForwardPort(options: Pick<BootOptions, "config" | "forwardPort">): number {
  return options.forwardPort ?? options.config.port;
}

/**
 * The systems this boot emulates: those the config asks for whose interpreter the image carries. An
 * image composed before emulation (or from a suite without a static qemu-user) carries none, and
 * /init would stop the boot registering a missing one; such an image still boots, building less.
 */
export function bootEmulation(
  config: Pick<Config, "arch" | "emulatedSystems">,
  manifest: Pick<ImageManifest, "id" | "emulators">,
): { emulatedSystems: NixSystem[]; warning?: string } {
  const carried = emulatorsOf(manifest);
  const requested = emulatedSystemsOf(config);
  const emulatedSystems = requested.filter((system) => carried.includes(system));
  const missing = requested.filter((system) => !carried.includes(system));
  if (missing.length === 0) return { emulatedSystems };
  return {
    emulatedSystems,
    warning: `the image ${manifest.id} carries no emulator for ${missing.join(" or ")}: this boot does not build ${missing.length === 1 ? "it" : "them"}. \`linux-builder image build\` composes an image that does (from a suite whose qemu-user is static, such as trixie), or start with the network so the image is composed again; emulatedSystems: [] stops asking for ${missing.length === 1 ? "it" : "them"}.`,
  };
}

/** A VM ready to boot: the backend's command, the accelerator chosen, and the keys the host trusts it by. */
export interface PreparedBoot extends LaunchPlan {
  readonly accel: InstanceInfo["accel"];
  readonly keys: InstallKeys;
  /** Where this boot's extra CAs came from, for status. */
  readonly caSource: string;
}

/**
 * What refuses a boot before anything is made for it: a backend that cannot attach the console, or a
 * builder already running. `run` asks before composing the image, prepareBoot again after.
 */
export async function assertBootable(
  options: Pick<BootOptions, "layout" | "backend" | "deps">,
  mode: "detached" | "attached",
): Promise<void> {
  const { layout, backend } = options;
  if (mode === "attached" && !backend.features.attachedConsole) {
    throw new LinuxBuilderError(
      "vm.attached-unsupported",
      `${backend.name} cannot give the builder's console to this terminal`,
      { hint: "`linux-builder start` runs it in the background; `linux-builder console` attaches to it." },
    );
  }
  const existing = await runningPid(layout, backend, options.deps ?? hostDeps);
  // `start` looks under the lock first (a running builder is success there); `run` cannot take over
  // a running builder's console, so for it this is an error.
  if (existing !== undefined) {
    throw new LinuxBuilderError(
      "vm.running",
      mode === "attached"
        ? `The builder is already running (pid ${existing}): \`run\` boots one in this terminal, and cannot attach to it`
        : `The builder is already running (pid ${existing})`,
      {
        hint:
          mode === "attached"
            ? "`linux-builder console` attaches to its console, `linux-builder ssh` logs in; `linux-builder stop` stops it."
            : "`linux-builder status` shows it; `linux-builder stop` stops it.",
      },
    );
  }
}

/**
 * Everything before the VM runs, for `start` and `run` alike (call under the start lock): not already
 * running, the port free, keys, disk, the pinned host key, the per-boot initrd, the accelerator.
 * Detached, the backend serves the console on a socket and runs in the background; attached, the
 * console is this terminal (with QEMU, shared with the monitor: Ctrl-a c). Either way it writes the
 * pidfile and can be stopped from anywhere, so status, stop and ssh work from anywhere.
 */
export async function prepareBoot(
  options: BootOptions,
  mode: "detached" | "attached",
): Promise<PreparedBoot> {
  const { config, layout, image, backend } = options;
  await assertBootable(options, mode);
  if (image.manifest.arch !== config.arch) {
    throw new LinuxBuilderError(
      "vm.arch",
      `The image ${image.manifest.id} is ${image.manifest.arch}, the config says ${config.arch}`,
    );
  }
  const forwardPort = bootForwardPort(options);
  const endpoint = backend.endpoint({ sshPort: forwardPort });
  if (endpoint.kind === "tcp") {
    await assertPortFree(endpoint.port, endpoint.listenAddress);
    if (endpoint.warning) options.onWarning?.(endpoint.warning);
  }
  // Before the keys and the disk are made: a bad caCertificates file stops the start here.
  const cas = casBeyondImage(
    await guestCas(config.caCertificates, options.caDeps),
    image.manifest.caFingerprints ?? [],
  );
  if (cas.warning) options.onWarning?.(cas.warning);
  const keys = await ensureKeys(layout);
  const disk = await ensureDisk(layout.disk, config.diskGiB);
  if (disk.grownFromGiB !== undefined) {
    options.onWarning?.(`the /nix disk grows from ${disk.grownFromGiB} GiB to ${config.diskGiB} GiB`);
  }
  const [type, blob] = keys.hostPublicKey.split(" ");
  // Clients reach the guest at config.port (the front door, or the forward itself); the service's own
  // ssh goes to the forward: both names pin the same key.
  const pinned = [...new Set([config.port, forwardPort])].map(
    (port) => `[127.0.0.1]:${port} ${type} ${blob}\n`,
  );
  await writeFileAtomic(layout.knownHosts, pinned.join(""), 0o644);
  const { emulatedSystems, warning: emulationWarning } = bootEmulation(config, image.manifest);
  if (emulationWarning) options.onWarning?.(emulationWarning);
  await ensureBootInitrd(layout, image, {
    secrets: {
      hostPrivateKey: await readFile(layout.hostKey, "utf8"),
      hostPublicKey: keys.hostPublicKey,
      authorizedKeys: `${keys.builderPublicKey}\n`,
      nixConf: guestNixConf({ ...config, extraPlatforms: emulatedSystems }),
      caCertificates: cas.pem,
    },
    parameters: backend.guestParameters(config.arch),
    emulatedSystems,
  });
  // Last: everything else is ready while a probe beside the composition finishes.
  const accel = await (options.accel ??
    backend.chooseAccel({
      requested: config.accel,
      arch: config.arch,
      kernel: async () => join(image.directory, "kernel"),
      cacheFile: join(layout.dir, "accel.json"),
    }));
  if (accel.warning) options.onWarning?.(accel.warning);
  for (const stale of [layout.qmpSocket, layout.consoleSocket, layout.daemonSocket])
    await rm(stale, { force: true });
  const plan = backend.launch({
    arch: config.arch,
    accel: accel.accel,
    cpus: config.cpus,
    memoryMiB: config.memoryMiB,
    kernel: join(image.directory, "kernel"),
    initrd: layout.bootInitrd,
    disks: [layout.disk],
    sshPort: forwardPort,
    console:
      mode === "attached"
        ? { kind: "stdio", logfile: layout.consoleLog }
        : { kind: "socket", path: layout.consoleSocket, logfile: layout.consoleLog },
  });
  return {
    command: plan.command,
    args: plan.args,
    accel: accel.accel,
    keys,
    caSource: casSourceText(cas),
  };
}
