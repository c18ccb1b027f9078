import { Readable } from "node:stream";
import { LinuxBuilderError } from "../../errors.js";
import { readFileOr } from "../../fs/read-file-or.js";
import { type ArMember, parseArIndex } from "./ar.js";
import { decompressorFor } from "./decompress.js";
import { readTar, type TarEntry } from "./tar.js";

/** Streams the entries of a .deb's data.tar (files, directories, links), with normalised paths. */
export async function* readDebData(debPath: string): AsyncGenerator<TarEntry> {
  const deb = await openDeb(debPath);
  const member = deb.member("data.tar");
  try {
    yield* memberEntries(deb.buf, member);
  } catch (error) {
    throw inDeb(debPath, error);
  }
}

/** The regular files at `paths` in a .deb's data, read in one pass that stops once it has them all. */
export async function readDebFiles(
  debPath: string,
  paths: readonly string[],
): Promise<Record<string, Buffer>> {
  const found: Record<string, Buffer> = {};
  let left = paths.length;
  for await (const entry of readDebData(debPath)) {
    if (entry.type === "file" && paths.includes(entry.path) && found[entry.path] === undefined) {
      found[entry.path] = entry.body ?? Buffer.alloc(0);
      left--;
    }
    if (left === 0) break;
  }
  return found;
}

/** The text of the package's control file (`./control` in control.tar). */
export async function readDebControl(debPath: string): Promise<string> {
  const deb = await openDeb(debPath);
  const member = deb.member("control.tar");
  try {
    // Returning from the loop early stops decompressing the rest.
    for await (const entry of memberEntries(deb.buf, member)) {
      if (entry.path === "control" && entry.type === "file")
        return (entry.body ?? Buffer.alloc(0)).toString("utf8");
    }
  } catch (error) {
    throw inDeb(debPath, error);
  }
  throw invalid(debPath, `member ${member.name} has no control file`);
}

interface OpenDeb {
  buf: Buffer;
  member(base: "control.tar" | "data.tar"): ArMember;
}

const COMPRESSIONS = ["", ".xz", ".zst", ".gz"];

/**
 * Reads the whole .deb (they are small) and checks its outer format as dpkg does: an ar archive whose
 * first member is debian-binary with format version 2.x (dpkg accepts any minor version), then
 * control.tar and data.tar, each uncompressed or compressed.
 */
async function openDeb(debPath: string): Promise<OpenDeb> {
  const buf = await readFileOr(
    debPath,
    (cause) =>
      new LinuxBuilderError(
        "archive.deb",
        `Cannot read the .deb archive ${debPath}: ${(cause as Error).message}`,
        { cause },
      ),
  );
  const members = parseArIndex(buf, `the .deb archive ${debPath}`);
  const first = members[0];
  if (first?.name !== "debian-binary") {
    throw invalid(debPath, "it does not start with a debian-binary member, so it is not a Debian package");
  }
  const version = buf.toString("latin1", first.offset, first.offset + first.size);
  if (!/^2\.\d+\n/.test(version)) {
    throw invalid(debPath, `it has the unsupported format version ${JSON.stringify(version.trimEnd())}`);
  }
  return {
    buf,
    member(base) {
      const found = members.filter((m) => COMPRESSIONS.some((suffix) => m.name === `${base}${suffix}`));
      const names = members.map((m) => m.name).join(", ");
      if (found.length === 0) throw invalid(debPath, `it has no ${base} member (members: ${names})`);
      if (found.length > 1) throw invalid(debPath, `it has more than one ${base} member (members: ${names})`);
      return found[0] as ArMember;
    },
  };
}

function memberEntries(buf: Buffer, member: ArMember): AsyncGenerator<TarEntry> {
  const data = buf.subarray(member.offset, member.offset + member.size);
  // Moderate chunks, so decompression proceeds as the consumer reads rather than all at once.
  const chunks = function* () {
    for (let at = 0; at < data.length; at += 1 << 16) yield data.subarray(at, at + (1 << 16));
  };
  return readTar(decompressorFor(member.name)(Readable.from(chunks())), `member ${member.name}`);
}

/** Prefixes an inner error with the .deb it came from, keeping its code and hint. */
function inDeb(debPath: string, error: unknown): unknown {
  if (!(error instanceof LinuxBuilderError)) return error;
  if (error.message.startsWith(`Cannot read the .deb archive ${debPath}`)) return error;
  const detail = error.message.charAt(0).toLowerCase() + error.message.slice(1);
  return new LinuxBuilderError(error.code, `Cannot read the .deb archive ${debPath}: ${detail}`, {
    cause: error,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
  });
}

function invalid(debPath: string, reason: string): LinuxBuilderError {
  return new LinuxBuilderError("archive.deb", `Cannot read the .deb archive ${debPath}: ${reason}`);
}
