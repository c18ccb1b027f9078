import { z } from "zod";
import { parseJsonAs } from "../../json.js";
import { readEntryPack } from "../archive/entry-pack.js";
import type { TarEntry } from "../archive/tar.js";
import type { ContentCache } from "../cache/content-cache.js";
import { type Arch, IMAGE_EXCLUDED_PREFIXES } from "../guest/profile.js";
import type { LockedPackage } from "../lock.js";
import { ComposeWorkers } from "./compose-workers.js";
import { derivedNames, derivedResult } from "./derived-results.js";

const kernelListSchema = z.object({ version: z.string(), modules: z.array(z.string()) }).strict();

/** The kernel's part of the image besides the kernel itself. */
export interface KernelFiles {
  readonly version: string;
  /** Module names in load order, for the manifest. */
  readonly modules: string[];
  /** The modules, decompressed, and the lists /init reads, as tree files. */
  readonly files: TarEntry[];
}

/**
 * The composer's work on the cached .debs (composeTasks), each result taken from the content cache
 * under its .deb's hash, or made in worker threads and kept there; the kernel's and the emulators',
 * the longest, ahead of the packages'. The threads start on the first miss, or earlier on the first
 * download (prepare), and close() stops them for good.
 */
export class DebResults {
  #workers: ComposeWorkers | undefined;

  constructor(private readonly cache: ContentCache) {}

  get workers(): ComposeWorkers {
    this.#workers ??= new ComposeWorkers();
    return this.#workers;
  }

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

  /** The kernel the VM boots. */
  bootableKernel(kernel: LockedPackage, deb: string, arch: Arch): Promise<Buffer> {
    return derivedResult(
      this.cache,
      kernel.sha256,
      derivedNames.bootableKernel(arch),
      (data) => data,
      () => this.workers.runFirst("bootableKernel", deb, arch, kernel.name),
    );
  }

  /** The modules the guest loads, and the kernel's version. */
  async kernelFiles(kernel: LockedPackage, deb: string, arch: Arch): Promise<KernelFiles> {
    const filesName = derivedNames.kernelModules(arch);
    const listName = derivedNames.kernelModuleList(arch);
    const readList = (data: Buffer) => parseJsonAs(kernelListSchema, data.toString("utf8"));
    const [files, list] = await Promise.all([
      this.cache.readDerived(kernel.sha256, filesName).then((data) => data && readEntryPack(data)),
      this.cache.readDerived(kernel.sha256, listName).then((data) => data && readList(data)),
    ]);
    if (files !== undefined && list !== undefined) return { ...list, files };
    const made = await this.workers.runFirst("kernelParts", deb, arch, kernel.name);
    const madeList = { version: made.version, modules: made.modules };
    // Read back before keeping: a pack we cannot read must fail here, not give an image without modules.
    const madeFiles = readEntryPack(made.files);
    if (madeFiles === undefined) throw new Error(`the composer made a ${filesName} it cannot read back`);
    await this.cache.storeDerived(kernel.sha256, filesName, made.files);
    await this.cache.storeDerived(kernel.sha256, listName, Buffer.from(JSON.stringify(madeList)));
    return { ...madeList, files: madeFiles };
  }

  /** Stops the threads, and keeps any from starting later (a download still under way may call prepare). */
  async close(): Promise<void> {
    this.#workers ??= new ComposeWorkers();
    await this.#workers.close();
  }
}
