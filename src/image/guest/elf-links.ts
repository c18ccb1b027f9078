/**
 * The shared libraries an ELF file asks the dynamic loader for. The composer leaves packages and
 * paths out of the image (see profile.ts); this is how it proves that no program left in the image
 * lost a library it links.
 */

export interface DynamicLinks {
  /** DT_NEEDED: library names, e.g. libc.so.6. */
  readonly needed: readonly string[];
  /** DT_RUNPATH and DT_RPATH directories, as written ($ORIGIN unexpanded). */
  readonly runpath: readonly string[];
}

const SHT_DYNAMIC = 6;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/**
 * Reads the .dynamic section of a 64-bit little-endian ELF file (amd64, arm64) through its section
 * headers, which Debian's stripped binaries keep. Undefined for anything else: data, scripts, static
 * binaries, kernel modules, a truncated or odd file.
 */
export function dynamicLinks(file: Buffer): DynamicLinks | undefined {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46 || file[4] !== 2 || file[5] !== 1) {
    return undefined;
  }
  const sectionTable = Number(file.readBigUInt64LE(0x28));
  const entrySize = file.readUInt16LE(0x3a);
  const count = file.readUInt16LE(0x3c);
  if (sectionTable === 0 || entrySize < 64 || sectionTable + count * entrySize > file.length)
    return undefined;
  const section = (i: number) => {
    const at = sectionTable + i * entrySize;
    return {
      type: file.readUInt32LE(at + 4),
      offset: Number(file.readBigUInt64LE(at + 0x18)),
      size: Number(file.readBigUInt64LE(at + 0x20)),
      link: file.readUInt32LE(at + 0x28),
    };
  };
  for (let i = 0; i < count; i++) {
    const dynamic = section(i);
    if (dynamic.type !== SHT_DYNAMIC) continue;
    if (dynamic.link >= count || dynamic.offset + dynamic.size > file.length) return undefined;
    const strings = section(dynamic.link);
    if (strings.offset + strings.size > file.length) return undefined;
    const string = (offset: number) => {
      const start = strings.offset + offset;
      const end = file.indexOf(0, start);
      return start < strings.offset + strings.size && end !== -1
        ? file.toString("latin1", start, end)
        : undefined;
    };
    const needed: string[] = [];
    const runpath: string[] = [];
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
      const tag = Number(file.readBigInt64LE(at));
      if (tag === DT_NULL) break;
      if (tag !== DT_NEEDED && tag !== DT_RPATH && tag !== DT_RUNPATH) continue;
      const value = string(Number(file.readBigUInt64LE(at + 8)));
      if (value === undefined) return undefined;
      if (tag === DT_NEEDED) needed.push(value);
      else runpath.push(...value.split(":").filter((dir) => dir !== ""));
    }
    return { needed, runpath };
  }
  return undefined;
}

/** Debian's multiarch triplet for the architecture: where its libraries live. */
export const MULTIARCH_TRIPLET = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" } as const;

/**
 * The directories the dynamic loader searches for `path`'s libraries, as image paths (no leading
 * slash): its RUNPATH ($ORIGIN or ${ORIGIN} is its own directory), then Debian's multiarch and
 * default directories (/lib is a link into /usr on a merged-/usr image). Not /usr/local: the loader
 * finds those through ld.so.cache, which no one makes in the image.
 */
export function librarySearchPath(path: string, links: DynamicLinks, triplet: string): string[] {
  const origin = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  const own = links.runpath.map((dir) =>
    dir.replace(/\$(ORIGIN|\{ORIGIN\})/g, `/${origin}`).replace(/^\/+/, ""),
  );
  return [...own, `usr/lib/${triplet}`, "usr/lib"];
}

/**
 * The links that do not resolve in an image: "usr/bin/curl: libcurl.so.4", one per missing library
 * of each ELF file. `exists` answers whether an image path resolves to a file (following links).
 */
export function unresolvedLinks(
  files: Iterable<readonly [string, Buffer]>,
  exists: (path: string) => boolean,
  triplet: string,
): string[] {
  const missing: string[] = [];
  for (const [path, data] of files) {
    const links = dynamicLinks(data);
    if (links === undefined) continue;
    const search = librarySearchPath(path, links, triplet);
    for (const library of links.needed) {
      // A name with a slash is a path, taken as it is.
      const found = library.includes("/")
        ? exists(library.replace(/^\/+/, ""))
        : search.some((dir) => exists(dir === "" ? library : `${dir}/${library}`));
      if (!found) missing.push(`${path}: ${library}`);
    }
  }
  return missing.sort();
}
