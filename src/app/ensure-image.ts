import { join } from "node:path";
import type { Config } from "../config/config.js";
import type { Paths } from "../config/paths.js";
import { imageInputs } from "../image/compose/image-inputs.js";
import type { ComposeReporter } from "../image/compose/reporter.js";
import { type Arch, GUEST_ROOT_PACKAGES } from "../image/guest/profile.js";
import type { Lock } from "../image/lock.js";
import { ImageStore, type StoredImage } from "../image/store.js";
import type { ProbeKernel } from "../vm/lifecycle/early-accel.js";

export interface EnsureImageIo {
  readonly reporter: ComposeReporter;
  /** A line for the user: why an image is being composed. */
  readonly say: (line: string) => void;
  readonly warn: (message: string) => void;
}

/**
 * The current image for the architecture, composed (with progress) when there is none. An image
 * composed by another version of linux-builder (its guest files or format differ) is composed again
 * from its own lock: the same packages, verified by hash, offline when they are in the cache.
 *
 * When it composes, it offers a kernel for the KVM probe at once: an intact image's of this
 * architecture if the store has one, else the composer's as soon as the composer has it.
 */
export async function ensureImage(
  paths: Paths,
  config: Config,
  io: EnsureImageIo,
  offerProbeKernel: (kernel: ProbeKernel) => void = () => undefined,
): Promise<StoredImage> {
  const store = new ImageStore(paths.images);
  const id = await store.currentId(config.arch);
  const compose = async (lock?: Lock) => {
    const older = await intactImage(store, config.arch);
    if (older !== undefined) offerProbeKernel({ path: join(older.directory, "kernel") });
    // Loaded only to compose (with OpenPGP and the unpacking): a start whose image is there needs none of it.
    const { composeImage } = await import("../image/compose/compose-image.js");
    return composeImage({
      arch: config.arch,
      suite: config.suite,
      mirror: config.mirror,
      extraPackages: [],
      checkValidUntil: true,
      force: false,
      cacheDir: paths.cache,
      imagesDir: paths.images,
      // What the composer warns of (a suite without a static emulator) is said as every warning of a start.
      reporter: { ...io.reporter, warn: io.warn },
      ...(lock === undefined ? {} : { lock }),
      onBootableKernel: (bytes) => offerProbeKernel({ bytes }),
    });
  };
  if (id !== undefined) {
    const image = await store.get(id).catch(() => undefined);
    if (image !== undefined && (await store.looksIntact(image))) {
      const lock = await store.readLock(image).catch(() => undefined);
      if (lock === undefined || image.manifest.inputs === (await imageInputs(lock))) return image;
      // Its own lock, unless this version's guest needs packages that lock never had: then the
      // closure is resolved again from the mirror's signed index.
      const sameRoots = GUEST_ROOT_PACKAGES.every((name) => lock.roots.includes(name));
      io.say(
        `The ${config.arch} image ${image.manifest.id} was composed by another version of linux-builder: composing it again ${sameRoots ? "from its lock (the same packages)" : "(this version's guest has other packages)"}; \`linux-builder image prune\` removes the old one.`,
      );
      try {
        return await compose(sameRoots ? lock : undefined);
      } catch (error) {
        // The old image still boots: better than no builder (offline with a pruned cache, say).
        io.warn(
          `cannot compose the image again (${error instanceof Error ? error.message : String(error)}): starting ${image.manifest.id} as it is`,
        );
        return image;
      }
    }
  }
  io.say(`No ${config.arch} image yet: composing one.`);
  return compose();
}

/** Some intact image of `arch` in the store (the current one first), whose kernel a probe can boot. */
async function intactImage(store: ImageStore, arch: Arch): Promise<StoredImage | undefined> {
  const currentId = await store.currentId(arch);
  const images = (await store.list()).filter((image) => image.manifest.arch === arch);
  images.sort((a, b) => Number(b.manifest.id === currentId) - Number(a.manifest.id === currentId));
  for (const image of images) if (await store.looksIntact(image)) return image;
  return undefined;
}
