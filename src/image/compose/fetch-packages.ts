import type { ContentCache } from "../cache/content-cache.js";
import type { Lock, LockedPackage } from "../lock.js";
import { mapConcurrent } from "./map-concurrent.js";
import type { ComposeReporter } from "./reporter.js";

/** The cached, verified .deb files of a lock: the kernel's, and one for each package in the lock's order. */
export interface FetchedPackages {
  readonly kernel: string;
  readonly packages: readonly string[];
}

export function debUrl(mirror: string, pkg: LockedPackage): string {
  return `${mirror.replace(/\/+$/, "")}/${pkg.filename}`;
}

/** Fetches and verifies every package of the lock, also those the image leaves out, `concurrency` at a time. */
export async function fetchPackages(
  lock: Lock,
  mirror: string,
  cache: ContentCache,
  reporter: ComposeReporter,
  concurrency: number,
): Promise<FetchedPackages> {
  const all = [lock.kernel, ...lock.packages];
  reporter.downloadStart(
    all.reduce((sum, p) => sum + p.size, 0),
    all.length,
  );
  // Largest first: qemu-user alone is half of a guest's bytes and comes late in name order, where
  // it would download on its own while the other connections sit idle.
  const order = all.map((_, i) => i).sort((a, b) => (all[b]?.size ?? 0) - (all[a]?.size ?? 0));
  const fetched = await mapConcurrent(order, concurrency, (i, signal) => {
    const pkg = all[i] as LockedPackage;
    return cache.fetch(
      {
        url: debUrl(mirror, pkg),
        sha256: pkg.sha256,
        size: pkg.size,
        label: `${pkg.name} ${pkg.version}`,
      },
      { onBytes: (bytes) => reporter.downloadProgress(bytes), signal },
    );
  });
  reporter.downloadEnd();
  const files: string[] = new Array(all.length);
  order.forEach((i, n) => {
    files[i] = fetched[n] as string;
  });
  const [kernel, ...packages] = files as [string, ...string[]];
  return { kernel, packages };
}
