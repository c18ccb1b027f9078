import { LinuxBuilderError } from "../../errors.js";

/**
 * Parser for deb822 control stanzas, the format of Debian's Packages and Release files.
 *
 * - Field names are case-insensitive, so keys are stored lowercased.
 * - A line starting with a space or tab continues the previous field. Continuation lines are
 *   stored trimmed and joined with "\n"; an empty first line (as in `SHA256:`) is dropped, so
 *   the value is just the list.
 * - Stanzas are separated by blank lines (lines of only spaces/tabs count as blank, as policy allows).
 * - CRLF line endings are tolerated; lines starting with `#` are comments.
 * - A duplicate field in one stanza is an error: which of the two values counts would be ambiguous,
 *   and for hash fields that ambiguity matters.
 */
export function parseStanzas(text: string, source = "control data"): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current: Map<string, string> | undefined;
  let lastField: string | undefined;

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "") {
      if (current !== undefined) stanzas.push(current);
      current = undefined;
      lastField = undefined;
      continue;
    }
    if (line.startsWith("#")) continue;

    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (current === undefined || lastField === undefined) {
        throw invalid(source, i + 1, "a continuation line appears before any field");
      }
      const previous = current.get(lastField) ?? "";
      const piece = line.trim();
      current.set(lastField, previous === "" ? piece : `${previous}\n${piece}`);
      continue;
    }

    const colon = line.indexOf(":");
    if (colon <= 0) throw invalid(source, i + 1, `expected "Field: value", got ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === "" || /\s/.test(name)) {
      throw invalid(source, i + 1, `the field name ${JSON.stringify(line.slice(0, colon))} is not valid`);
    }
    current ??= new Map();
    if (current.has(name)) throw invalid(source, i + 1, `the field "${name}" appears twice in one stanza`);
    current.set(name, line.slice(colon + 1).trim());
    lastField = name;
  }
  if (current !== undefined) stanzas.push(current);
  return stanzas;
}

function invalid(source: string, line: number, why: string): LinuxBuilderError {
  return new LinuxBuilderError("debian.control-invalid", `Cannot parse ${source} at line ${line}: ${why}.`, {
    hint: "The file is not valid deb822 control data; check that the mirror URL points at a Debian archive.",
  });
}
