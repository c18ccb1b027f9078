import { LinuxBuilderError } from "../../errors.js";

/** One file-system entry of a cpio archive. */
export interface CpioEntry {
  /** Relative, without a leading slash: "usr/bin/sh". */
  path: string;
  type: "file" | "directory" | "symlink" | "hardlink" | "chardev";
  /** Permission bits (0o7777). For a hard link, the linked file's mode is written instead. */
  mode: number;
  /** Contents of a "file". */
  data?: Buffer;
  /** A symlink's target, or for a "hardlink" the path of the file it is another name of. */
  target?: string;
  /** Device number of a "chardev". */
  major?: number;
  minor?: number;
}

const MAGIC = "070701";
const CRC_MAGIC = "070702";
const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";
// The kernel skips names longer than PATH_MAX (with their NUL) and symlink(2) refuses longer targets.
const PATH_MAX = 4096;
const MAX_FIELD = 0xffffffff;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/**
 * Writes a cpio "newc" (070701) archive as the kernel's initramfs unpacker reads it, reproducibly:
 * the same entries in any order give the same bytes.
 *
 * - Order: paths compared component by component, bytewise ("a" < "a/b" < "a-b"), so every directory
 *   comes right before its contents, as the unpacker needs (it does not create missing parents).
 *   Parents missing from `entries` are not added: a second archive may rely on the first's.
 * - mtime, uid, gid and device are 0; inodes are numbered from 1 in output order; directories have
 *   nlink 2, other entries 1.
 * - Hard links: every name of one file shares its inode, mode and nlink (the number of names). The
 *   data goes with the first name in output order, the others have size 0, as the kernel's own
 *   gen_init_cpio writes them. The kernel (init/initramfs.c) creates the first name from its data and
 *   link()s each later name with the same (dev, ino, mode) to it; GNU `cpio -i` writes the first and
 *   links the size-0 names it deferred once the archive ends.
 * - Ends with the TRAILER!!! entry; the result is 4-byte aligned, so another archive can follow.
 *
 * Duplicate paths, a hard link to a path that is not a file in `entries`, and names or targets too
 * long for the kernel are errors (code "archive.cpio").
 */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) {
    validate(entry);
    if (byPath.has(entry.path)) throw cannotWrite(`${entry.path} appears twice`);
    byPath.set(entry.path, entry);
  }

  // Every name of a hard-linked file, keyed by the file's own path.
  const linkGroups = new Map<string, string[]>();
  for (const entry of entries) {
    if (entry.type !== "hardlink") continue;
    const file = resolveHardlink(entry, byPath);
    const group = linkGroups.get(file.path) ?? [file.path];
    group.push(entry.path);
    linkGroups.set(file.path, group);
  }
  const fileOf = new Map<string, CpioEntry>();
  for (const [filePath, names] of linkGroups) {
    for (const name of names) fileOf.set(name, byPath.get(filePath) as CpioEntry);
  }

  const sorted = entries
    .map((entry) => ({ entry, key: Buffer.from(entry.path.replaceAll("/", "\0"), "utf8") }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ entry }) => entry);

  // Each record's header fields and data, in output order; then one buffer of their exact size.
  const records: CpioRecord[] = [];
  const inodeOfFile = new Map<CpioEntry, number>();
  let nextInode = 1;
  for (const entry of sorted) {
    const linkedFile = fileOf.get(entry.path);
    if (linkedFile !== undefined) {
      const seen = inodeOfFile.get(linkedFile);
      const ino = seen ?? nextInode++;
      inodeOfFile.set(linkedFile, ino);
      const nlink = (linkGroups.get(linkedFile.path) as string[]).length;
      const data = seen === undefined ? linkedFile.data : undefined;
      records.push(record(entry.path, { ino, mode: S_IFREG | linkedFile.mode, nlink }, data));
      continue;
    }
    const ino = nextInode++;
    switch (entry.type) {
      case "file":
        records.push(record(entry.path, { ino, mode: S_IFREG | entry.mode, nlink: 1 }, entry.data));
        break;
      case "directory":
        records.push(record(entry.path, { ino, mode: S_IFDIR | entry.mode, nlink: 2 }));
        break;
      case "symlink":
        records.push(
          record(entry.path, { ino, mode: S_IFLNK | entry.mode, nlink: 1 }, Buffer.from(entry.target ?? "")),
        );
        break;
      case "chardev":
        records.push(
          record(entry.path, {
            ino,
            mode: S_IFCHR | entry.mode,
            nlink: 1,
            rdevMajor: entry.major ?? 0,
            rdevMinor: entry.minor ?? 0,
          }),
        );
        break;
      case "hardlink":
        throw new Error("unreachable: hard links are resolved above");
    }
  }
  records.push(record(TRAILER, { ino: 0, mode: 0, nlink: 1 }));

  // Zero-filled, so the padding needs no writing.
  const archive = Buffer.alloc(records.reduce((sum, r) => sum + r.length, 0));
  let at = 0;
  for (const { name, fields, data, length } of records) {
    const values = [
      fields.ino,
      fields.mode,
      0, // uid
      0, // gid
      fields.nlink,
      0, // mtime
      data?.length ?? 0,
      0, // devmajor
      0, // devminor
      fields.rdevMajor ?? 0,
      fields.rdevMinor ?? 0,
      name.length,
      0, // check, only used by the 070702 format
    ];
    archive.write(MAGIC, at, "latin1");
    for (const [i, value] of values.entries())
      archive.write(value.toString(16).toUpperCase().padStart(8, "0"), at + 6 + i * 8, "latin1");
    name.copy(archive, at + HEADER_SIZE);
    data?.copy(archive, at + align4(HEADER_SIZE + name.length));
    at += length;
  }
  return archive;
}

interface HeaderFields {
  ino: number;
  mode: number;
  nlink: number;
  rdevMajor?: number;
  rdevMinor?: number;
}

/** One entry to write: its NUL-terminated name, header fields and data, and its length in the archive. */
interface CpioRecord {
  name: Buffer;
  fields: HeaderFields;
  data: Buffer | undefined;
  length: number;
}

/** Header, NUL-terminated name padded so header+name is 4-aligned, then data padded to 4. */
function record(path: string, fields: HeaderFields, data?: Buffer): CpioRecord {
  const name = Buffer.from(`${path}\0`, "utf8");
  if (data !== undefined && data.length > MAX_FIELD)
    throw cannotWrite(`${path} is larger than the 4 GiB cpio can hold`);
  return { name, fields, data, length: align4(HEADER_SIZE + name.length) + align4(data?.length ?? 0) };
}

function validate(entry: CpioEntry): void {
  const { path } = entry;
  if (
    path === "" ||
    path.startsWith("/") ||
    path.endsWith("/") ||
    path.includes("\0") ||
    path.split("/").some((part) => part === "" || part === "." || part === "..")
  ) {
    throw cannotWrite(`the path ${JSON.stringify(path)} is not a plain relative path`);
  }
  if (Buffer.byteLength(path) + 1 > PATH_MAX) throw cannotWrite(`the path ${path} is longer than PATH_MAX`);
  if (!Number.isInteger(entry.mode) || entry.mode < 0 || entry.mode > 0o7777) {
    throw cannotWrite(`${path} has mode ${entry.mode}, which is not permission bits (0 to 0o7777)`);
  }
  const hasData = entry.data !== undefined;
  const hasTarget = entry.target !== undefined;
  switch (entry.type) {
    case "file":
      if (hasTarget) throw cannotWrite(`the file ${path} has a target; only links have one`);
      break;
    case "directory":
      if (hasData || hasTarget) throw cannotWrite(`the directory ${path} has data or a target`);
      break;
    case "symlink":
      if (hasData) throw cannotWrite(`the symlink ${path} has data; its target goes in "target"`);
      if (entry.target === undefined || entry.target === "")
        throw cannotWrite(`the symlink ${path} has no target`);
      if (Buffer.byteLength(entry.target) >= PATH_MAX) {
        throw cannotWrite(`the symlink ${path} has a target longer than PATH_MAX`);
      }
      break;
    case "hardlink":
      if (hasData) throw cannotWrite(`the hard link ${path} has data; the file it links to carries it`);
      if (entry.target === undefined) throw cannotWrite(`the hard link ${path} has no target`);
      break;
    case "chardev":
      if (hasData || hasTarget) throw cannotWrite(`the device ${path} has data or a target`);
      for (const number of [entry.major ?? 0, entry.minor ?? 0]) {
        if (!Number.isInteger(number) || number < 0 || number > MAX_FIELD) {
          throw cannotWrite(`the device ${path} has an invalid device number ${number}`);
        }
      }
      break;
    default:
      throw cannotWrite(`${path} has the unknown type ${JSON.stringify((entry as { type: unknown }).type)}`);
  }
}

/** Follows a hard link (through other hard links) to the file entry that holds the data. */
function resolveHardlink(link: CpioEntry, byPath: ReadonlyMap<string, CpioEntry>): CpioEntry {
  const visited = new Set<string>([link.path]);
  let current = link;
  while (current.type === "hardlink") {
    const target = current.target ?? "";
    const next = byPath.get(target);
    if (next === undefined)
      throw cannotWrite(`the hard link ${link.path} points to ${target}, which is not in the archive`);
    if (visited.has(next.path))
      throw cannotWrite(`the hard link ${link.path} is part of a cycle of hard links`);
    visited.add(next.path);
    current = next;
  }
  if (current.type !== "file") {
    throw cannotWrite(
      `the hard link ${link.path} points to ${current.path}, which is a ${current.type}, not a file`,
    );
  }
  return current;
}

function cannotWrite(reason: string): LinuxBuilderError {
  return new LinuxBuilderError("archive.cpio", `Cannot write the cpio archive: ${reason}`);
}

/**
 * Parses cpio "newc" data (070701, or 070702 whose checksums are not verified), including several
 * archives one after another with zero padding between them, as the kernel accepts; a path repeated
 * in a later archive is listed again, and the later one wins when unpacked.
 *
 * Regular files with nlink >= 2 sharing an inode in one archive come back as one "file" (the first
 * name, carrying the data whichever name had it in the archive) and "hardlink" entries targeting it.
 * Names are returned as stored. Block devices, fifos and sockets are errors, as CpioEntry has no
 * type for them.
 */
export function readCpio(buf: Buffer): CpioEntry[] {
  const result: CpioEntry[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) {
      pos++;
      continue;
    }
    pos = readOneArchive(buf, pos, result);
  }
  return result;
}

/** Reads one archive starting at `pos` up to and including its trailer; returns the offset after it. */
function readOneArchive(buf: Buffer, start: number, result: CpioEntry[]): number {
  // The entry of the first name of each hard-linked inode in this archive.
  const firstNames = new Map<string, CpioEntry>();
  let pos = start;
  for (;;) {
    if (pos + HEADER_SIZE > buf.length) throw cannotRead(`the header at offset ${pos} is truncated`);
    const magic = buf.toString("latin1", pos, pos + 6);
    if (magic !== MAGIC && magic !== CRC_MAGIC) throw cannotRead(`there is no newc magic at offset ${pos}`);
    const field = (index: number): number => {
      const text = buf.toString("latin1", pos + 6 + index * 8, pos + 14 + index * 8);
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw cannotRead(`the header at offset ${pos} has a non-hex field`);
      return Number.parseInt(text, 16);
    };
    const [ino, mode, nlink, size, devMajor, devMinor, rdevMajor, rdevMinor, nameSize] = [
      field(0),
      field(1),
      field(4),
      field(6),
      field(7),
      field(8),
      field(9),
      field(10),
      field(11),
    ] as [number, number, number, number, number, number, number, number, number];
    const nameStart = pos + HEADER_SIZE;
    const dataStart = align4(nameStart + nameSize);
    const dataEnd = dataStart + size;
    if (nameSize === 0 || dataEnd > buf.length) throw cannotRead(`the entry at offset ${pos} is truncated`);
    if (buf[nameStart + nameSize - 1] !== 0)
      throw cannotRead(`the name at offset ${pos} is not NUL-terminated`);
    const path = buf.toString("utf8", nameStart, nameStart + nameSize - 1);
    const data = buf.subarray(dataStart, dataEnd);
    pos = align4(dataEnd);
    if (path === TRAILER) return pos;

    const perms = mode & 0o7777;
    switch (mode & S_IFMT) {
      case S_IFREG: {
        if (nlink < 2) {
          result.push({ path, type: "file", mode: perms, data: Buffer.from(data) });
          break;
        }
        const key = `${devMajor}:${devMinor}:${ino}`;
        const first = firstNames.get(key);
        if (first === undefined) {
          const entry: CpioEntry = { path, type: "file", mode: perms, data: Buffer.from(data) };
          firstNames.set(key, entry);
          result.push(entry);
        } else {
          // Writers differ on which name carries the data (GNU cpio: the last; ours: the first).
          if (size > 0) first.data = Buffer.from(data);
          result.push({ path, type: "hardlink", mode: perms, target: first.path });
        }
        break;
      }
      case S_IFDIR:
        result.push({ path, type: "directory", mode: perms });
        break;
      case S_IFLNK:
        result.push({ path, type: "symlink", mode: perms, target: data.toString("utf8") });
        break;
      case S_IFCHR:
        result.push({ path, type: "chardev", mode: perms, major: rdevMajor, minor: rdevMinor });
        break;
      default:
        throw cannotRead(`${path} has the unsupported file type 0o${(mode & S_IFMT).toString(8)}`);
    }
  }
}

function align4(n: number): number {
  // Arithmetic, not `& ~3`, which would wrap past 2 GiB.
  return n + ((4 - (n % 4)) % 4);
}

function cannotRead(reason: string): LinuxBuilderError {
  return new LinuxBuilderError("archive.cpio", `Cannot read the cpio archive: ${reason}`);
}
