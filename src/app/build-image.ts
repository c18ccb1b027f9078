import { readFile } from "node:fs/promises";
import type { Paths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { type ComposeResult, composeImage } from "../image/compose/compose-image.js";
import type { ComposeReporter } from "../image/compose/reporter.js";
import { type Arch, DEFAULT_SUITE } from "../image/guest/profile.js";
import { type Lock, parseLock } from "../image/lock.js";

export interface BuildImageRequest {
  /** Unset: the lock's, else `nativeArch`. */
  readonly arch: Arch | undefined;
  readonly nativeArch: Arch;
  readonly suite: string | undefined;
  readonly mirror: string;
  readonly extraPackages: readonly string[] | undefined;
  readonly lockFile: string | undefined;
  readonly checkValidUntil: boolean;
  readonly force: boolean;
  readonly reporter: ComposeReporter;
}

/** `image build`: composes an image, from a lock when given one (whose package set nothing may change). */
export async function buildImage(
  paths: Paths,
  request: BuildImageRequest,
): Promise<{ result: ComposeResult; seconds: number }> {
  const lock = request.lockFile === undefined ? undefined : await readLockFile(request.lockFile);
  if (lock !== undefined) {
    // A lock fixes the package set: flags that would change it contradict it.
    if (request.extraPackages !== undefined) {
      throw new LinuxBuilderError("usage.lock", "--extra-packages cannot be combined with --lock", {
        hint: "The lock fixes the package set; compose without --lock to add packages, then use the new lock.",
      });
    }
    if (request.suite !== undefined && request.suite !== lock.suite) {
      throw new LinuxBuilderError(
        "usage.lock",
        `--suite ${request.suite} contradicts the lock, made for ${lock.suite}`,
      );
    }
  }
  const started = performance.now();
  const result = await composeImage({
    arch: request.arch ?? lock?.arch ?? request.nativeArch,
    suite: lock?.suite ?? request.suite ?? DEFAULT_SUITE,
    mirror: request.mirror,
    extraPackages: request.extraPackages ?? [],
    checkValidUntil: request.checkValidUntil,
    ...(lock === undefined ? {} : { lock }),
    force: request.force,
    cacheDir: paths.cache,
    imagesDir: paths.images,
    reporter: request.reporter,
  });
  return { result, seconds: (performance.now() - started) / 1000 };
}

async function readLockFile(path: string): Promise<Lock> {
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new LinuxBuilderError(
      "lock.read",
      `Cannot read the lock file ${path}: ${error.code ?? error.message}`,
    );
  });
  return parseLock(text, path);
}
