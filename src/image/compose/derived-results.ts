import { createHash } from "node:crypto";
import { NIX_SYSTEMS, type NixSystem } from "../../config/config.js";
import { EMULATION_TARGETS } from "../../guest/binfmt.js";
import type { ContentCache } from "../cache/content-cache.js";
import {
  ARCHITECTURES,
  type Arch,
  GUEST_LATE_MODULES,
  GUEST_MODULES,
  IMAGE_EXCLUDED_PREFIXES,
} from "../guest/profile.js";
import { MERGED_USR_ALIASES } from "../merged-usr.js";
import { COMPOSER_FORMAT } from "./image-inputs.js";

/**
 * The name a result made from a cached .deb is kept under: `what`, then a hash of the composer's
 * format and of whatever else shaped it (`shapedBy`), so a result made by another version of the
 * composer or from another profile is never taken for this one. The data that shapes a result is
 * in `shapedBy`; the code (pvhKernel, entriesForImage, kernelPartsOf, the tar and .deb readers, the
 * entry pack) is covered only by COMPOSER_FORMAT, which must be bumped when its output changes.
 */
export function derivedName(what: string, shapedBy: unknown = null): string {
  const key = createHash("sha256")
    .update(JSON.stringify([COMPOSER_FORMAT, shapedBy]))
    .digest("hex");
  return `${what}-${key.slice(0, 16)}`;
}

/** Every result the composer keeps, named: what the cache reads, and what `cache prune` keeps. */
export const derivedNames = {
  /** A package's entries for the image: shaped by what the image leaves out and the merged /usr. */
  imageEntries: () =>
    derivedName("image-entries", { excluded: IMAGE_EXCLUDED_PREFIXES, mergedUsr: MERGED_USR_ALIASES }),
  bootableKernel: (arch: Arch) => derivedName(`bootable-kernel-${arch}`),
  /** The modules the guest loads, and their list: shaped by the profile's module lists. */
  kernelModules: (arch: Arch) => derivedName("kernel-modules", kernelShape(arch)),
  kernelModuleList: (arch: Arch) => derivedName("kernel-module-list", kernelShape(arch)),
  /** qemu-user's interpreter for `system`, as the .deb has it. */
  emulator: (system: NixSystem) => derivedName(EMULATION_TARGETS[system].qemu),
};

function kernelShape(arch: Arch) {
  return { modules: GUEST_MODULES[arch], late: [...GUEST_LATE_MODULES] };
}

/** The names of every result this version of the composer makes, for every architecture. */
export function currentDerivedNames(): Set<string> {
  const names = new Set([derivedNames.imageEntries()]);
  for (const arch of Object.keys(ARCHITECTURES) as Arch[]) {
    names.add(derivedNames.bootableKernel(arch));
    names.add(derivedNames.kernelModules(arch));
    names.add(derivedNames.kernelModuleList(arch));
  }
  for (const system of NIX_SYSTEMS) names.add(derivedNames.emulator(system));
  return names;
}

/**
 * The result `name` made from the cached .deb `debSha256`: kept in the content cache (which checks
 * it at each read, by its stamp or its hash), or made by `make` and kept. A kept file `read` cannot
 * take is made again.
 */
export async function derivedResult<T>(
  cache: ContentCache,
  debSha256: string,
  name: string,
  read: (data: Buffer) => T | undefined,
  make: () => Promise<Buffer>,
): Promise<T> {
  const kept = await cache.readDerived(debSha256, name);
  const fromCache = kept === undefined ? undefined : read(kept);
  if (fromCache !== undefined) return fromCache;
  const made = await make();
  const result = read(made);
  if (result === undefined) throw new Error(`the composer made a ${name} it cannot read back`);
  await cache.storeDerived(debSha256, name, made);
  return result;
}
