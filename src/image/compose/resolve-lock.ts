import { readFile } from "node:fs/promises";
import { LinuxBuilderError } from "../../errors.js";
import { fetchBytes } from "../../net/fetch-bytes.js";
import type { ContentCache } from "../cache/content-cache.js";
import { verifyInRelease } from "../debian/inrelease.js";
import { loadKeyring } from "../debian/keyring.js";
import { checkReleaseMatches, verifyIndexHash } from "../debian/release.js";
import { ScannedPackageIndex } from "../debian/scanned-packages-index.js";
import { type Arch, GUEST_ROOT_PACKAGES } from "../guest/profile.js";
import type { Lock } from "../lock.js";
import { lockFromIndex } from "./lock-from-index.js";
import { decompressPackagesIndex, packagesIndexSource } from "./packages-index-source.js";
import { RememberedResolutions } from "./remembered-resolutions.js";
import { type ComposeReporter, sayWarning } from "./reporter.js";

/** What a lock is resolved from: the mirror's signed index of one suite and architecture, and our roots. */
export interface LockResolutionOptions {
  readonly arch: Arch;
  readonly suite: string;
  readonly mirror: string;
  readonly extraPackages: readonly string[];
  /** apt's Check-Valid-Until: refuse a Release whose Valid-Until has passed. */
  readonly checkValidUntil: boolean;
  /** Compose exactly this package set instead of resolving it from the mirror's current index. */
  readonly lock?: Lock;
  readonly cacheDir: string;
  /** Extra OpenPGP keyrings to trust (other mirrors, tests). */
  readonly keyringFiles?: readonly string[];
  /** The time signatures and Valid-Until are checked at; defaults to now. */
  readonly now?: Date;
}

/** The lock to compose: the one given (made for this architecture), or one resolved from the mirror. */
export async function lockToCompose(
  options: LockResolutionOptions,
  cache: ContentCache,
  reporter: ComposeReporter,
): Promise<{ lock: Lock; signer?: string }> {
  const given = options.lock;
  if (given === undefined) return resolveLock(options, cache, reporter);
  if (given.arch !== options.arch) {
    throw new LinuxBuilderError(
      "lock.arch",
      `Cannot compose a ${options.arch} image from a lock for ${given.arch}`,
      { hint: `Pass --arch ${given.arch}, or a lock made for ${options.arch}.` },
    );
  }
  const missing = rootsMissingFrom(given);
  if (missing.length > 0) {
    sayWarning(
      reporter,
      `The lock given lacks ${missing.join(", ")}, which this linux-builder puts in the guest (an older one made the lock). ${missing.map(withoutIt).join(" ")} A lock resolved anew (without --lock) has ${missing.length === 1 ? "it" : "them"}.`,
    );
  }
  return { lock: given };
}

/** The guest's roots (profile.ts) a lock does not pin: a lock made before they were added. */
export function rootsMissingFrom(lock: Lock): string[] {
  const pinned = new Set(lock.packages.map((pkg) => pkg.name));
  return GUEST_ROOT_PACKAGES.filter((name) => !pinned.has(name));
}

/** What the guest does without the root `name`, for the warning above. */
function withoutIt(name: string): string {
  switch (name) {
    case "netcat-openbsd":
      return "Without netcat-openbsd the builder works, slower: each ssh-ng session starts a second nix-daemon.";
    case "qemu-user":
      return "Without qemu-user the builder works, without builds for the other Linux system.";
    case "ca-certificates":
      return "Without ca-certificates the builder works, without HTTPS downloads in the guest.";
    default:
      return `Without ${name} the guest may not work.`;
  }
}

/** Fetches and verifies the signed index, then resolves the guest's closure and kernel into a lock. */
export async function resolveLock(
  options: LockResolutionOptions,
  cache: ContentCache,
  reporter: ComposeReporter,
): Promise<{ lock: Lock; signer: string }> {
  const { arch, suite, mirror } = options;
  const base = `${mirror.replace(/\/+$/, "")}/dists/${suite}`;
  reporter.step(`Verifying ${base}/InRelease`);
  // Reading the keys is CPU work (OpenPGP checks their self-signatures): it overlaps the download.
  // Both settle before either's error is thrown: a broken keyring is reported first, whatever the
  // network does, as when the keys were read before the download.
  const [fetched, loaded] = await Promise.allSettled([
    fetchBytes(`${base}/InRelease`, `the ${suite} InRelease file`),
    loadKeyring(options.keyringFiles ? [...options.keyringFiles] : undefined),
  ]);
  if (loaded.status === "rejected") throw loaded.reason;
  if (fetched.status === "rejected") throw fetched.reason;
  const [inRelease, keys] = [fetched.value, loaded.value];
  const verified = await verifyInRelease(inRelease.toString("utf8"), keys, {
    now: options.now ?? new Date(),
    checkValidUntil: options.checkValidUntil,
    source: `${base}/InRelease`,
  });
  const release = verified.release;
  checkReleaseMatches(release, suite, arch, `${base}/InRelease`);
  const signer = verified.signer.userId;

  const source = packagesIndexSource(release, base, arch);
  const roots = [...GUEST_ROOT_PACKAGES, ...options.extraPackages];
  const question = { indexSha256: source.entry.sha256, suite, arch, roots };
  const remembered = new RememberedResolutions(options.cacheDir);
  const known = await remembered.recall(question);
  if (known !== undefined) return { lock: known, signer };

  reporter.step(`Reading ${suite}/${source.compressedPath}`);
  const indexFile = await cache.fetch({
    url: source.url,
    ...(source.fallbackUrl === undefined ? {} : { fallbackUrl: source.fallbackUrl }),
    sha256: source.entry.sha256,
    size: source.entry.size,
    label: `the ${suite} ${arch} package index`,
  });
  const text = await decompressPackagesIndex(source, await readFile(indexFile));
  if (release.sha256.has(source.plainPath)) verifyIndexHash(release, source.plainPath, text);
  // Only the stanzas the resolution reaches are parsed: a few hundred of ~69,000.
  const index = new ScannedPackageIndex(text, { arch, label: `${suite}/main ${arch}` });

  reporter.step(`Resolving ${roots.length} packages and their dependencies`);
  const lock = lockFromIndex(index, roots, suite, arch);
  await remembered.remember(question, lock);
  return { lock, signer };
}
