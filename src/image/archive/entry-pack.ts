import { z } from "zod";
import type { TarEntry } from "./tar.js";

/**
 * Tar entries in a form that costs nothing to read back: a magic line, the length of a JSON header
 * (each entry without its body), the header, then the file bodies one after another in entry order.
 * What the composer keeps of a .deb in the content cache, so a second compose skips xz and tar.
 */
const MAGIC = Buffer.from("linux-builder entry pack 1\n", "latin1");

const packedEntrySchema = z
  .object({
    path: z.string(),
    type: z.enum(["file", "directory", "symlink", "hardlink"]),
    mode: z.number().int(),
    uid: z.number().int(),
    gid: z.number().int(),
    size: z.number().int().nonnegative(),
    linkname: z.string().optional(),
  })
  .strict();
const packHeaderSchema = z.array(packedEntrySchema);
type PackedEntry = z.infer<typeof packedEntrySchema>;

/** The entries (and their bodies) in one buffer; read back by readEntryPack. */
export function writeEntryPack(entries: readonly TarEntry[]): Buffer {
  const header: PackedEntry[] = entries.map(({ path, type, mode, uid, gid, linkname, body }) => ({
    path,
    type,
    mode,
    uid,
    gid,
    size: type === "file" ? (body?.length ?? 0) : 0,
    ...(linkname === undefined ? {} : { linkname }),
  }));
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const bodies = header.reduce((sum, entry) => sum + entry.size, 0);
  // Its own ArrayBuffer, so a worker can transfer it whole.
  const pack = Buffer.allocUnsafeSlow(MAGIC.length + 4 + json.length + bodies);
  let at = MAGIC.copy(pack, 0);
  at = pack.writeUInt32LE(json.length, at);
  at += json.copy(pack, at);
  for (const entry of entries) if (entry.type === "file" && entry.body) at += entry.body.copy(pack, at);
  return pack;
}

/** The entries of a pack (bodies are views into it), or undefined if it is not one. */
export function readEntryPack(pack: Buffer): TarEntry[] | undefined {
  const start = MAGIC.length + 4;
  if (pack.length < start || !pack.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const jsonEnd = start + pack.readUInt32LE(MAGIC.length);
  if (jsonEnd > pack.length) return undefined;
  let header: PackedEntry[];
  try {
    header = packHeaderSchema.parse(JSON.parse(pack.toString("utf8", start, jsonEnd)));
  } catch {
    return undefined;
  }
  if (jsonEnd + header.reduce((sum, entry) => sum + entry.size, 0) !== pack.length) return undefined;
  let at = jsonEnd;
  return header.map(({ linkname, ...entry }) => {
    const withLink = linkname === undefined ? entry : { ...entry, linkname };
    if (entry.type !== "file") return withLink;
    const body = pack.subarray(at, at + entry.size);
    at += entry.size;
    return { ...withLink, body };
  });
}
