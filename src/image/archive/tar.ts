import type { Readable } from "node:stream";
import tarStream from "tar-stream";
import { LinuxBuilderError } from "../../errors.js";

/** One entry of a tar archive, as the rest of linux-builder sees it. */
export interface TarEntry {
  /** Normalised: no leading "./" or "/", no trailing "/"; e.g. "usr/bin/sh". */
  path: string;
  type: "file" | "directory" | "symlink" | "hardlink";
  /** Permission bits including setuid, setgid and sticky (0o7777). */
  mode: number;
  /** Numeric owner and group as stored. */
  uid: number;
  gid: number;
  size: number;
  /** Symlink target as stored; for a hard link, the normalised path of the file it links to. */
  linkname?: string;
  /** The whole content of a file. */
  body?: Buffer;
}

/**
 * Reads a tar stream entry by entry (GNU, ustar and pax; tar-stream resolves GNU long names and
 * pax path/linkpath/size records, so entries arrive with their full names).
 *
 * - The root entry ("./" or "/") is skipped: it stands for the directory being extracted into.
 * - Character and block devices and fifos are skipped: Debian's data.tar has none we need, and the
 *   guest gets its device nodes from devtmpfs. Any other type (GNU sparse files, volume headers)
 *   is an error, since skipping it would silently lose content.
 * - Paths with a ".." component, or that are not valid UTF-8, are errors.
 *
 * The generator takes over `input`: it destroys it when the caller stops early or anything fails.
 * The next header is only parsed once the caller asks for the next entry, so a slow consumer holds
 * back decompression rather than buffering the archive.
 *
 * @param source names the archive in error messages, e.g. "data.tar.xz".
 */
export async function* readTar(input: Readable, source = "the tar archive"): AsyncGenerator<TarEntry> {
  const extract = tarStream.extract();
  const forwardError = (error: Error) => extract.destroy(error);
  input.on("error", forwardError);
  input.pipe(extract);
  const entries = extract[Symbol.asyncIterator]();
  try {
    for (;;) {
      let step: Awaited<ReturnType<typeof entries.next>>;
      try {
        step = await entries.next();
      } catch (error) {
        throw describe(error, source);
      }
      if (step.done) return;
      const stream = step.value;
      // Every body is drained, not only files', or the extractor would stall on it.
      let body: Buffer;
      try {
        body = await readAll(stream);
      } catch (error) {
        throw describe(error, source);
      }
      const entry = toEntry(stream.header, body, source);
      if (entry !== undefined) yield entry;
    }
  } finally {
    // forwardError stays attached: a late error from the input must not go unhandled.
    input.unpipe(extract);
    input.destroy();
    // Closes the extractor; rejects only with an error already thrown above.
    await entries.return?.().catch(() => undefined);
  }
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function toEntry(header: tarStream.Header, body: Buffer, source: string): TarEntry | undefined {
  const path = normalisePath(header.name, source);
  if (path === "") return undefined;
  const mode = (header.mode ?? 0) & 0o7777;
  const owner = { uid: header.uid ?? 0, gid: header.gid ?? 0 };
  // tar-stream's typings omit the null it gives for types it does not know.
  const type = header.type as string | null;
  switch (type) {
    case "file":
    case "contiguous-file":
      return { path, type: "file", mode, ...owner, size: body.length, body };
    case "directory":
      return { path, type: "directory", mode, ...owner, size: 0 };
    case "symlink":
      return { path, type: "symlink", mode, ...owner, size: 0, linkname: header.linkname ?? "" };
    case "link": {
      const linkname = normalisePath(header.linkname ?? "", source);
      if (linkname === "") throw malformed(source, `hard link ${path} has no target`);
      return { path, type: "hardlink", mode, ...owner, size: 0, linkname };
    }
    case "character-device":
    case "block-device":
    case "fifo":
      return undefined;
    default:
      throw malformed(source, `entry ${path} has an unsupported type (${type ?? "unknown"})`);
  }
}

function normalisePath(name: string, source: string): string {
  if (name.includes("\uFFFD"))
    throw malformed(source, `entry name ${JSON.stringify(name)} is not valid UTF-8`);
  let path = name;
  for (;;) {
    if (path.startsWith("./")) path = path.slice(2);
    else if (path.startsWith("/")) path = path.slice(1);
    else break;
  }
  while (path.endsWith("/")) path = path.slice(0, -1);
  if (path === ".") path = "";
  if (path.split("/").includes("..")) throw malformed(source, `entry ${name} points outside the archive`);
  return path;
}

/** Errors of our own or from a decompressor pass through; tar-stream's get our wording. */
function describe(error: unknown, source: string): unknown {
  if (error instanceof LinuxBuilderError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  if (/unexpected end of data/i.test(reason)) return malformed(source, "it is truncated", error);
  return malformed(source, reason.charAt(0).toLowerCase() + reason.slice(1), error);
}

function malformed(source: string, reason: string, cause?: unknown): LinuxBuilderError {
  return new LinuxBuilderError("archive.tar", `Cannot read ${source}: ${reason}`, { cause });
}
