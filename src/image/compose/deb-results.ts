import { z } from "zod";
import { parseJsonAs } from "../../json.js";
import { readEntryPack } from "../archive/entry-pack.js";
import type { TarEntry } from "../archive/tar.js";
import type { ContentCache } from "../cache/content-cache.js";
import { type Arch, IMAGE_EXCLUDED_PREFIXES } from "../guest/profile.js";
import type { LockedPackage } from "../lock.js";
import { ComposeWorkers } from "./compose-workers.js";
import { derivedNames, derivedResult } from "./derived-results.js";
import type { KernelParts } from "./guest-kernel.js";

const kernelListSchema = z.object({ version: z.string(), modules: z.array(z.string()) }).strict();

/** The kernel's part of the image besides the kernel itself. */
export interface KernelFiles {
  readonly version: string;
  /** Module names in load order, for the manifest. */
  readonly modules: string[];
  /** The modules, decompressed, and the lists /init reads, as tree files. */
  readonly files: TarEntry[];
}

/** The kernel's part of the image, as each piece is ready. */
export interface KernelResults {
  /** The kernel the VM boots: long before the files when the .deb is read. */
  readonly bootable: Promise<Buffer>;
  readonly files: Promise<KernelFiles>;
}

/**
 * The composer's work on the cached .debs (composeTasks), each result taken from the content cache
 * under its .deb's hash, or made in worker threads and kept there; the kernel's and the emulators',
 * the longest, ahead of the packages'. The threads start on the first miss, or earlier on the first
 * download (prepare), and close() stops them for good.
 */
export class DebResults {
  /** Its threads start only when work comes; once closed it refuses work and starts none. */
  readonly workers = new ComposeWorkers();

  constructor(private readonly cache: ContentCache) {}

  /** Starts the worker threads ahead of the first miss, which is coming (a .deb is downloading). */
  prepare(): void {
    this.workers.start();
  }

  /** A package's entries for the image, in its data.tar's order. */
  imageEntries(pkg: LockedPackage, deb: string): Promise<TarEntry[]> {
    return derivedResult(this.cache, pkg.sha256, derivedNames.imageEntries(), readEntryPack, () =>
      this.workers.run("imageEntries", deb, IMAGE_EXCLUDED_PREFIXES),
    );
  }

  /**
   * Regular files of a .deb by path, read in a thread ahead of the packages': qemu-user's
   * interpreters, whose .deb arrives last and whose reading is long.
   */
  debFiles(deb: string, paths: readonly string[]): Promise<Record<string, Buffer>> {
    return this.workers.runFirst("debFiles", deb, paths);
  }

  /**
   * The kernel the VM boots, its modules and their list: each from the cache, or all from one
   * reading of the .deb in a thread, which hands the kernel over as soon as it has read it.
   */
  kernel(kernel: LockedPackage, deb: string, arch: Arch): KernelResults {
    let reading: { bootable: Promise<Buffer>; parts: Promise<KernelParts> } | undefined;
    const read = () => {
      if (reading === undefined) {
        let give: (bootable: Buffer) => void = () => undefined;
        const given = new Promise<Buffer>((resolve) => {
          give = resolve;
        });
        const parts = this.workers.runFirst("kernelParts", deb, arch, kernel.name, give);
        // The kernel comes before the task ends; a task that fails first fails it too.
        const bootable = Promise.race([given, parts.then(() => given)]);
        // Awaited by whichever result the cache lacks: maybe not this one.
        bootable.catch(() => undefined);
        reading = { bootable, parts };
      }
      return reading;
    };
    const bootable = derivedResult(
      this.cache,
      kernel.sha256,
      derivedNames.bootableKernel(arch),
      (data) => data,
      () => read().bootable,
    );
    const files = derivedResult(
      this.cache,
      kernel.sha256,
      derivedNames.kernelModules(arch),
      readEntryPack,
      () => read().parts.then((parts) => parts.files),
    );
    // Kept only once the modules were: a list without them is no use.
    const list = derivedResult(
      this.cache,
      kernel.sha256,
      derivedNames.kernelModuleList(arch),
      (data) => parseJsonAs(kernelListSchema, data.toString("utf8")),
      () =>
        files
          .then(() => read().parts)
          .then(({ version, modules }) => Buffer.from(JSON.stringify({ version, modules }))),
    );
    const both = {
      bootable,
      files: Promise.all([files, list]).then(([files, list]) => ({ ...list, files })),
    };
    // A caller may await one and not the other: the other's failure must not go unhandled meanwhile.
    for (const pending of Object.values(both)) pending.catch(() => undefined);
    return both;
  }

  /** Stops the threads, and keeps any from starting later (a download still under way may call prepare). */
  close(): Promise<void> {
    return this.workers.close();
  }
}
