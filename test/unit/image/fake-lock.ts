import type { Lock, LockedPackage } from "../../../src/image/lock.js";

/** A package as a lock pins it, named `name`, with placeholder pool path, size and hash. */
export function lockedPackage(name: string): LockedPackage {
  return {
    name,
    version: "1",
    architecture: "amd64",
    filename: `pool/${name}_1_amd64.deb`,
    size: 1,
    sha256: "0".repeat(64),
  };
}

/** A trixie amd64 lock of the named packages, with a placeholder kernel. */
export function lockOf(names: readonly string[], roots: readonly string[] = names): Lock {
  return {
    lockVersion: 1,
    suite: "trixie",
    arch: "amd64",
    roots: [...roots],
    kernel: lockedPackage("linux-image-x"),
    packages: names.map(lockedPackage),
  };
}
