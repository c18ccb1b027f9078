import { LinuxBuilderError } from "../../errors.js";

/** One member of an `ar` archive: its name and where its data lies in the archive buffer. */
export interface ArMember {
  name: string;
  /** Offset of the member's data (just after its header) in the archive buffer. */
  offset: number;
  size: number;
}

const MAGIC = "!<arch>\n";
const HEADER_SIZE = 60;

/**
 * Indexes a Unix `ar` archive, the outer container of a .deb.
 *
 * Each member has a 60-byte header (name 16, mtime 12, uid 6, gid 6, octal mode 8, decimal size 10,
 * terminator "`\n") followed by its data, padded with "\n" to an even offset. dpkg writes names
 * space-padded; GNU ar ends them with "/". GNU long names ("//" table, "/123" references) and BSD
 * long names ("#1/len", name stored before the data) are resolved; symbol tables ("/", "/SYM64/")
 * are skipped, as they are not members anyone asked for.
 *
 * @param source names the archive in error messages.
 */
export function parseArIndex(buf: Buffer, source = "the ar archive"): ArMember[] {
  if (buf.length < MAGIC.length || buf.toString("latin1", 0, MAGIC.length) !== MAGIC) {
    throw malformed(source, "it does not start with the ar magic !<arch>");
  }
  const members: ArMember[] = [];
  let longNames: string | undefined;
  let pos = MAGIC.length;
  while (pos < buf.length) {
    if (pos + HEADER_SIZE > buf.length) {
      throw malformed(source, `the member header at offset ${pos} is truncated`);
    }
    const field = (start: number, length: number) =>
      buf.toString("latin1", pos + start, pos + start + length);
    if (field(58, 2) !== "`\n") {
      throw malformed(source, `the member header at offset ${pos} does not end with the ar terminator`);
    }
    const rawName = field(0, 16);
    for (const [label, start, length, radix] of [
      ["mtime", 16, 12, 10],
      ["uid", 28, 6, 10],
      ["gid", 34, 6, 10],
      ["mode", 40, 8, 8],
    ] as const) {
      numericField(field(start, length), radix, true, `${label} of member "${rawName.trimEnd()}"`, source);
    }
    const size = numericField(field(48, 10), 10, false, `size of member "${rawName.trimEnd()}"`, source);
    let offset = pos + HEADER_SIZE;
    let dataSize = size;
    if (offset + size > buf.length) {
      throw malformed(source, `member "${rawName.trimEnd()}" is truncated (${size} bytes declared)`);
    }

    let name = rawName.trimEnd();
    const bsd = /^#1\/(\d+)$/.exec(name);
    if (bsd) {
      const nameLength = Number(bsd[1]);
      if (nameLength > size)
        throw malformed(source, `the BSD long name of the member at offset ${pos} is truncated`);
      name = buf.toString("utf8", offset, offset + nameLength).replace(/\0+$/, "");
      offset += nameLength;
      dataSize -= nameLength;
    } else if (name === "//") {
      longNames = buf.toString("utf8", offset, offset + size);
      name = "";
    } else if (name === "/" || name === "/SYM64/") {
      name = "";
    } else if (/^\/\d+$/.test(name)) {
      const start = Number(name.slice(1));
      const end = longNames?.indexOf("/\n", start) ?? -1;
      if (longNames === undefined || start >= longNames.length || end === -1) {
        throw malformed(source, `member name "${name}" refers outside the long-name table`);
      }
      name = longNames.slice(start, end);
    } else if (name.endsWith("/")) {
      name = name.slice(0, -1);
    }
    if (name !== "") {
      if (name.includes("/")) throw malformed(source, `member name "${name}" contains a slash`);
      members.push({ name, offset, size: dataSize });
    }
    // Past the end when the last padding byte is missing: some writers omit it, and it carries nothing.
    pos = pos + HEADER_SIZE + size + (size % 2);
  }
  return members;
}

/** Parses a space-padded number; `blankAllowed` for fields some writers leave empty. */
function numericField(
  raw: string,
  radix: 8 | 10,
  blankAllowed: boolean,
  what: string,
  source: string,
): number {
  const digits = raw.trimEnd();
  const pattern = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (digits === "" && blankAllowed) return 0;
  if (!pattern.test(digits)) throw malformed(source, `the ${what} is not a number: "${raw}"`);
  return Number.parseInt(digits, radix);
}

function malformed(source: string, reason: string): LinuxBuilderError {
  return new LinuxBuilderError("archive.ar", `Cannot read ${source}: ${reason}`);
}
