import { LinuxBuilderError } from "../../errors.js";
import type { PackageLookup, PackageRecord } from "../debian/packages-index.js";
import { resolveClosure } from "../debian/resolver.js";
import { type Arch, isDataPackage, kernelMetaPackage } from "../guest/profile.js";
import type { Lock, LockedPackage } from "../lock.js";

/** The lock of `roots` in `index`: their closure, the data packages alone, and the kernel. */
export function lockFromIndex(
  index: PackageLookup,
  roots: readonly string[],
  suite: string,
  arch: Arch,
): Lock {
  // Data packages are pinned alone: their dependencies serve only the scripts the composer replaces.
  const closure = resolveClosure(
    index,
    roots.filter((name) => !isDataPackage(name)),
    { arch },
  );
  const dataPackages = roots
    .filter((name) => isDataPackage(name) && !closure.some((record) => record.name === name))
    .map((name) => resolveDataPackage(index, name));
  return {
    lockVersion: 1,
    suite,
    arch,
    roots: [...roots],
    kernel: resolveKernel(index, arch),
    packages: [...closure, ...dataPackages].map(toLocked),
  };
}

function toLocked(record: PackageRecord): LockedPackage {
  const architecture = record.architecture;
  if (architecture !== "amd64" && architecture !== "arm64" && architecture !== "all") {
    throw new Error(`unexpected architecture ${architecture} for ${record.name}`);
  }
  return {
    name: record.name,
    version: record.version,
    architecture,
    filename: record.filename,
    size: record.size,
    sha256: record.sha256,
  };
}

/** The versioned kernel image the meta package points at (its other dependencies are for installed systems). */
function resolveKernel(index: PackageLookup, arch: Arch): LockedPackage {
  const meta = kernelMetaPackage(arch);
  const metaRecord = index.versions(meta)[0];
  const imageName = metaRecord?.depends
    .flat()
    .map((relation) => relation.name)
    .find((name) => name.startsWith("linux-image-"));
  const image = imageName === undefined ? undefined : index.versions(imageName)[0];
  if (image === undefined) {
    throw new LinuxBuilderError(
      "debian.unresolvable",
      `Cannot find the kernel: ${meta}${imageName ? ` → ${imageName}` : ""} is not in ${index.label}`,
      { hint: "Check --suite and --arch: the kernel comes from Debian's cloud kernel flavour." },
    );
  }
  return toLocked(image);
}

function resolveDataPackage(index: PackageLookup, name: string): PackageRecord {
  const record = index.versions(name)[0];
  if (record === undefined) {
    throw new LinuxBuilderError("debian.unresolvable", `Cannot find ${name} in ${index.label}`, {
      hint: "Check --suite and --mirror: the guest takes files from this package (see its profile's data packages).",
    });
  }
  return record;
}
