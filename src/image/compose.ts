import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { LinuxBuilderError } from "../errors.js";
import { packageRoot } from "../host/package-root.js";
import { fetchBytes } from "../net/fetch-bytes.js";
import { writeCpio } from "./archive/cpio.js";
import { readDebData } from "./archive/deb.js";
import { decompressBuffer } from "./archive/decompress.js";
import type { TarEntry } from "./archive/tar.js";
import { ContentCache } from "./cache/content-cache.js";
import { verifyInRelease } from "./debian/inrelease.js";
import { loadKeyring } from "./debian/keyring.js";
import { PackageIndex, type PackageRecord, parsePackagesIndex } from "./debian/packages-index.js";
import { checkReleaseMatches, indexEntry, type Release, verifyIndexHash } from "./debian/release.js";
import { resolveClosure } from "./debian/resolver.js";
import { busyboxApplets } from "./guest/busybox-applets.js";
import {
  CA_BUNDLE_PATH,
  CA_CERTIFICATES_DIR,
  CA_CERTIFICATES_PACKAGE,
  debianCaBundle,
} from "./guest/ca-bundle.js";
import { MULTIARCH_TRIPLET, unresolvedLinks } from "./guest/elf-links.js";
import {
  type AvailableModule,
  moduleDepends,
  moduleName,
  parseModinfo,
  planModuleLoadOrder,
} from "./guest/kernel-modules.js";
import {
  ARCHITECTURES,
  type Arch,
  FALLBACK_SYMLINKS,
  GUEST_DATA_PACKAGES,
  GUEST_DIRECTORIES,
  GUEST_LATE_MODULES,
  GUEST_MODULES,
  GUEST_ROOT_PACKAGES,
  IMAGE_EXCLUDED_PREFIXES,
  IMAGE_OMITTED_PACKAGES,
  isDataPackage,
  isOmittedFromImage,
  kernelMetaPackage,
  OVERLAY_MODES,
} from "./guest/profile.js";
import { pvhKernel } from "./guest/pvh-kernel.js";
import { type Lock, type LockedPackage, parseLock, serializeLock } from "./lock.js";
import { RootfsTree } from "./rootfs-tree.js";
import { type ImageManifest, ImageStore } from "./store.js";

/** Bumped whenever the composer's output for the same inputs changes (it is part of the reuse key). */
export const COMPOSER_FORMAT = 5;

export interface ComposeOptions {
  readonly arch: Arch;
  readonly suite: string;
  readonly mirror: string;
  readonly extraPackages: readonly string[];
  /** apt's Check-Valid-Until: refuse a Release whose Valid-Until has passed. */
  readonly checkValidUntil: boolean;
  /** Compose exactly this package set instead of resolving it from the mirror's current index. */
  readonly lock?: Lock;
  /** Compose again even if an image from the same inputs exists. */
  readonly force: boolean;
  readonly cacheDir: string;
  readonly imagesDir: string;
  readonly reporter?: ComposeReporter;
  /** Extra OpenPGP keyrings to trust (other mirrors, tests). */
  readonly keyringFiles?: readonly string[];
  /** The time signatures and Valid-Until are checked at; defaults to now. */
  readonly now?: Date;
  readonly downloadConcurrency?: number;
}

/** How composition reports progress; the CLI draws it, tests ignore it. */
export interface ComposeReporter {
  step(message: string): void;
  downloadStart(totalBytes: number, files: number): void;
  downloadProgress(bytes: number): void;
  downloadEnd(): void;
}

const quietReporter: ComposeReporter = {
  step() {},
  downloadStart() {},
  downloadProgress() {},
  downloadEnd() {},
};

export interface ComposeResult {
  readonly manifest: ImageManifest;
  readonly directory: string;
  /** True when an image from the same inputs already existed and was used as it is. */
  readonly reused: boolean;
  /** Seconds per phase. */
  readonly timings: Readonly<Record<string, number>>;
  readonly signer?: string;
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

/** Fetches and verifies the signed index, then resolves the guest's closure and kernel into a lock. */
export async function resolveLock(
  options: ComposeOptions,
  cache: ContentCache,
  reporter: ComposeReporter,
): Promise<{ lock: Lock; signer: string }> {
  const { arch, suite, mirror } = options;
  const base = `${mirror.replace(/\/+$/, "")}/dists/${suite}`;
  reporter.step(`Verifying ${base}/InRelease`);
  const inReleaseText = (await fetchBytes(`${base}/InRelease`, `the ${suite} InRelease file`)).toString(
    "utf8",
  );
  const keys = await loadKeyring(options.keyringFiles ? [...options.keyringFiles] : undefined);
  const verified = await verifyInRelease(inReleaseText, keys, {
    now: options.now ?? new Date(),
    checkValidUntil: options.checkValidUntil,
    source: `${base}/InRelease`,
  });
  const release: Release = verified.release;
  checkReleaseMatches(release, suite, arch, `${base}/InRelease`);

  const plainPath = `main/binary-${arch}/Packages`;
  const compressedPath = [".xz", ".gz"].map((ext) => plainPath + ext).find((p) => release.sha256.has(p));
  if (compressedPath === undefined) {
    // indexEntry throws the error that names the missing index.
    indexEntry(release, `${plainPath}.xz`);
    throw new Error("unreachable");
  }
  const entry = indexEntry(release, compressedPath);
  const roots = [...GUEST_ROOT_PACKAGES, ...options.extraPackages];

  // The same signed index and roots always resolve to the same lock: remember it, and a warm build
  // skips decompressing and parsing the 60 MB index.
  const resolutionKey = createHash("sha256")
    .update(
      JSON.stringify({
        format: COMPOSER_FORMAT,
        index: entry.sha256,
        suite,
        arch,
        roots,
        kernel: kernelMetaPackage(arch),
      }),
    )
    .digest("hex");
  const remembered = join(options.cacheDir, "resolutions", `${resolutionKey}.json`);
  const rememberedText = await readFile(remembered, "utf8").catch(() => undefined);
  if (rememberedText !== undefined) {
    try {
      return { lock: parseLock(rememberedText, remembered), signer: verified.signer.userId };
    } catch {
      // A damaged entry is resolved again and overwritten.
    }
  }

  reporter.step(`Reading ${suite}/${compressedPath}`);
  // By hash where the archive offers it: the file for that hash never changes during a mirror sync.
  const byHashUrl = `${base}/${compressedPath.slice(0, compressedPath.lastIndexOf("/"))}/by-hash/SHA256/${entry.sha256}`;
  const plainUrl = `${base}/${compressedPath}`;
  const indexFile = await cache.fetch({
    url: release.acquireByHash ? byHashUrl : plainUrl,
    ...(release.acquireByHash ? { fallbackUrl: plainUrl } : {}),
    sha256: entry.sha256,
    size: entry.size,
    label: `the ${suite} ${arch} package index`,
  });
  const text = await decompressBuffer(compressedPath, await readFile(indexFile));
  if (release.sha256.has(plainPath)) verifyIndexHash(release, plainPath, text);
  const label = `${suite}/main ${arch}`;
  const index = new PackageIndex(parsePackagesIndex(text.toString("utf8"), label, { arch }), { arch, label });

  reporter.step(`Resolving ${roots.length} packages and their dependencies`);
  // Data packages are pinned alone: their dependencies serve only the scripts the composer replaces.
  const closure = resolveClosure(
    index,
    roots.filter((name) => !isDataPackage(name)),
    { arch },
  );
  const dataPackages = roots
    .filter((name) => isDataPackage(name) && !closure.some((record) => record.name === name))
    .map((name) => resolveDataPackage(index, name));
  const lock: Lock = {
    lockVersion: 1,
    suite,
    arch,
    roots,
    kernel: resolveKernel(index, arch),
    packages: [...closure, ...dataPackages].map(toLocked),
  };
  await writeFileAtomic(remembered, serializeLock(lock));
  return { lock, signer: verified.signer.userId };
}

async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/** The versioned kernel image the meta package points at (its other dependencies are for installed systems). */
function resolveKernel(index: PackageIndex, arch: Arch): LockedPackage {
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

function resolveDataPackage(index: PackageIndex, name: string): PackageRecord {
  const record = index.versions(name)[0];
  if (record === undefined) {
    throw new LinuxBuilderError("debian.unresolvable", `Cannot find ${name} in ${index.label}`, {
      hint: "Check --suite and --mirror: the guest's CA certificates come from Debian's ca-certificates package.",
    });
  }
  return record;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    // Symlinks are listed, not followed: the overlay keeps them as symlinks.
    else out.push(full);
  }
  return out.sort();
}

/**
 * A hash of everything besides the packages that shapes the image: the composer's format, the guest
 * profile and our guest files. Equal keys mean an existing image can be
 * reused as it is.
 */
async function composerKey(guestDir: string, arch: Arch): Promise<string> {
  const profile = {
    format: COMPOSER_FORMAT,
    kernel: kernelMetaPackage(arch),
    modules: GUEST_MODULES[arch],
    lateModules: [...GUEST_LATE_MODULES],
    excluded: IMAGE_EXCLUDED_PREFIXES,
    omitted: IMAGE_OMITTED_PACKAGES.map((pattern) => pattern.source),
    data: GUEST_DATA_PACKAGES,
    overlayModes: OVERLAY_MODES,
    fallbackSymlinks: FALLBACK_SYMLINKS,
    directories: GUEST_DIRECTORIES,
  };
  const hash = createHash("sha256").update(`${JSON.stringify(profile)}\n`);
  for (const file of await listFiles(guestDir)) {
    const info = await lstat(file);
    hash.update(`${relative(guestDir, file)}\0${info.mode & 0o111 ? "x" : "-"}\0`);
    hash.update(info.isSymbolicLink() ? `-> ${await readlink(file)}` : await readFile(file));
  }
  return hash.digest("hex");
}

/**
 * The reuse key of an image composed from `lock` by this version of the composer: the lock, the
 * composer's format, the guest profile and our guest files. An image whose manifest says otherwise
 * was composed by another version of linux-builder.
 */
export async function imageInputs(lock: Lock): Promise<string> {
  return createHash("sha256")
    .update(serializeLock(lock))
    .update(await composerKey(join(packageRoot(), "guest"), lock.arch))
    .digest("hex");
}

/** Runs `fn` on each item, `limit` at a time; the first failure aborts the others through `signal`. */
async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const controller = new AbortController();
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !controller.signal.aborted) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, controller.signal);
      } catch (error) {
        controller.abort(error);
        throw error;
      }
    }
  });
  await Promise.all(workers);
  return results;
}

function debUrl(mirror: string, pkg: LockedPackage): string {
  return `${mirror.replace(/\/+$/, "")}/${pkg.filename}`;
}

/**
 * Composes the guest image: resolve (or take) the lock, fetch and verify every .deb, unpack them
 * into a merged-/usr tree with our /init and overlay, pick the kernel modules, and write a
 * reproducible cpio next to the kernel in a content-addressed image directory.
 */
export async function composeImage(options: ComposeOptions): Promise<ComposeResult> {
  const reporter = options.reporter ?? quietReporter;
  const timings: Record<string, number> = {};
  let started = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - started) / 1000;
    started = now;
  };

  const cache = new ContentCache(join(options.cacheDir, "files"));
  const store = new ImageStore(options.imagesDir);
  let signer: string | undefined;
  let lock: Lock;
  if (options.lock === undefined) {
    const resolved = await resolveLock(options, cache, reporter);
    lock = resolved.lock;
    signer = resolved.signer;
  } else {
    lock = options.lock;
    if (lock.arch !== options.arch) {
      throw new LinuxBuilderError(
        "lock.arch",
        `Cannot compose a ${options.arch} image from a lock for ${lock.arch}`,
        { hint: `Pass --arch ${lock.arch}, or a lock made for ${options.arch}.` },
      );
    }
  }
  lap("resolve");

  const lockText = serializeLock(lock);
  const inputs = await imageInputs(lock);
  if (!options.force) {
    const existing = await store.findByInputs(inputs);
    if (existing !== undefined) {
      await store.setCurrent(lock.arch, existing.manifest.id);
      lap("reuse");
      return { ...existing, reused: true, timings, ...(signer === undefined ? {} : { signer }) };
    }
  }

  // Every package of the lock is fetched and verified, also those the image leaves out.
  const all = [lock.kernel, ...lock.packages];
  reporter.downloadStart(
    all.reduce((sum, p) => sum + p.size, 0),
    all.length,
  );
  const files = await mapConcurrent(all, options.downloadConcurrency ?? 6, (pkg, signal) =>
    cache.fetch(
      {
        url: debUrl(options.mirror, pkg),
        sha256: pkg.sha256,
        size: pkg.size,
        label: `${pkg.name} ${pkg.version}`,
      },
      { onBytes: (bytes) => reporter.downloadProgress(bytes), signal },
    ),
  );
  reporter.downloadEnd();
  lap("download");

  const [kernelDeb, ...packageDebs] = files as [string, ...string[]];
  const unpacked = lock.packages.flatMap((pkg, i) =>
    isOmittedFromImage(pkg.name) || isDataPackage(pkg.name) ? [] : [{ pkg, deb: packageDebs[i] as string }],
  );
  reporter.step(
    `Unpacking ${unpacked.length} packages (${lock.packages.length - unpacked.length} left out: nothing a builder runs loads them)`,
  );
  const tree = new RootfsTree(IMAGE_EXCLUDED_PREFIXES);
  for (const { pkg, deb } of unpacked) {
    try {
      await tree.addPackage(readDebData(deb));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new LinuxBuilderError(
        error instanceof LinuxBuilderError ? error.code : "image.unpack",
        `Cannot unpack ${pkg.name} ${pkg.version}: ${reason}`,
        {
          hint: `The cached file ${deb} passed its hash check; run \`linux-builder cache prune --all\` and try again, or report it.`,
          cause: error,
        },
      );
    }
  }
  const caIndex = lock.packages.findIndex((pkg) => pkg.name === CA_CERTIFICATES_PACKAGE);
  if (caIndex === -1) {
    throw new LinuxBuilderError(
      "lock.incomplete",
      `Cannot compose the image: the lock has no ${CA_CERTIFICATES_PACKAGE} package, where the guest's CA certificates come from`,
      { hint: "The lock was made by an older linux-builder: compose without --lock to resolve a new one." },
    );
  }
  tree.addFile(CA_BUNDLE_PATH, await caBundleOf(packageDebs[caIndex] as string), 0o644);
  lap("unpack");

  reporter.step("Adding the kernel modules and the guest's /init");
  const kernel = await addKernel(tree, kernelDeb, lock.arch, lock.kernel.name);
  await addGuestFiles(tree, join(packageRoot(), "guest"));
  addBusyboxApplets(tree);
  // Nothing left out of the image (a package, a path) may be a library one of its programs links.
  const unresolved = unresolvedLinks(
    tree.files(),
    (path) => tree.resolvesToFile(path),
    MULTIARCH_TRIPLET[lock.arch],
  );
  if (unresolved.length > 0) {
    throw new LinuxBuilderError(
      "image.unresolved-library",
      `Cannot compose the image: ${unresolved.length} of its programs' shared libraries are not in it (${unresolved.slice(0, 5).join("; ")}${unresolved.length > 5 ? "; …" : ""})`,
      {
        hint: "A package the image leaves out (IMAGE_OMITTED_PACKAGES) or an excluded path (IMAGE_EXCLUDED_PREFIXES, src/image/guest/profile.ts) ships them: keep it, or leave out the programs that need it too.",
      },
    );
  }
  lap("kernel");

  reporter.step("Writing the initramfs");
  // Uncompressed: the guest unpacks it at memory speed, where gunzip under TCG cost 0.8 s a boot;
  // the host reads it from its page cache.
  const initrd = writeCpio(tree.toEntries());
  // x86: the ELF kernel inside the bzImage, started at its PVH entry (see pvh-kernel.ts).
  const kernelImage =
    lock.arch === "amd64" ? ((await pvhKernel(kernel.image)) ?? kernel.image) : kernel.image;
  lap("initramfs");

  const result = await store.add({
    arch: lock.arch,
    suite: lock.suite,
    nixSystem: ARCHITECTURES[lock.arch].nixSystem,
    kernelVersion: kernel.version,
    kernel: kernelImage,
    initrd,
    initrdUncompressedSize: initrd.length,
    lockText,
    inputs,
    modules: kernel.modules,
    packageCount: unpacked.length,
  });
  await store.setCurrent(lock.arch, result.manifest.id);
  lap("write");
  return { ...result, reused: false, timings, ...(signer === undefined ? {} : { signer }) };
}

interface KernelParts {
  version: string;
  image: Buffer;
  modules: string[];
}

/** Takes the kernel image out of its .deb, and the modules the guest needs, decompressed, in load order. */
async function addKernel(
  tree: RootfsTree,
  deb: string,
  arch: Arch,
  packageName: string,
): Promise<KernelParts> {
  let image: Buffer | undefined;
  let version: string | undefined;
  let builtinList = "";
  const moduleFiles = new Map<string, TarEntry>();
  for await (const entry of readDebData(deb)) {
    const vmlinuz = /^boot\/vmlinuz-(.+)$/.exec(entry.path);
    if (vmlinuz && entry.type === "file") {
      image = entry.body;
      version = vmlinuz[1];
      continue;
    }
    const builtin = /^(?:usr\/)?lib\/modules\/[^/]+\/modules\.builtin$/.exec(entry.path);
    if (builtin && entry.type === "file") builtinList = entry.body?.toString("utf8") ?? "";
    const ko = /^(?:usr\/)?lib\/modules\/[^/]+\/(kernel\/.+\.ko(?:\.(?:xz|zst|gz))?)$/.exec(entry.path);
    if (ko?.[1] && entry.type === "file") moduleFiles.set(moduleName(ko[1]), { ...entry, path: ko[1] });
  }
  if (image === undefined || version === undefined) {
    throw new LinuxBuilderError(
      "kernel.missing",
      `Cannot find a kernel image (boot/vmlinuz-*) in ${packageName}`,
      {
        hint: "The kernel package's layout is not what linux-builder expects; report this with the package name.",
      },
    );
  }
  const builtin = new Set(
    builtinList
      .split("\n")
      .filter((line) => line !== "")
      .map(moduleName),
  );

  // Decompress the modules we visit, following `depends=` breadth-first.
  const available = new Map<string, AvailableModule & { data: Buffer }>();
  const queue = GUEST_MODULES[arch].map(moduleName);
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
  const order = planModuleLoadOrder(GUEST_MODULES[arch], available, builtin, packageName);
  for (const module of order) {
    const data = available.get(moduleName(module.path))?.data ?? Buffer.alloc(0);
    tree.addFile(`usr/lib/modules/${version}/${module.path}`, data, 0o644);
  }
  // The boot-critical modules (and what they depend on) first; the rest in the background.
  const early = new Set(
    planModuleLoadOrder(
      GUEST_MODULES[arch].filter((name) => !GUEST_LATE_MODULES.has(name)),
      available,
      builtin,
      packageName,
    ).map((m) => m.path),
  );
  const list = (modules: typeof order) => Buffer.from(modules.map((m) => `${version}/${m.path}\n`).join(""));
  tree.addFile("etc/linux-builder/modules", list(order.filter((m) => early.has(m.path))), 0o644);
  tree.addFile("etc/linux-builder/modules.late", list(order.filter((m) => !early.has(m.path))), 0o644);
  return { version, image, modules: order.map((m) => moduleName(m.path)) };
}

/** The bundle ca-certificates' maintainer scripts would make, from the certificates in its .deb. */
async function caBundleOf(deb: string): Promise<Buffer> {
  const files = new Map<string, Buffer>();
  for await (const entry of readDebData(deb)) {
    if (entry.type === "file" && entry.path.startsWith(CA_CERTIFICATES_DIR))
      files.set(entry.path, entry.body ?? Buffer.alloc(0));
  }
  return debianCaBundle(files);
}

/** /usr/libexec/busybox/NAME → busybox for each applet, as `busybox --install -s` would make them. */
function addBusyboxApplets(tree: RootfsTree): void {
  const binary = tree.fileData("usr/bin/busybox");
  const applets = binary === undefined ? undefined : busyboxApplets(binary);
  for (const name of applets ?? []) tree.addSymlink(`usr/libexec/busybox/${name}`, "/usr/bin/busybox");
}

/** Our /init, the overlay in guest/rootfs, and what a running system needs that no package ships. */
async function addGuestFiles(tree: RootfsTree, guestDir: string): Promise<void> {
  tree.addFile("init", await readFile(join(guestDir, "init.sh")), 0o755);
  const overlay = join(guestDir, "rootfs");
  for (const file of await listFiles(overlay)) {
    const path = relative(overlay, file);
    const info = await lstat(file);
    if (info.isSymbolicLink()) {
      tree.addSymlink(path, await readlink(file));
      continue;
    }
    // Git keeps only the executable bit; the rest is ours to decide.
    const mode = OVERLAY_MODES[path] ?? (info.mode & 0o111 ? 0o755 : 0o644);
    tree.addFile(path, await readFile(file), mode);
  }
  for (const [path, target] of Object.entries(FALLBACK_SYMLINKS)) {
    if (!tree.has(path)) tree.addSymlink(path, target);
  }
  for (const [path, mode] of Object.entries(GUEST_DIRECTORIES)) tree.addDirectory(path, mode);
  // The kernel opens /dev/console for /init's output before any devtmpfs exists.
  tree.addCharDevice("dev/console", 0o600, 5, 1);
}
