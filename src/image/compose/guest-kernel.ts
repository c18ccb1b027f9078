import { LinuxBuilderError } from "../../errors.js";
import { readDebData } from "../archive/deb.js";
import { decompressBuffer } from "../archive/decompress.js";
import { writeEntryPack } from "../archive/entry-pack.js";
import type { TarEntry } from "../archive/tar.js";
import {
  type AvailableModule,
  moduleDepends,
  moduleName,
  parseModinfo,
  planModuleLoadOrder,
} from "../guest/kernel-modules.js";
import { type Arch, GUEST_LATE_MODULES, GUEST_MODULES } from "../guest/profile.js";
import { pvhKernel } from "../guest/pvh-kernel.js";
import type { RootfsTree } from "../rootfs-tree.js";

/** What the kernel package holds for the image besides the kernel: its modules by name. */
export interface KernelPackage {
  readonly version: string;
  /** Names of the modules built into the image (modules.builtin). */
  readonly builtin: ReadonlySet<string>;
  /** Module name → its file (path from lib/modules/VERSION/, possibly compressed). */
  readonly moduleFiles: ReadonlyMap<string, TarEntry>;
}

/** The modules the guest loads, decompressed, in load order, and the two lists /init reads. */
export interface GuestModules {
  readonly files: readonly { readonly path: string; readonly data: Buffer }[];
  /** The boot-critical modules (and what they depend on), loaded before the root is ready. */
  readonly earlyList: Buffer;
  /** The rest, loaded in the background. */
  readonly lateList: Buffer;
  /** Module names in load order, for the manifest. */
  readonly names: string[];
}

/** What the image takes from the kernel package besides the kernel: its version and the modules added. */
export interface KernelParts {
  readonly version: string;
  /** Module names in load order, for the manifest. */
  readonly modules: string[];
  /** The files added to the tree (the modules, decompressed, and the two lists /init reads), as an entry pack. */
  readonly files: Buffer;
}

/**
 * The kernel's part of the image out of its .deb, read once: the kernel as the VM boots it, given to
 * `onBootable` as soon as it is read (boot/ comes first in the .deb, long before the modules: a caller
 * can use it meanwhile), then the modules the guest needs, decompressed, in load order, and their
 * lists. Pure work on one .deb.
 */
export async function kernelPartsOf(
  deb: string,
  arch: Arch,
  packageName: string,
  onBootable: (kernel: Buffer) => void,
): Promise<KernelParts> {
  const kernel = await readKernelPackage(deb, packageName, async (image) =>
    onBootable(await bootableKernel(image, arch)),
  );
  const modules = await guestModules(kernel, GUEST_MODULES[arch], GUEST_LATE_MODULES, packageName);
  const file = (path: string, body: Buffer): TarEntry => ({
    path,
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    body,
  });
  const files = writeEntryPack([
    ...modules.files.map(({ path, data }) => file(`usr/lib/modules/${kernel.version}/${path}`, data)),
    file("etc/linux-builder/modules", modules.earlyList),
    file("etc/linux-builder/modules.late", modules.lateList),
  ]);
  return { version: kernel.version, modules: modules.names, files };
}

/** Adds the kernel's files (kernelPartsOf) to the tree. */
export function addKernelFiles(tree: RootfsTree, files: readonly TarEntry[]): void {
  for (const { path, body, mode } of files) tree.addFile(path, body ?? Buffer.alloc(0), mode);
}

/** The kernel image the VM boots: on x86 the ELF kernel inside the bzImage, started at its PVH entry (see pvh-kernel.ts). */
async function bootableKernel(image: Buffer, arch: Arch): Promise<Buffer> {
  return arch === "amd64" ? ((await pvhKernel(image)) ?? image) : image;
}

const VMLINUZ = /^boot\/vmlinuz-(.+)$/;

/** The kernel .deb's modules; its image goes to `onImage` as it is read (and is not kept: it may be handed over). */
async function readKernelPackage(
  deb: string,
  packageName: string,
  onImage: (image: Buffer) => Promise<void>,
): Promise<KernelPackage> {
  let version: string | undefined;
  let builtinList = "";
  const moduleFiles = new Map<string, TarEntry>();
  for await (const entry of readDebData(deb)) {
    const vmlinuz = VMLINUZ.exec(entry.path);
    if (vmlinuz && entry.type === "file" && version === undefined) {
      version = vmlinuz[1];
      await onImage(entry.body ?? Buffer.alloc(0));
      continue;
    }
    const builtin = /^(?:usr\/)?lib\/modules\/[^/]+\/modules\.builtin$/.exec(entry.path);
    if (builtin && entry.type === "file") builtinList = entry.body?.toString("utf8") ?? "";
    const ko = /^(?:usr\/)?lib\/modules\/[^/]+\/(kernel\/.+\.ko(?:\.(?:xz|zst|gz))?)$/.exec(entry.path);
    if (ko?.[1] && entry.type === "file") moduleFiles.set(moduleName(ko[1]), { ...entry, path: ko[1] });
  }
  if (version === undefined) throw noKernelImage(packageName);
  const builtin = new Set(
    builtinList
      .split("\n")
      .filter((line) => line !== "")
      .map(moduleName),
  );
  return { version, builtin, moduleFiles };
}

function noKernelImage(packageName: string): LinuxBuilderError {
  return new LinuxBuilderError(
    "kernel.missing",
    `Cannot find a kernel image (boot/vmlinuz-*) in ${packageName}`,
    {
      hint: "The kernel package's layout is not what linux-builder expects; report this with the package name.",
    },
  );
}

/** The `wanted` modules and what they depend on, in load order; those in `late` (and only they) load late. */
export async function guestModules(
  kernel: KernelPackage,
  wanted: readonly string[],
  late: ReadonlySet<string>,
  packageName: string,
): Promise<GuestModules> {
  const { builtin, moduleFiles, version } = kernel;
  // Decompress the modules we visit, following `depends=` breadth-first.
  const available = new Map<string, AvailableModule & { data: Buffer }>();
  const queue = wanted.map(moduleName);
  while (queue.length > 0) {
    const name = queue.shift() as string;
    if (available.has(name) || builtin.has(name)) continue;
    const file = moduleFiles.get(name);
    if (file === undefined) continue; // planModuleLoadOrder reports it with its chain.
    const data = await decompressBuffer(file.path, file.body ?? Buffer.alloc(0));
    const depends = moduleDepends(parseModinfo(data, `${file.path} in ${packageName}`));
    const path = file.path.replace(/\.(xz|zst|gz)$/, "");
    available.set(name, { path, depends, data });
    queue.push(...depends);
  }
  const order = planModuleLoadOrder(wanted, available, builtin, packageName);
  // The boot-critical modules (and what they depend on) first; the rest in the background.
  const early = new Set(
    planModuleLoadOrder(
      wanted.filter((name) => !late.has(name)),
      available,
      builtin,
      packageName,
    ).map((m) => m.path),
  );
  const list = (modules: typeof order) => Buffer.from(modules.map((m) => `${version}/${m.path}\n`).join(""));
  return {
    files: order.map((module) => ({
      path: module.path,
      data: available.get(moduleName(module.path))?.data ?? Buffer.alloc(0),
    })),
    earlyList: list(order.filter((m) => early.has(m.path))),
    lateList: list(order.filter((m) => !early.has(m.path))),
    names: order.map((m) => moduleName(m.path)),
  };
}
