import { join } from "node:path";
import { writeCpio } from "../archive/cpio.js";
import { ContentCache } from "../cache/content-cache.js";
import { ARCHITECTURES } from "../guest/profile.js";
import { serializeLock } from "../lock.js";
import type { ImageManifest } from "../manifest.js";
import { ImageStore } from "../store.js";
import { DebResults } from "./deb-results.js";
import { fetchPackages } from "./fetch-packages.js";
import { putEmulators, readEmulators } from "./guest-emulators.js";
import { addKernelFiles } from "./guest-kernel.js";
import { addBusyboxApplets, addCaBundle, addGuestFiles } from "./guest-overlay.js";
import { holdWarningsDuringDownloads } from "./held-warnings.js";
import { guestFilesDir, imageInputs } from "./image-inputs.js";
import { checkLinkedLibraries } from "./linked-libraries.js";
import { PhaseTimer } from "./phase-timer.js";
import { type ComposeReporter, quietReporter } from "./reporter.js";
import { type LockResolutionOptions, lockToCompose } from "./resolve-lock.js";
import { packagesToUnpack, unpackingLeftStep, unpackingStep, unpackPackages } from "./unpack-packages.js";

export interface ComposeOptions extends LockResolutionOptions {
  /** Compose again even if an image from the same inputs exists. */
  readonly force: boolean;
  readonly imagesDir: string;
  readonly reporter?: ComposeReporter;
  readonly downloadConcurrency?: number;
  /**
   * Called once with the kernel as the VM boots it, as soon as the composer has it: a caller can use
   * it (the accelerator probe) while the rest of the image is composed. Not called when an image is reused.
   */
  readonly onBootableKernel?: (kernel: Buffer) => void;
}

export interface ComposeResult {
  readonly manifest: ImageManifest;
  readonly directory: string;
  /** True when an image from the same inputs already existed and was used as it is. */
  readonly reused: boolean;
  /**
   * Seconds per phase, each from the end of the one before (PhaseTimer): as unpacking overlaps the
   * downloads, `download` and `unpack` are not each one's own work (see where composeImage laps them).
   */
  readonly timings: Readonly<Record<string, number>>;
  readonly signer?: string;
}

/**
 * Composes the guest image: resolve (or take) the lock, fetch and verify the .debs it uses, unpack each as
 * it arrives (the others still downloading) into a merged-/usr tree with our /init and overlay, pick
 * the kernel modules, and write a reproducible cpio next to the kernel in a content-addressed image
 * directory.
 */
export async function composeImage(options: ComposeOptions): Promise<ComposeResult> {
  const reporter = holdWarningsDuringDownloads(options.reporter ?? quietReporter);
  const phases = new PhaseTimer();
  const cache = new ContentCache(join(options.cacheDir, "files"));
  const store = new ImageStore(options.imagesDir);
  const outcome = (signer: string | undefined) => ({
    timings: phases.timings,
    ...(signer === undefined ? {} : { signer }),
  });

  // The lock: the one given, or resolved from the mirror's signed index.
  const { lock, signer } = await lockToCompose(options, cache, reporter);
  phases.lap("resolve");

  // An image composed from the same inputs is used as it is.
  const inputs = await imageInputs(lock);
  if (!options.force) {
    const existing = await store.findByInputs(inputs);
    if (existing !== undefined) {
      await store.setCurrent(lock.arch, existing.manifest.id);
      phases.lap("reuse");
      return { ...existing, reused: true, ...outcome(signer) };
    }
  }

  // The .debs the image uses (not those it leaves out), fetched and verified; each one's work starts
  // as soon as it has arrived.
  const results = new DebResults(cache);
  try {
    reporter.step(unpackingStep(lock));
    const debs = fetchPackages(lock, options.mirror, cache, reporter, {
      concurrency: options.downloadConcurrency ?? 6,
      // A download means work the cache does not hold: the threads start while the files come.
      onFirstDownload: () => results.prepare(),
    });
    // Lapped when the last .deb arrived: `download` also covers the unpacking, the kernel's and the
    // emulators' work done meanwhile, and `unpack` (below) only what is left of them after it.
    const downloaded = debs.all.then((files) => {
      phases.lap("download");
      return files;
    });

    // The kernel first: a caller can use it (the accelerator probe) while the rest is composed.
    const kernelResults = debs.kernel.then((deb) => results.kernel(lock.kernel, deb, lock.arch));
    const kernelImage = kernelResults.then((kernel) => kernel.bootable);
    const bootableKernelGiven = kernelImage.then((image) => options.onBootableKernel?.(image));
    const kernelFiles = kernelResults.then((kernel) => kernel.files);
    // The interpreters of the other Linux systems, out of qemu-user (or the cache) in a thread, meanwhile.
    const emulatorFiles = readEmulators(lock, debs, cache, reporter.warn, (deb, paths) =>
      results.debFiles(deb, paths),
    );
    // The packages the image contains, unpacked into a merged-/usr tree.
    const unpacked = packagesToUnpack(lock, debs);
    let read = 0;
    const unpacking = unpackPackages(unpacked, results, downloaded, () => read++);
    for (const pending of [downloaded, bootableKernelGiven, kernelFiles, emulatorFiles, unpacking])
      pending.catch(() => undefined);

    // A failed download is the error to report, before anything that waited for it.
    const fetched = await downloaded;
    const left = unpackingLeftStep(unpacked.length - read, unpacked.length);
    if (left !== undefined) reporter.step(left);
    const tree = await unpacking;
    const caFingerprints = await addCaBundle(tree, lock, fetched);
    // From the end of the downloads: the unpacking not already done during them, and the CA bundle.
    phases.lap("unpack");

    reporter.step("Taking the emulator of the other Linux system from qemu-user");
    const emulators = putEmulators(tree, await emulatorFiles);
    phases.lap("emulators");

    // The kernel's modules, our /init and overlay, busybox's applets; then every library linked is there.
    reporter.step("Adding the kernel modules and the guest's /init");
    const kernel = await kernelFiles;
    addKernelFiles(tree, kernel.files);
    await addGuestFiles(tree, guestFilesDir());
    addBusyboxApplets(tree);
    checkLinkedLibraries(tree, lock.arch);
    phases.lap("kernel");

    // The initramfs and the kernel as the VM boots them.
    reporter.step("Writing the initramfs");
    // Uncompressed: the guest unpacks it at memory speed, where gunzip under TCG cost 0.8 s a boot;
    // the host reads it from its page cache.
    const initrd = writeCpio(tree.toEntries());
    await bootableKernelGiven;
    const bootable = await kernelImage;
    phases.lap("initramfs");

    // Both into the content-addressed store, as the current image of this architecture.
    const result = await store.add({
      arch: lock.arch,
      suite: lock.suite,
      nixSystem: ARCHITECTURES[lock.arch].nixSystem,
      kernelVersion: kernel.version,
      kernel: bootable,
      initrd,
      initrdUncompressedSize: initrd.length,
      lockText: serializeLock(lock),
      inputs,
      modules: kernel.modules,
      packageCount: unpacked.length,
      emulators,
      caFingerprints,
    });
    await store.setCurrent(lock.arch, result.manifest.id);
    phases.lap("write");
    return { ...result, reused: false, ...outcome(signer) };
  } finally {
    await results.close();
  }
}
