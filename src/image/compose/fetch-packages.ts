import type { ContentCache } from "../cache/content-cache.js";
import { isOmittedFromImage } from "../guest/profile.js";
import type { Lock, LockedPackage } from "../lock.js";
import type { ComposeReporter } from "./reporter.js";
import { runConcurrent } from "./run-concurrent.js";

/**
 * A file (or what stands for one) for the kernel's .deb, and one for each package in the lock's order:
 * none for a package the image leaves out (profile.ts's IMAGE_OMITTED_PACKAGES), which is never fetched.
 */
export interface LockDebs<D> {
  readonly kernel: D;
  readonly packages: readonly (D | undefined)[];
}

/** The cached, verified .deb files of a lock. */
export type FetchedPackages = LockDebs<string>;

/**
 * The .debs of a lock as they arrive: each promise gives its cached file once it is downloaded and
 * its hash matched, so its work can start while the others download; after the first failure,
 * every file still to come rejects with it.
 */
export interface ArrivingPackages extends LockDebs<Promise<string>> {
  /** Every file, once all arrived. */
  readonly all: Promise<FetchedPackages>;
}

export interface FetchPackagesOptions {
  readonly concurrency: number;
  /** Called once, when the first file the cache does not hold starts to download. */
  readonly onFirstDownload?: () => void;
}

/** Whether a composition fetches the package's .deb: not if the image leaves it out. */
export function isFetched(pkg: LockedPackage): boolean {
  return !isOmittedFromImage(pkg.name);
}

/**
 * The .deb of the lock's package at `index`: one a composition fetches (the kernel's is `debs.kernel`).
 * A package the image leaves out has none, and asking for it is the composer's own mistake.
 */
export function debOf<D>(debs: LockDebs<D>, index: number): D {
  const deb = debs.packages[index];
  if (deb === undefined)
    throw new Error(`the composer asked for the .deb of package ${index}, which it does not fetch`);
  return deb;
}

export function debUrl(mirror: string, pkg: LockedPackage): string {
  return `${mirror.replace(/\/+$/, "")}/${pkg.filename}`;
}

/**
 * Fetches and verifies the kernel and the packages of the lock the image is made of, `concurrency` at a
 * time. Those it leaves out are not fetched: the lock records them (the closure's Depends pull them
 * in), but no file of theirs reaches the image (a tenth of trixie's bytes: Perl, ssh's client, PAM).
 */
export function fetchPackages(
  lock: Lock,
  mirror: string,
  cache: ContentCache,
  reporter: ComposeReporter,
  options: FetchPackagesOptions,
): ArrivingPackages {
  const fetched = lock.packages.map(isFetched);
  const all = [lock.kernel, ...lock.packages.filter((_, i) => fetched[i])];
  reporter.downloadStart(
    all.reduce((sum, p) => sum + p.size, 0),
    all.length,
  );
  let downloading = false;
  // Largest first: qemu-user alone is half of a guest's bytes and comes late in name order, where
  // it would download on its own while the other connections sit idle; and the kernel, whose work
  // is the longest, arrives early.
  const order = all.map((_, i) => i).sort((a, b) => (all[b]?.size ?? 0) - (all[a]?.size ?? 0));
  const run = runConcurrent(order, options.concurrency, (i, signal) => {
    const pkg = all[i] as LockedPackage;
    return cache.fetch(
      {
        url: debUrl(mirror, pkg),
        sha256: pkg.sha256,
        size: pkg.size,
        label: `${pkg.name} ${pkg.version}`,
      },
      {
        onBytes: (bytes) => reporter.downloadProgress(bytes),
        onDownload: () => {
          if (downloading) return;
          downloading = true;
          options.onFirstDownload?.();
        },
        signal,
      },
    );
  });
  // Back in the lock's order: the kernel's, then the packages', with a gap for each one not fetched.
  const inLockOrder = <T>(inFetchOrder: readonly T[]): { kernel: T; packages: (T | undefined)[] } => {
    const items: T[] = new Array(all.length);
    order.forEach((i, n) => {
      items[i] = inFetchOrder[n] as T;
    });
    const [kernel, ...rest] = items as [T, ...T[]];
    let next = 0;
    return { kernel, packages: fetched.map((isFetched) => (isFetched ? rest[next++] : undefined)) };
  };
  // The bar ends whichever way the downloads end.
  const files = run.all.finally(() => reporter.downloadEnd()).then((paths) => inLockOrder(paths));
  files.catch(() => undefined);
  return { ...inLockOrder(run.each), all: files };
}
