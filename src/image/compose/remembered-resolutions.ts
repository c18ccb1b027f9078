import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { writeFileAtomic } from "../../fs/write-file-atomic.js";
import { type Arch, kernelMetaPackage } from "../guest/profile.js";
import { type Lock, parseLock, serializeLock } from "../lock.js";
import { COMPOSER_FORMAT } from "./image-inputs.js";

/** What a resolution depends on: the signed index's hash and what was asked of it. */
export interface ResolutionQuestion {
  /** SHA256 of the compressed Packages index, as the signed Release lists it. */
  readonly indexSha256: string;
  readonly suite: string;
  readonly arch: Arch;
  readonly roots: readonly string[];
}

/**
 * The same signed index and roots always resolve to the same lock: the cache remembers it under
 * this key, and a warm build skips decompressing and parsing the 60 MB index.
 */
export function resolutionKey(question: ResolutionQuestion): string {
  return createHash("sha256")
    .update(
      JSON.stringify({
        format: COMPOSER_FORMAT,
        index: question.indexSha256,
        suite: question.suite,
        arch: question.arch,
        roots: question.roots,
        kernel: kernelMetaPackage(question.arch),
      }),
    )
    .digest("hex");
}

/** The locks resolved before, in `cacheDir`/resolutions. */
export class RememberedResolutions {
  constructor(private readonly cacheDir: string) {}

  /** The lock remembered for `question`, or undefined (a damaged entry is resolved again and overwritten). */
  async recall(question: ResolutionQuestion): Promise<Lock | undefined> {
    const path = this.#path(question);
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      return parseLock(text, path);
    } catch {
      return undefined;
    }
  }

  async remember(question: ResolutionQuestion, lock: Lock): Promise<void> {
    const path = this.#path(question);
    await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, serializeLock(lock), 0o644);
  }

  #path(question: ResolutionQuestion): string {
    return join(this.cacheDir, "resolutions", `${resolutionKey(question)}.json`);
  }
}
