/**
 * Our edits to files we share with the user (nix.conf, /etc/nix/machines) are marked blocks at the
 * end, so they are easy to see, idempotent and exactly reversible: removing a block gives back the
 * bytes that were there before, whatever the user changed elsewhere in the meantime.
 * Each block has an id (one per builder), so several builders can share a file.
 * Pure text → text; the line ending (LF or CRLF) is the file's own.
 */

const BEGIN = "# BEGIN ";
const END = "# END ";
/** Marks a block before which we had to end the user's last line: removing it removes that too. */
const ADDED_NEWLINE = " (a final newline was added before this block)";

export function lineEnding(text: string): "\r\n" | "\n" {
  return text.includes("\r\n") ? "\r\n" : "\n";
}

interface Found {
  /** Where the block starts, including a newline we added before it. */
  readonly start: number;
  /** Just past the END line's line ending. */
  readonly end: number;
  /** Whether the block's BEGIN line says we added a newline before it. */
  readonly addedNewline: boolean;
}

/** The lines of `text` with their offsets; a line excludes its \n (and \r). */
function* lines(text: string): Generator<{ line: string; start: number; next: number }> {
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf("\n", start);
    const stop = newline === -1 ? text.length : newline;
    const line = text.slice(start, stop).replace(/\r$/, "");
    yield { line, start, next: newline === -1 ? text.length : newline + 1 };
    start = stop + 1;
  }
}

function findBlock(text: string, id: string): Found | undefined {
  let begin: { start: number; addedNewline: boolean } | undefined;
  for (const { line, start, next } of lines(text)) {
    // A BEGIN again before an END: the earlier one lost its END (the user's edit), and what lies
    // between is not ours: the block is the one that ends.
    if (isBeginLine(line, id)) {
      begin = { start, addedNewline: line.endsWith(ADDED_NEWLINE) };
    } else if (begin !== undefined && line === `${END}${id}`) {
      let blockStart = begin.start;
      // The newline we added goes with the block, unless the user has since written after it.
      if (begin.addedNewline && next === text.length) {
        const before = text.slice(0, blockStart);
        blockStart -= before.endsWith("\r\n") ? 2 : before.endsWith("\n") ? 1 : 0;
      }
      return { start: blockStart, end: next, addedNewline: begin.addedNewline };
    }
  }
  return undefined;
}

function isBeginLine(line: string, id: string): boolean {
  return line === `${BEGIN}${id}` || line === `${BEGIN}${id}${ADDED_NEWLINE}`;
}

/** Whether the text has a BEGIN line of block `id` without its END: a block whose end we cannot tell. */
export function hasDamagedBlock(text: string, id: string): boolean {
  let open = false;
  for (const { line } of lines(text)) {
    if (isBeginLine(line, id)) {
      if (open) return true;
      open = true;
    } else if (open && line === `${END}${id}`) open = false;
  }
  return open;
}

/** Whether the text has the block `id`. */
export function hasBlock(text: string, id: string): boolean {
  return findBlock(text, id) !== undefined;
}

/** The ids of every block in the text whose id starts with `prefix`. */
export function blockIds(text: string, prefix: string): string[] {
  const ids: string[] = [];
  for (const { line } of lines(text)) {
    if (line.startsWith(`${BEGIN}${prefix}`)) {
      const id = line.slice(BEGIN.length).replace(ADDED_NEWLINE, "");
      if (hasBlock(text, id)) ids.push(id);
    }
  }
  return ids;
}

/** The text with block `id` (of `content`) in place of an earlier one, or at the end. */
export function withBlock(text: string, id: string, content: readonly string[], comment: string): string {
  const found = findBlock(text, id);
  const eol = lineEnding(text);
  if (found !== undefined) {
    // In place, keeping whatever newline marker it had: the user's text around it stays as it is.
    const old = text.slice(found.start, found.end);
    const addedNewline = old.includes(ADDED_NEWLINE);
    const strippedNewline = addedNewline && !old.startsWith("# ");
    const block = blockText(id, content, comment, eol, addedNewline);
    return text.slice(0, found.start) + (strippedNewline ? eol : "") + block + text.slice(found.end);
  }
  const needsNewline = text !== "" && !text.endsWith("\n");
  const block = blockText(id, content, comment, eol, needsNewline);
  return needsNewline ? `${text}${eol}${block}` : `${text}${block}`;
}

function blockText(
  id: string,
  content: readonly string[],
  comment: string,
  eol: string,
  addedNewline: boolean,
): string {
  return (
    [`${BEGIN}${id}${addedNewline ? ADDED_NEWLINE : ""}`, `# ${comment}`, ...content, `${END}${id}`].join(
      eol,
    ) + eol
  );
}

/** The text without block `id`: byte for byte what it was before `withBlock` added it. */
export function withoutBlock(text: string, id: string): string {
  const found = findBlock(text, id);
  if (found === undefined) return text;
  let rest = text.slice(found.end);
  // The newline we added stays while another of our blocks follows: that block owns it now, so
  // removing it last gives the user's last line back without it.
  const next = /^# BEGIN (\S+)(?=\r?\n)/.exec(rest);
  if (found.addedNewline && next?.[1] !== undefined && hasBlock(rest, next[1])) {
    rest = `${next[0]}${ADDED_NEWLINE}${rest.slice(next[0].length)}`;
  }
  return text.slice(0, found.start) + rest;
}
