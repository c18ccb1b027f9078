import { createHash, randomBytes } from "node:crypto";
import { type BigIntStats, createReadStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LinuxBuilderError } from "../../errors.js";
import { httpGet } from "../../net/http-get.js";
import { describeNetworkError } from "../../net/network-error.js";
import { isRacy, sameFile, VerifiedStamps } from "./verified-stamps.js";

/** Something we know the exact bytes of before we fetch it: a .deb from a verified index, or the index itself. */
export interface ExpectedFile {
  readonly url: string;
  /** Tried when `url` answers 404 (a mirror without by-hash paths). */
  readonly fallbackUrl?: string;
  readonly sha256: string;
  readonly size: number;
  /** Names the thing in messages: a package name and version, or an index path. */
  readonly label: string;
}

export interface FetchOptions {
  /** Called with each chunk's length as bytes arrive (progress bars). */
  readonly onBytes?: (bytes: number) => void;
  /** Called when the cache does not hold the file and its download begins (never once `signal` aborted). */
  readonly onDownload?: () => void;
  /** How many times a truncated or interrupted download is tried in all. */
  readonly attempts?: number;
  /** Stops the download (another one failed, or the user pressed Ctrl-C). */
  readonly signal?: AbortSignal;
  /** A connection that delivers nothing for this long is dropped and tried again. */
  readonly idleTimeoutMs?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** How much of a download is gathered before it is written. */
const WRITE_BATCH_BYTES = 1 << 20;

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The name of a derived file's stamp among the downloads' (verified/): a hash of where it is, as the
 * same bytes may be kept for two sources, and two files must not share one stamp.
 */
export function derivedStampKey(sourceSha256: string, entry: string): string {
  return createHash("sha256").update(`derived/${sourceSha256}/${entry}`).digest("hex");
}

/** A download that stopped early or stalled: worth another attempt. */
class InterruptedDownload extends Error {}

/** Errors of the network (HttpNetworkError, an abort), as opposed to the disk's (which carry a syscall). */
function isNetworkError(error: unknown): boolean {
  if (error instanceof InterruptedDownload) return true;
  if (error instanceof LinuxBuilderError) return false;
  // File system errors carry a syscall (ENOSPC from write, EACCES from open): not worth retrying.
  return !(error instanceof Error && "syscall" in error);
}

/**
 * A content-addressed store of files named by their SHA256. A file enters only after its size and hash
 * were checked, by an atomic rename from a temporary file in the same folder, so a crash or a wrong
 * byte never leaves a bad entry. Before each use an entry is checked again: by its stamp (see
 * VerifiedStamps) while stat shows the file unchanged since it was last hashed, by its hash otherwise.
 */
export class ContentCache {
  readonly #stamps: VerifiedStamps;

  constructor(readonly root: string) {
    this.#stamps = new VerifiedStamps(join(root, "verified"));
  }

  pathOf(sha256: string): string {
    return join(this.root, "sha256", sha256.slice(0, 2), sha256);
  }

  /** The path of a verified copy of `file`, downloading it if it is missing or damaged. */
  async fetch(file: ExpectedFile, options: FetchOptions = {}): Promise<string> {
    const path = this.pathOf(file.sha256);
    if (await this.holdsValid(path, file)) {
      options.onBytes?.(file.size);
      return path;
    }
    // Aborted while the cache was checked: no download begins (a caller may start work on one).
    options.signal?.throwIfAborted();
    options.onDownload?.();
    await mkdir(join(this.root, "sha256", file.sha256.slice(0, 2)), { recursive: true });
    await mkdir(join(this.root, "tmp"), { recursive: true });
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const temp = join(this.root, "tmp", `${file.sha256}.${randomBytes(6).toString("hex")}`);
      let received = 0;
      try {
        await this.download(file, temp, options, (bytes) => {
          received += bytes;
          options.onBytes?.(bytes);
        });
        await rename(temp, path);
        // The bytes were hashed as this process wrote them to its own new file: stat vouches for them.
        await this.#stamps.record(file.sha256, await stat(path, { bigint: true }));
        return path;
      } catch (error) {
        await rm(temp, { force: true });
        // Give back what this attempt counted so a retried progress bar does not run past 100%.
        options.onBytes?.(-received);
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        if (!isNetworkError(error) || attempt >= attempts) {
          if (error instanceof LinuxBuilderError) throw error;
          if (!isNetworkError(error)) throw error;
          throw new LinuxBuilderError(
            "cache.download",
            `Cannot download ${file.label} from ${file.url}: ${describeNetworkError(error)} (after ${attempt} attempts)`,
            {
              hint: "Check the network and the mirror (--mirror), then run the command again.",
              cause: error,
            },
          );
        }
      }
    }
  }

  /**
   * A file made from the cached file `sourceSha256` (one program out of a .deb), kept so that a
   * second compose does not read the source again: under derived/SOURCE/, named NAME@SHA256 of its
   * own bytes, which are checked at each read: by its stamp while stat shows it unchanged since it
   * was written or last hashed (the packs are larger than the .debs), by its hash otherwise.
   * Undefined when missing or damaged.
   */
  async readDerived(sourceSha256: string, name: string): Promise<Buffer | undefined> {
    const folder = join(this.root, "derived", sourceSha256);
    const entry = (await readdir(folder).catch(() => [] as string[])).find((file) =>
      file.startsWith(`${name}@`),
    );
    if (entry === undefined) return undefined;
    const path = join(folder, entry);
    const stampKey = derivedStampKey(sourceSha256, entry);
    const handle = await open(path, "r").catch(() => undefined);
    if (handle === undefined) return undefined;
    try {
      const before = await handle.stat({ bigint: true });
      const data = await handle.readFile();
      const holds = await this.#holds(
        stampKey,
        before,
        entry.slice(name.length + 1),
        async () => createHash("sha256").update(data).digest("hex"),
        () => handle.stat({ bigint: true }),
      );
      if (holds) return data;
    } finally {
      await handle.close();
    }
    await this.#stamps.forget(stampKey);
    await rm(path, { force: true });
    return undefined;
  }

  /** Keeps `data`, made from the cached file `sourceSha256`, for readDerived; atomically. */
  async storeDerived(sourceSha256: string, name: string, data: Buffer): Promise<void> {
    const folder = join(this.root, "derived", sourceSha256);
    await mkdir(folder, { recursive: true });
    await mkdir(join(this.root, "tmp"), { recursive: true });
    const temp = join(this.root, "tmp", `${sourceSha256}.${randomBytes(6).toString("hex")}`);
    await writeFile(temp, data, { mode: 0o644 });
    const entry = `${name}@${createHash("sha256").update(data).digest("hex")}`;
    await rename(temp, join(folder, entry));
    // Hashed as this process wrote them to its own new file: stat vouches for them (as a download).
    await this.#stamps.record(
      derivedStampKey(sourceSha256, entry),
      await stat(join(folder, entry), { bigint: true }),
    );
  }

  /**
   * Whether a file (stat `before`) still holds the bytes of `sha256`: on its stamp `stampKey` while
   * stat shows it unchanged, else by `hash()`; a file that hashed right is stamped, unless it changed
   * while being hashed or too recently for its times to tell (racily clean).
   */
  async #holds(
    stampKey: string,
    before: BigIntStats,
    sha256: string,
    hash: () => Promise<string>,
    statNow: () => Promise<BigIntStats>,
  ): Promise<boolean> {
    if (await this.#stamps.vouchFor(stampKey, before)) return true;
    const hashedAt = Date.now();
    if ((await hash()) !== sha256) return false;
    const after = await statNow();
    if (sameFile(before, after) && !isRacy(after, hashedAt)) await this.#stamps.record(stampKey, after);
    return true;
  }

  private async holdsValid(path: string, file: ExpectedFile): Promise<boolean> {
    const before = await stat(path, { bigint: true }).catch(() => undefined);
    if (before === undefined) return false;
    const holds =
      before.size === BigInt(file.size) &&
      (await this.#holds(
        file.sha256,
        before,
        file.sha256,
        () => sha256OfFile(path),
        () => stat(path, { bigint: true }),
      ));
    if (holds) return true;
    // Damaged on disk (or an older bug): drop it and fetch again.
    await this.#stamps.forget(file.sha256);
    await rm(path, { force: true });
    return false;
  }

  private async download(
    file: ExpectedFile,
    temp: string,
    options: FetchOptions,
    onBytes: (bytes: number) => void,
  ): Promise<void> {
    // One controller per attempt: it aborts on the caller's signal and when the connection stalls.
    options.signal?.throwIfAborted();
    const controller = new AbortController();
    const abort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", abort, { once: true });
    const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    // Called for every chunk that arrives: the same timer, pushed back.
    const touch = () => {
      if (idle !== undefined) {
        idle.refresh();
        return;
      }
      idle = setTimeout(() => {
        stalled = true;
        controller.abort(new InterruptedDownload(`no data for ${idleMs / 1000} s`));
      }, idleMs);
    };
    try {
      touch();
      let response = await httpGet(file.url, controller.signal);
      if (response.status === 404 && file.fallbackUrl !== undefined) {
        response.discard();
        response = await httpGet(file.fallbackUrl, controller.signal);
      }
      if (response.status < 200 || response.status > 299) {
        response.discard();
        const message = `Cannot download ${file.label} from ${response.url}: HTTP ${response.status}`;
        // Server errors may pass; a 404 will not.
        if (response.status >= 500) throw new InterruptedDownload(message);
        throw new LinuxBuilderError("net.http-status", message, {
          hint: "The mirror may be out of date: try again later, or another --mirror.",
        });
      }
      const hash = createHash("sha256");
      const handle = await open(temp, "wx", 0o644).catch((error: unknown) => {
        // The body is not read then: let its connection go.
        response.discard();
        throw error;
      });
      let size = 0;
      // The chunks are written in batches: one write per chunk (16–64 KiB from the socket) was a trip to
      // the thread pool each, thousands for a guest's packages, on the main thread that hashes them.
      let batch: Buffer[] = [];
      let batched = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const chunks = batch;
        batch = [];
        batched = 0;
        await handle.writev(chunks);
      };
      try {
        for await (const bytes of response.body) {
          touch();
          size += bytes.length;
          if (size > file.size) {
            throw new LinuxBuilderError(
              "cache.size-mismatch",
              `Cannot accept ${file.label} from ${file.url}: it is larger than the ${file.size} bytes the signed index promises`,
              { hint: "The mirror serves a different file than its index describes; try another --mirror." },
            );
          }
          hash.update(bytes);
          batch.push(bytes);
          batched += bytes.length;
          if (batched >= WRITE_BATCH_BYTES) await flush();
          onBytes(bytes.length);
        }
        await flush();
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (size < file.size) {
        throw new InterruptedDownload(`the download stopped after ${size} of ${file.size} bytes`);
      }
      const actual = hash.digest("hex");
      if (actual !== file.sha256) {
        throw new LinuxBuilderError(
          "cache.hash-mismatch",
          `Cannot accept ${file.label} from ${file.url}: its SHA256 is ${actual}, the signed index says ${file.sha256}`,
          { hint: "The mirror or something between it and you altered the file; try another --mirror." },
        );
      }
    } catch (error) {
      if (stalled) throw new InterruptedDownload(`no data for ${idleMs / 1000} s`);
      throw error;
    } finally {
      clearTimeout(idle);
      options.signal?.removeEventListener("abort", abort);
    }
  }
}
