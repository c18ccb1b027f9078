import { NIX_SYSTEMS, type NixSystem } from "../../config/config.js";
import { LinuxBuilderError } from "../../errors.js";
import { interpreterPath } from "../../guest/binfmt.js";
import { readDebFiles } from "../archive/deb.js";
import type { ContentCache } from "../cache/content-cache.js";
import { ARCHITECTURES, type Arch, QEMU_USER_PACKAGE } from "../guest/profile.js";
import { notStaticProgramFor } from "../guest/static-elf.js";
import type { Lock } from "../lock.js";
import type { RootfsTree } from "../rootfs-tree.js";
import { derivedNames } from "./derived-results.js";
import { debOf, type LockDebs } from "./fetch-packages.js";

/**
 * The systems an image of `arch` emulates when its suite's qemu-user allows: every Linux system it
 * does not run natively. Their interpreters go at the paths their binfmt_misc lines name; the
 * per-boot parameters decide which are registered.
 */
export function emulatedSystemsFor(arch: Arch): NixSystem[] {
  return NIX_SYSTEMS.filter((system) => system !== ARCHITECTURES[arch].nixSystem);
}

/** Where an interpreter goes in the image's tree (no leading slash: usr/bin/qemu-aarch64). */
function treePath(system: NixSystem): string {
  return interpreterPath(system).slice(1);
}

/**
 * Adds the guest's interpreters from the locked qemu-user .deb and returns the systems it carries.
 * Its data is 465 MiB of every target's interpreter, xz-compressed: each one taken is kept in the
 * cache under the .deb's hash, so only the first compose of a qemu-user version reads it. A suite
 * whose qemu-user has no static interpreter for a system (bookworm's are dynamic: the static ones
 * are in qemu-user-static) gives an image without it, said through `warn`: such an image builds
 * only its native system.
 */
export async function addEmulators(
  tree: RootfsTree,
  lock: Lock,
  debs: LockDebs<string | Promise<string>>,
  cache: ContentCache,
  warn: (message: string) => void,
): Promise<NixSystem[]> {
  return putEmulators(tree, await readEmulators(lock, debs, cache, warn));
}

/** An interpreter the image carries, and the system it emulates. */
export interface Emulator {
  readonly system: NixSystem;
  readonly data: Buffer;
}

/** Puts the interpreters into the tree, at the paths their binfmt_misc lines name; returns their systems. */
export function putEmulators(tree: RootfsTree, emulators: readonly Emulator[]): NixSystem[] {
  for (const { system, data } of emulators) tree.addFile(treePath(system), data, 0o755);
  return emulators.map(({ system }) => system);
}

/**
 * The interpreters addEmulators adds, without a tree: read while the .debs download and unpack. The
 * qemu-user .deb is waited for only when the cache lacks one.
 */
export async function readEmulators(
  lock: Lock,
  debs: LockDebs<string | Promise<string>>,
  cache: ContentCache,
  warn: (message: string) => void,
  readFiles: (deb: string, paths: readonly string[]) => Promise<Record<string, Buffer>> = readDebFiles,
): Promise<Emulator[]> {
  const index = lock.packages.findIndex((pkg) => pkg.name === QEMU_USER_PACKAGE);
  const pkg = lock.packages[index];
  if (pkg === undefined) {
    throw new LinuxBuilderError(
      "lock.incomplete",
      `Cannot compose the image: the lock has no ${QEMU_USER_PACKAGE} package, where the guest's emulators (qemu-user's interpreters) come from`,
      { hint: "The lock was made by an older linux-builder: compose without --lock to resolve a new one." },
    );
  }
  const systems = emulatedSystemsFor(lock.arch);
  const name = derivedNames.emulator;
  const cached = new Map<NixSystem, Buffer>();
  for (const system of systems) {
    const data = await cache.readDerived(pkg.sha256, name(system));
    if (data !== undefined) cached.set(system, data);
  }
  const missing = systems.filter((system) => !cached.has(system)).map(treePath);
  const read = missing.length === 0 ? {} : await readFiles(await debOf(debs, index), missing);
  const carried: Emulator[] = [];
  for (const system of systems) {
    const path = treePath(system);
    const data = cached.get(system) ?? read[path];
    const notStatic = data === undefined ? undefined : notStaticProgramFor(data, lock.arch);
    if (data === undefined || notStatic !== undefined) {
      const what = data === undefined ? ` has no ${path}` : `'s ${path} is ${notStatic}`;
      warn(
        `the ${lock.suite} image cannot emulate ${system}: ${pkg.name} ${pkg.version}${what}, and the guest needs a static ${lock.arch} program (it runs inside Nix's sandbox). Composing it without: emulatedSystems does nothing with this suite (trixie's qemu-user is static).`,
      );
      continue;
    }
    if (!cached.has(system)) await cache.storeDerived(pkg.sha256, name(system), data);
    carried.push({ system, data });
  }
  return carried;
}
