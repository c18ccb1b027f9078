import { NIX_SYSTEMS } from "../../config/config.js";
import { LinuxBuilderError } from "../../errors.js";
import { interpreterPath } from "../../guest/binfmt.js";
import { readDebData } from "../archive/deb.js";
import type { ContentCache } from "../cache/content-cache.js";
import { ARCHITECTURES, type Arch, QEMU_USER_PACKAGE } from "../guest/profile.js";
import { notStaticProgramFor } from "../guest/static-elf.js";
import type { Lock } from "../lock.js";
import type { RootfsTree } from "../rootfs-tree.js";
import type { FetchedPackages } from "./fetch-packages.js";

/**
 * The interpreters an image of `arch` carries: one per Linux system it does not run natively, at
 * the path its binfmt_misc line names, without the leading slash (usr/bin/qemu-aarch64). Every
 * image has them; the per-boot parameters decide which are registered.
 */
export function emulatorPaths(arch: Arch): string[] {
  return NIX_SYSTEMS.filter((system) => system !== ARCHITECTURES[arch].nixSystem).map((system) =>
    interpreterPath(system).slice(1),
  );
}

/**
 * Adds the guest's interpreters from the locked qemu-user .deb. Its data is 465 MiB of every
 * target's interpreter, xz-compressed: each one taken is kept in the cache under the .deb's hash,
 * so only the first compose of a qemu-user version reads it.
 */
export async function addEmulators(
  tree: RootfsTree,
  lock: Lock,
  debs: FetchedPackages,
  cache: ContentCache,
): Promise<void> {
  const index = lock.packages.findIndex((pkg) => pkg.name === QEMU_USER_PACKAGE);
  const pkg = lock.packages[index];
  if (pkg === undefined) {
    throw new LinuxBuilderError(
      "lock.incomplete",
      `Cannot compose the image: the lock has no ${QEMU_USER_PACKAGE} package, where the guest's emulators (qemu-user's interpreters) come from`,
      { hint: "The lock was made by an older linux-builder: compose without --lock to resolve a new one." },
    );
  }
  const paths = emulatorPaths(lock.arch);
  const name = (path: string) => path.slice(path.lastIndexOf("/") + 1);
  const cached = new Map<string, Buffer>();
  for (const path of paths) {
    const data = await cache.readDerived(pkg.sha256, name(path));
    if (data !== undefined) cached.set(path, data);
  }
  const missing = paths.filter((path) => !cached.has(path));
  const read =
    missing.length === 0
      ? new Map<string, Buffer>()
      : await filesOfDeb(debs.packages[index] as string, missing);
  for (const path of paths) {
    const data = cached.get(path) ?? read.get(path);
    const what = `${path} of ${pkg.name} ${pkg.version}`;
    if (data === undefined) {
      throw new LinuxBuilderError(
        "image.emulator",
        `Cannot compose the image: ${pkg.name} ${pkg.version} has no ${path}`,
        {
          hint: "Debian's qemu-user no longer ships this interpreter there; report it.",
        },
      );
    }
    const wrong = notStaticProgramFor(data, lock.arch);
    if (wrong !== undefined) {
      throw new LinuxBuilderError(
        "image.emulator",
        `Cannot compose the image: ${what} is ${wrong}; the guest needs a static ${lock.arch} program (it runs inside Nix's sandbox, which has no libraries)`,
        { hint: "Debian's qemu-user no longer ships static interpreters; report it." },
      );
    }
    if (!cached.has(path)) await cache.storeDerived(pkg.sha256, name(path), data);
    tree.addFile(path, data, 0o755);
  }
}

/** The regular files at `paths` in a .deb's data, read in one pass. */
async function filesOfDeb(deb: string, paths: readonly string[]): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  for await (const entry of readDebData(deb)) {
    if (entry.type === "file" && paths.includes(entry.path))
      found.set(entry.path, entry.body ?? Buffer.alloc(0));
    if (found.size === paths.length) break;
  }
  return found;
}
