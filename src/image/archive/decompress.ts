import { PassThrough, Readable, Transform, type TransformCallback } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";
import { Decompress as ZstdDecoder } from "fzstd";
import xzDecompress from "xz-decompress";
import { LinuxBuilderError } from "../../errors.js";

/** Turns a compressed byte stream into the decompressed one. */
export type Decompressor = (input: Readable) => Readable;

interface Codec {
  label: string;
  open: (input: Readable) => Readable;
  /** The library's error for input that stopped early, as opposed to bad data. */
  isTruncation: (error: unknown) => boolean;
  /** A readable reason for any other error. */
  reason?: (error: Error) => string;
}

// A webpack bundle, so Node sees no named exports: take the class off the CommonJS default export.
const { XzReadableStream } = xzDecompress;

const CODECS: Record<string, Codec> = {
  ".xz": { label: "xz", open: openXz, isTruncation: isXzTruncation, reason: xzReason },
  ".zst": {
    label: "zstd",
    open: (input) => input.pipe(new ZstdTransform()),
    // fzstd's ZstdErrorCode.UnexpectedEOF.
    isTruncation: (error) => (error as { code?: unknown }).code === 5,
  },
  ".gz": {
    label: "gzip",
    open: (input) => input.pipe(createGunzip()),
    isTruncation: (error) => (error as { code?: unknown }).code === "Z_BUF_ERROR",
  },
};

// Compressions dpkg or Debian mirrors have used that we do not read: named so the error is clear.
const UNSUPPORTED = [".bz2", ".lzma", ".lz", ".lz4", ".zstd", ".Z"];

/**
 * Picks the decompressor for a file or archive member by its name's suffix: `.xz`, `.zst` and `.gz`
 * are decompressed; a name with none of the compression suffixes (`data.tar`, `foo.ko`) is passed
 * through as is; a compression we do not support (`.bz2`, `.lzma`, ...) is an error naming the member.
 *
 * The returned stream fails with a LinuxBuilderError ("archive.compression") that says whether the
 * data was truncated or corrupt; destroying it also stops the decompressor and its input.
 */
export function decompressorFor(memberName: string): Decompressor {
  const suffix = /\.[^./]+$/.exec(memberName)?.[0] ?? "";
  const codec = CODECS[suffix];
  if (codec === undefined) {
    if (UNSUPPORTED.includes(suffix)) {
      throw new LinuxBuilderError(
        "archive.compression",
        `Cannot decompress ${memberName}: the ${suffix.slice(1)} compression is not supported`,
        { hint: "linux-builder reads xz, zstd and gzip; packages from the Debian archive use xz." },
      );
    }
    return (input) => input;
  }
  return (input) =>
    withErrors(codec.open(input), input, (error) => {
      if (error instanceof LinuxBuilderError) return error;
      const reason = !(error instanceof Error) ? String(error) : (codec.reason?.(error) ?? error.message);
      const what = codec.isTruncation(error)
        ? `the ${codec.label} data is truncated`
        : `the ${codec.label} data is corrupt (${reason})`;
      return new LinuxBuilderError("archive.compression", `Cannot decompress ${memberName}: ${what}`, {
        cause: error,
      });
    });
}

/** Decompresses a whole buffer, choosing the format by `name` as decompressorFor does. */
export async function decompressBuffer(name: string, buf: Buffer): Promise<Buffer> {
  const output = decompressorFor(name)(Readable.from([buf]));
  const chunks: Buffer[] = [];
  for await (const chunk of output) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * xz-decompress serialises all its streams through one global lock, taken when the stream is created
 * and released when it ends or is cancelled: an abandoned stream would block every later one, so
 * withErrors destroys it (which cancels it) whenever the consumer stops.
 */
function openXz(input: Readable): Readable {
  const compressed = Readable.toWeb(input) as unknown as ReadableStream<Uint8Array>;
  const decompressed = new XzReadableStream(compressed) as unknown as WebReadableStream<Uint8Array>;
  return Readable.fromWeb(decompressed);
}

/**
 * xz-decompress reports xz-embedded's return code in its message: 8 is XZ_BUF_ERROR, "no progress
 * possible", which is how the end of input shows mid-stream. A TypeError comes from its reading a
 * null chunk when the input ends before any data.
 */
function isXzTruncation(error: unknown): boolean {
  return error instanceof TypeError || /error code 8$/.test(error instanceof Error ? error.message : "");
}

// xz-embedded's return codes (xz.h), which xz-decompress puts in its messages as a bare number.
const XZ_ERRORS: Record<string, string> = {
  "2": "unsupported integrity check",
  "3": "out of memory",
  "4": "dictionary larger than the memory limit",
  "5": "not in the xz format",
  "6": "unsupported xz options",
  "7": "corrupt compressed data",
};

function xzReason(error: Error): string {
  const code = /error code (\d+)$/.exec(error.message)?.[1];
  return (code !== undefined ? XZ_ERRORS[code] : undefined) ?? error.message;
}

/** fzstd's streaming decoder as a Node Transform. */
class ZstdTransform extends Transform {
  private readonly decoder = new ZstdDecoder((chunk) => {
    // fzstd may reuse its buffers, so copy before handing the chunk on.
    this.push(Buffer.from(chunk));
  });

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // The final push is what reports a stream that stops mid-frame.
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}

/**
 * Re-emits `source` through a PassThrough whose errors are described by `describe`, and ties the
 * lifetimes together: when the consumer destroys the output, the decompressor and its input go too.
 */
function withErrors(
  source: Readable,
  input: Readable,
  describe: (error: unknown) => LinuxBuilderError,
): Readable {
  const output = new PassThrough();
  let failed = false;
  const fail = (error: unknown) => {
    if (failed) return;
    failed = true;
    output.destroy(error instanceof Error ? error : new Error(String(error)));
  };
  // An input error (say, a failed read) is the input's to describe, so it passes through unchanged;
  // pipe() would not forward it at all.
  input.on("error", fail);
  source.on("error", (error) => fail(describe(error)));
  output.once("close", () => {
    source.destroy();
    input.destroy();
  });
  source.pipe(output);
  return output;
}
