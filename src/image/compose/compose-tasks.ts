import { readDebData, readDebFiles } from "../archive/deb.js";
import { writeEntryPack } from "../archive/entry-pack.js";
import type { TarEntry } from "../archive/tar.js";
import type { Arch } from "../guest/profile.js";
import { kernelPartsOf } from "./guest-kernel.js";
import { entriesForImage } from "./package-entries.js";

/**
 * The composer's pure work on one cached .deb, each result a function of the file and the arguments
 * alone: what runs in the worker threads (compose-workers.ts) and what the content cache keeps
 * under the .deb's hash, so a second compose does none of it.
 */
export const composeTasks = {
  /** A package's entries for the image (entriesForImage), as an entry pack. */
  async imageEntries(deb: string, excluded: readonly string[]): Promise<Buffer> {
    const entries: TarEntry[] = [];
    for await (const entry of readDebData(deb)) entries.push(entry);
    return writeEntryPack(entriesForImage(entries, excluded));
  },
  /** Regular files of a .deb by path (qemu-user's interpreters). */
  debFiles: (deb: string, paths: readonly string[]) => readDebFiles(deb, paths),
  /** The kernel's part of the image, the bootable kernel handed over first (kernelPartsOf). */
  kernelParts: (deb: string, arch: Arch, packageName: string, onBootable: (kernel: Buffer) => void) =>
    kernelPartsOf(deb, arch, packageName, onBootable),
};

export type ComposeTasks = typeof composeTasks;
export type ComposeTask = keyof ComposeTasks;
