import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { resolvePaths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { currentHost } from "../host/host.js";
import { pruneCache } from "../image/cache/prune.js";
import { composeImage } from "../image/compose/compose-image.js";
import { type Arch, DEFAULT_MIRROR, DEFAULT_SUITE, isArch } from "../image/guest/profile.js";
import { parseLock } from "../image/lock.js";
import { ImageStore, type StoredImage } from "../image/store.js";
import { consoleReporter, formatBytes } from "./output.js";

/** The architecture of this host, as a Debian name: the builder runs natively where it can. */
export function hostArch(): Arch {
  return process.arch === "arm64" ? "arm64" : "amd64";
}

export function parseArch(value: string): Arch {
  if (!isArch(value)) {
    throw new LinuxBuilderError("usage.arch", `Unknown architecture "${value}" for --arch`, {
      hint: "Use amd64 (x86_64-linux) or arm64 (aarch64-linux).",
    });
  }
  return value;
}

function parseMirror(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new LinuxBuilderError("usage.mirror", `The mirror "${value}" given to --mirror is not a URL`, {
      hint: `Use a Debian archive URL such as ${DEFAULT_MIRROR}.`,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LinuxBuilderError(
      "usage.mirror",
      `The mirror "${value}" given to --mirror must be http:// or https://`,
    );
  }
  return value.replace(/\/+$/, "");
}

function parsePackageList(value: string, previous: string[] = []): string[] {
  const names = value
    .split(/[\s,]+/)
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) {
      throw new LinuxBuilderError(
        "usage.package",
        `"${name}" given to --extra-packages is not a Debian package name`,
      );
    }
  }
  return [...previous, ...names];
}

function describe(image: StoredImage, current: boolean): Record<string, unknown> {
  const m = image.manifest;
  return {
    id: m.id,
    current,
    arch: m.arch,
    nixSystem: m.nixSystem,
    suite: m.suite,
    kernelVersion: m.kernelVersion,
    packages: m.packageCount,
    kernelBytes: m.kernel.size,
    initrdBytes: m.initrd.size,
    initrdUncompressedBytes: m.initrd.uncompressedSize,
    directory: image.directory,
  };
}

async function resolveImage(
  store: ImageStore,
  idOrUndefined: string | undefined,
  arch: Arch,
): Promise<StoredImage> {
  const id = idOrUndefined ?? (await store.currentId(arch));
  if (id === undefined) {
    throw new LinuxBuilderError("image.none", `There is no ${arch} image yet in ${store.root}`, {
      hint: `Compose one with: linux-builder image build --arch ${arch}`,
    });
  }
  return store.get(id);
}

export function registerImageCommands(program: Command): void {
  const image = program.command("image").description("compose and manage guest images");

  image
    .command("build")
    .description("compose the builder's guest image from signed Debian packages")
    .option("--arch <arch>", "guest architecture: amd64 or arm64 (default: the lock's, else the host's)")
    .option("--suite <suite>", `Debian suite (default: ${DEFAULT_SUITE})`)
    .option("--mirror <url>", "Debian mirror", DEFAULT_MIRROR)
    .option(
      "--extra-packages <names>",
      "more Debian packages to put in the guest (comma separated)",
      parsePackageList,
    )
    .option("--lock <file>", "compose exactly the packages of this lock.json, re-verifying every hash")
    .option(
      "--no-check-valid-until",
      "accept a Release file whose Valid-Until date has passed (like apt's Check-Valid-Until)",
    )
    .option("--force", "compose again even if an image from the same inputs exists")
    .option("--json", "print the result as JSON")
    .action(
      async (opts: {
        arch?: string;
        suite: string;
        mirror: string;
        extraPackages?: string[];
        lock?: string;
        checkValidUntil: boolean;
        force?: boolean;
        json?: boolean;
      }) => {
        const paths = resolvePaths(currentHost());
        const lock =
          opts.lock === undefined
            ? undefined
            : parseLock(
                await readFile(opts.lock, "utf8").catch((error: NodeJS.ErrnoException) => {
                  throw new LinuxBuilderError(
                    "lock.read",
                    `Cannot read the lock file ${opts.lock}: ${error.code ?? error.message}`,
                  );
                }),
                opts.lock,
              );
        if (lock !== undefined) {
          // A lock fixes the package set: flags that would change it contradict it.
          if (opts.extraPackages !== undefined) {
            throw new LinuxBuilderError("usage.lock", "--extra-packages cannot be combined with --lock", {
              hint: "The lock fixes the package set; compose without --lock to add packages, then use the new lock.",
            });
          }
          if (opts.suite !== undefined && opts.suite !== lock.suite) {
            throw new LinuxBuilderError(
              "usage.lock",
              `--suite ${opts.suite} contradicts the lock, made for ${lock.suite}`,
            );
          }
        }
        const arch = opts.arch === undefined ? (lock?.arch ?? hostArch()) : parseArch(opts.arch);
        const started = performance.now();
        const result = await composeImage({
          arch,
          suite: lock?.suite ?? opts.suite ?? DEFAULT_SUITE,
          mirror: parseMirror(opts.mirror),
          extraPackages: opts.extraPackages ?? [],
          checkValidUntil: opts.checkValidUntil,
          ...(lock === undefined ? {} : { lock }),
          force: opts.force === true,
          cacheDir: paths.cache,
          imagesDir: paths.images,
          reporter: consoleReporter({ quiet: opts.json === true }),
        });
        const seconds = (performance.now() - started) / 1000;
        const m = result.manifest;
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify({ ...describe(result, true), reused: result.reused, seconds, timings: result.timings, signer: result.signer ?? null }, null, 2)}\n`,
          );
          return;
        }
        if (result.signer) process.stderr.write(`Signed by: ${result.signer}\n`);
        process.stderr.write(
          `${result.reused ? "Already composed" : "Composed"} in ${seconds.toFixed(1)} s: ${m.packageCount} packages, kernel ${m.kernelVersion}\n`,
        );
        process.stdout.write(
          `${result.directory}\n  kernel ${formatBytes(m.kernel.size)}, initrd ${formatBytes(m.initrd.size)}\n`,
        );
      },
    );

  image
    .command("info [id]")
    .description("show what is in an image: packages, kernel, sizes, lock (default: the current image)")
    .option("--arch <arch>", "which architecture's current image (default: the host's)")
    .option("--json", "print as JSON")
    .action(async (id: string | undefined, opts: { arch?: string; json?: boolean }) => {
      const store = new ImageStore(resolvePaths(currentHost()).images);
      const arch = opts.arch === undefined ? hostArch() : parseArch(opts.arch);
      const found = await resolveImage(store, id, arch);
      const lock = parseLock(
        await readFile(join(found.directory, "lock.json"), "utf8"),
        join(found.directory, "lock.json"),
      );
      const intact = await store.verify(found);
      const current = (await store.currentId(found.manifest.arch)) === found.manifest.id;
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ ...describe(found, current), intact, modules: found.manifest.modules, kernelPackage: lock.kernel, lockedPackages: lock.packages }, null, 2)}\n`,
        );
        return;
      }
      const m = found.manifest;
      const lines = [
        `Image:    ${m.id}${current ? " (current)" : ""}${intact ? "" : "  DAMAGED: files do not match the manifest"}`,
        `Path:     ${found.directory}`,
        `System:   ${m.nixSystem} (Debian ${m.suite} ${m.arch})`,
        `Kernel:   ${lock.kernel.name} ${lock.kernel.version}, ${formatBytes(m.kernel.size)}`,
        `Initrd:   ${formatBytes(m.initrd.size)} (an uncompressed cpio)`,
        `Modules:  ${m.modules.join(" ")}`,
        `Lock:     ${join(found.directory, "lock.json")}`,
        `Packages: ${lock.packages.length}`,
        ...lock.packages.map((p) => `  ${p.name} ${p.version} ${p.architecture}`),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  image
    .command("list")
    .description("list composed images")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      const store = new ImageStore(resolvePaths(currentHost()).images);
      const images = await store.list();
      const currents = new Set([await store.currentId("amd64"), await store.currentId("arm64")]);
      const rows = images.map((image) => describe(image, currents.has(image.manifest.id)));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (images.length === 0) {
        process.stderr.write(`No images in ${store.root}. Compose one with: linux-builder image build\n`);
        return;
      }
      for (const image of images) {
        const m = image.manifest;
        process.stdout.write(
          `${m.id}${currents.has(m.id) ? " *" : ""}  ${m.nixSystem}  kernel ${m.kernelVersion}  ${formatBytes(m.kernel.size + m.initrd.size)}\n`,
        );
      }
    });

  image
    .command("prune")
    .description("remove images that are not current (and, with --all, every image)")
    .option("--all", "remove every image")
    .action(async (opts: { all?: boolean }) => {
      const store = new ImageStore(resolvePaths(currentHost()).images);
      const { removed, bytes } = await store.prune({ all: opts.all === true });
      for (const id of removed) process.stdout.write(`removed ${id}\n`);
      process.stderr.write(`Freed ${formatBytes(bytes)} (${removed.length} images)\n`);
    });

  const cache = program.command("cache").description("manage the package cache");
  cache
    .command("prune")
    .description("remove cached packages and indexes no image's lock refers to (with --all, everything)")
    .option("--all", "empty the cache")
    .action(async (opts: { all?: boolean }) => {
      const paths = resolvePaths(currentHost());
      const { files, bytes } = await pruneCache(paths.cache, new ImageStore(paths.images), {
        all: opts.all === true,
      });
      process.stderr.write(`Freed ${formatBytes(bytes)} (${files} files) from ${paths.cache}\n`);
    });
}
