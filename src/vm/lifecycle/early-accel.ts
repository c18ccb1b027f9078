import { rmSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LinuxBuilderError } from "../../errors.js";
import type { Arch } from "../../image/guest/profile.js";
import type { StoredImage } from "../../image/store.js";
import type { AccelChoice, Backend } from "../backend.js";

/** A kernel a KVM probe can boot: a file already there (an image's), or the composer's bytes. */
export type ProbeKernel = { readonly path: string } | { readonly bytes: Buffer };

/** The accelerator being chosen while the image is still being found or composed. */
export interface EarlyAccel<Accel extends string> {
  /** Offers a kernel for the probe; the first one offered is the one it boots. */
  readonly offer: (kernel: ProbeKernel) => void;
  /**
   * The image is there (its kernel): the composition is over. A probe that hung beside it boots
   * this kernel once more (see AccelRequest.composition).
   */
  readonly ready: (kernel: string) => void;
  /** The choice, once made: it waits for the probe, when one runs. */
  readonly choice: Promise<AccelChoice<Accel>>;
  /** Ends it early (the start failed or was cancelled): a probe still running is killed. */
  abandon(): Promise<void>;
}

export interface EarlyAccelRequest<Accel extends string> {
  readonly requested: "auto" | Accel;
  readonly arch: Arch;
  /** The state folder: accel.json, and the composer's kernel while a probe boots it. */
  readonly stateDir: string;
  readonly signal?: AbortSignal;
}

/** Where a kernel handed out by the composer waits for the probe (removed once the probe is over). */
export const PROBE_KERNEL_FILE = "probe-kernel";

/**
 * Starts choosing the accelerator at once, beside the image's composition: the verdict remembered is
 * read now, and a probe, when one is needed, boots the first kernel offered (the composer hands its
 * kernel out long before the image is written), so a first start waits for the slower of the two,
 * not for both one after the other. The composer's bytes are written to the state folder only when a
 * probe asks for them.
 */
export function chooseAccelEarly<Accel extends string>(
  backend: Pick<Backend<Accel>, "chooseAccel">,
  request: EarlyAccelRequest<Accel>,
): EarlyAccel<Accel> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  if (request.signal?.aborted) stop.abort();
  const file = join(request.stateDir, PROBE_KERNEL_FILE);
  let offered: ProbeKernel | undefined;
  let over = false;
  let written = false;
  let waiting: { resolve: (path: string) => void; reject: (error: Error) => void } | undefined;
  let imageKernel: string | undefined;
  const waitingImage: { resolve: (path: string) => void; reject: (error: Error) => void }[] = [];
  const deliver = () => {
    if (waiting === undefined || offered === undefined) return;
    const { resolve, reject } = waiting;
    waiting = undefined;
    if ("path" in offered) resolve(offered.path);
    else {
      written = true;
      writeFile(file, offered.bytes, { mode: 0o600 }).then(() => resolve(file), reject);
    }
  };
  const cancelled = () => new LinuxBuilderError("vm.cancelled", "Cancelled: the accelerator was not chosen");
  stop.signal.addEventListener(
    "abort",
    () => {
      // At once, not in the `finally` below: a Ctrl-C while composing re-raises SIGINT right after
      // the abort, and the process ends before then, leaving megabytes behind.
      if (written) rmSync(file, { force: true });
      waiting?.reject(cancelled());
      for (const waiter of waitingImage.splice(0)) waiter.reject(cancelled());
    },
    { once: true },
  );
  const choice = backend
    .chooseAccel({
      requested: request.requested,
      arch: request.arch,
      cacheFile: join(request.stateDir, "accel.json"),
      kernel: () =>
        new Promise<string>((resolve, reject) => {
          // Abandoned before the backend asked (it checks its files first): no kernel will come.
          if (stop.signal.aborted) {
            reject(cancelled());
            return;
          }
          waiting = { resolve, reject };
          deliver();
        }),
      composition: {
        running: () => imageKernel === undefined,
        done: () =>
          new Promise<string>((resolve, reject) => {
            if (stop.signal.aborted) reject(cancelled());
            else if (imageKernel !== undefined) resolve(imageKernel);
            else waitingImage.push({ resolve, reject });
          }),
      },
      signal: stop.signal,
    })
    .finally(async () => {
      request.signal?.removeEventListener("abort", onAbort);
      over = true;
      offered = undefined;
      await rm(file, { force: true });
    });
  // Nobody may wait for it (the image failed first): its failure is then not this start's error.
  choice.catch(() => undefined);
  const offer = (kernel: ProbeKernel) => {
    if (over || offered !== undefined) return;
    offered = kernel;
    deliver();
  };
  return {
    offer,
    ready(kernel) {
      imageKernel = kernel;
      offer({ path: kernel });
      for (const waiter of waitingImage.splice(0)) waiter.resolve(kernel);
    },
    choice,
    async abandon() {
      if (!over) stop.abort();
      await choice.catch(() => undefined);
    },
  };
}

/**
 * Removes the probe's kernel a start that died while it composed (killed, or a Ctrl-C caught
 * mid-write) may have left. Call under the start lock: no other start's probe is using it.
 */
export async function removeLeftProbeKernel(stateDir: string): Promise<void> {
  await rm(join(stateDir, PROBE_KERNEL_FILE), { force: true });
}

/** What a start or a run that boots the VM has: its backend, settings, state folder, image and cancel. */
export interface EarlyAccelBoot<Accel extends string> {
  readonly backend: Pick<Backend<Accel>, "chooseAccel">;
  readonly config: { readonly accel: "auto" | Accel; readonly arch: Arch };
  readonly layout: { readonly dir: string };
  readonly signal?: AbortSignal;
  readonly image: (offerProbeKernel: (kernel: ProbeKernel) => void) => Promise<StoredImage>;
}

/**
 * For a start or a run that boots the VM, under the start lock: the image (it may compose one) with
 * the accelerator chosen beside it, then `boot` with both. A probe still running when either fails
 * is killed.
 */
export async function withEarlyAccel<Accel extends string, T>(
  options: EarlyAccelBoot<Accel>,
  boot: (image: StoredImage, accel: Promise<AccelChoice<Accel>>) => Promise<T>,
): Promise<T> {
  const accel = chooseAccelEarly(options.backend, {
    requested: options.config.accel,
    arch: options.config.arch,
    stateDir: options.layout.dir,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  try {
    const found = await options.image(accel.offer);
    accel.ready(join(found.directory, "kernel"));
    return await boot(found, accel.choice);
  } finally {
    // Done by now, unless the boot failed first: then a probe still running is killed.
    await accel.abandon();
  }
}
