import { parseStanzas } from "./control.js";
import {
  type Candidate,
  candidatesOf,
  type PackageLookup,
  type PackageRecord,
  type Provider,
  parsePackageRecord,
  sortProviders,
  sortVersions,
  usableOn,
} from "./packages-index.js";

const NEWLINE = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const HASH = 0x23;
const COLON = 0x3a;

/** The fields the scan reads from every stanza; everything else waits until the resolution reaches it. */
const SCANNED = ["package", "architecture", "provides"];

const COMMENT_LINES = /^#.*$/gm;

/** The first token of each alternative in a Provides field: the names parseRelations would give, maybe more. */
const PROVIDED_NAMES = /(?:^|[,|])\s*([a-z0-9][a-z0-9+.-]*)/g;

/**
 * A Packages index that answers the same questions as PackageIndex, but parses only the stanzas a
 * resolution asks about: a guest's closure reaches a few hundred of trixie's ~69,000. One linear scan
 * of the bytes notes where each stanza lies, its Package, its Architecture and the names it Provides;
 * a stanza is parsed in full, by the same parser and with the same checks, when a lookup reaches it.
 *
 * The answers are those of `new PackageIndex(parsePackagesIndex(text))` for every name. What differs:
 * a malformed stanza no lookup reaches is not reported (the index's bytes were already checked against
 * the signed Release), and a stanza without a Package field is skipped rather than refused.
 */
export class ScannedPackageIndex implements PackageLookup {
  readonly arch: string;
  readonly label: string;
  readonly #bytes: Buffer;
  /** The Architecture values usable here, as bytes. */
  readonly #archBytes: Buffer[];
  /** Stanza i spans bytes [starts[i], ends[i]). */
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  /** Stanzas usable on `arch`, by Package, in index order. */
  readonly #byName = new Map<string, number[]>();
  /** Stanzas usable on `arch` whose Provides names a package, in index order. */
  readonly #byProvided = new Map<string, number[]>();
  readonly #records = new Map<number, PackageRecord>();
  readonly #versions = new Map<string, PackageRecord[]>();
  readonly #providers = new Map<string, Provider[]>();

  /** `bytes`: the decompressed index, UTF-8. */
  constructor(bytes: Buffer, opts: { arch: string; label?: string }) {
    this.arch = opts.arch;
    this.label = opts.label ?? opts.arch;
    this.#bytes = bytes;
    this.#archBytes = [this.arch, "all"].filter((a) => usableOn(this.arch, a)).map((a) => Buffer.from(a));
    this.#scan();
  }

  candidates(name: string): Candidate[] {
    return candidatesOf(this.versions(name), this.#providersOf(name));
  }

  versions(name: string): readonly PackageRecord[] {
    let versions = this.#versions.get(name);
    if (versions === undefined) {
      versions = [];
      for (const stanza of this.#byName.get(name) ?? []) {
        const record = this.#record(stanza);
        // The same name and version twice keeps the first record, as PackageIndex does.
        if (!versions.some((r) => r.version === record.version)) versions.push(record);
      }
      this.#versions.set(name, sortVersions(versions));
    }
    return versions;
  }

  #providersOf(name: string): Provider[] {
    let providers = this.#providers.get(name);
    if (providers === undefined) {
      providers = [];
      for (const stanza of this.#byProvided.get(name) ?? []) {
        const record = this.#record(stanza);
        // A duplicate that versions() dropped provides nothing, as in PackageIndex.
        if (!this.versions(record.name).includes(record)) continue;
        for (const provided of record.provides) {
          if (provided.name === name) providers.push({ record, provided });
        }
      }
      this.#providers.set(name, sortProviders(providers));
    }
    return providers;
  }

  #record(stanza: number): PackageRecord {
    let record = this.#records.get(stanza);
    if (record === undefined) {
      const start = this.#starts[stanza] ?? 0;
      const text = this.#bytes.toString("utf8", start, this.#ends[stanza]);
      const source = `${this.label} Packages (the stanza at byte ${start})`;
      const [fields] = parseStanzas(text, source);
      if (fields === undefined) throw new Error(`stanza ${stanza + 1} of ${this.label} is empty`);
      record = parsePackageRecord(fields, stanza + 1, source, { arch: this.arch });
      this.#records.set(stanza, record);
    }
    return record;
  }

  /**
   * Line by line, with parseStanzas' rules: a line of only blanks ends a stanza, `#` starts a comment,
   * a leading space or tab continues the previous field, field names are case-insensitive. Kept to
   * plain numbers and byte comparisons: it visits every line of a 56 MB index.
   */
  #scan(): void {
    const bytes = this.#bytes;
    // Per scanned field (SCANNED's order), where its value starts and ends in the current stanza; -1: absent.
    const valueStart = [-1, -1, -1];
    const valueEnd = [-1, -1, -1];
    let current = -1;
    let stanzaStart = -1;
    let stanzaEnd = -1;
    for (let line = 0; line <= bytes.length; ) {
      let next = bytes.indexOf(NEWLINE, line);
      if (next < 0) next = bytes.length;
      const end = next > line && bytes[next - 1] === CR ? next - 1 : next;
      const first = bytes[line];
      let blank = line === end;
      if (!blank && (first === SPACE || first === TAB)) {
        let i = line + 1;
        while (i < end && (bytes[i] === SPACE || bytes[i] === TAB)) i++;
        blank = i === end;
        if (!blank && current >= 0) valueEnd[current] = end;
      } else if (!blank && first !== HASH) {
        if (stanzaStart < 0) stanzaStart = line;
        current = scannedField(bytes, line, end);
        if (current >= 0 && valueStart[current] === -1) {
          valueStart[current] = bytes.indexOf(COLON, line) + 1;
          valueEnd[current] = end;
        } else {
          // A repeated field is parseStanzas' error to report; the scan keeps the first.
          current = -1;
        }
      }
      if (blank) {
        if (stanzaStart >= 0) this.#note(stanzaStart, stanzaEnd, valueStart, valueEnd);
        stanzaStart = -1;
        current = -1;
        valueStart.fill(-1);
      } else if (stanzaStart >= 0) {
        stanzaEnd = next;
      }
      line = next + 1;
    }
    // A last stanza without a blank line after it (the loop's final empty line flushes it otherwise).
    if (stanzaStart >= 0) this.#note(stanzaStart, stanzaEnd, valueStart, valueEnd);
  }

  /** Whether the Architecture value in bytes [start, end) is usable here; compared as bytes, it is in every stanza. */
  #usable(start: number, end: number): boolean {
    const bytes = this.#bytes;
    while (start < end && (bytes[start] === SPACE || bytes[start] === TAB)) start++;
    while (end > start && (bytes[end - 1] === SPACE || bytes[end - 1] === TAB)) end--;
    return this.#archBytes.some(
      (arch) => arch.length === end - start && arch.equals(bytes.subarray(start, end)),
    );
  }

  /** Records one stanza of the scan, if it is usable on this architecture. */
  #note(start: number, end: number, valueStart: readonly number[], valueEnd: readonly number[]): void {
    const [packageAt = -1, architectureAt = -1, providesAt = -1] = valueStart;
    if (packageAt < 0) return;
    const name = this.#bytes.toString("utf8", packageAt, valueEnd[0]).trim();
    if (name === "") return;
    // A stanza without Architecture is kept so that parsing it reports the missing field.
    if (architectureAt >= 0 && !this.#usable(architectureAt, valueEnd[1] ?? architectureAt)) return;
    const stanza = this.#starts.length;
    this.#starts.push(start);
    this.#ends.push(end);
    add(this.#byName, name, stanza);
    if (providesAt < 0) return;
    // A comment line inside the field is part of the range but not of the value parseStanzas gives.
    const provides = this.#bytes.toString("utf8", providesAt, valueEnd[2]).replace(COMMENT_LINES, "");
    for (const match of provides.matchAll(PROVIDED_NAMES)) {
      const providedName = match[1] as string;
      const list = this.#byProvided.get(providedName);
      if (list?.[list.length - 1] !== stanza) add(this.#byProvided, providedName, stanza);
    }
  }
}

function add(map: Map<string, number[]>, key: string, stanza: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [stanza]);
  else list.push(stanza);
}

const FIELD_NAMES = SCANNED.map((name) => Buffer.from(name, "latin1"));

/**
 * The scanned field (its position in SCANNED) that the line at `start` names, in any case and with
 * blanks before the colon as parseStanzas allows; -1 for any other field. Compares bytes: most lines are other fields.
 */
function scannedField(bytes: Buffer, start: number, end: number): number {
  const first = (bytes[start] ?? 0) | 0x20;
  if (first !== 0x70 /* p */ && first !== 0x61 /* a */) return -1;
  for (let f = 0; f < FIELD_NAMES.length; f++) {
    const field = FIELD_NAMES[f] as Buffer;
    const length = field.length;
    if (start + length >= end) continue;
    let i = 0;
    // ORing 0x20 lowercases ASCII letters and turns no other byte into one.
    while (i < length && ((bytes[start + i] ?? 0) | 0x20) === field[i]) i++;
    if (i < length) continue;
    let colon = start + length;
    while (bytes[colon] === SPACE || bytes[colon] === TAB) colon++;
    if (bytes[colon] === COLON) return f;
  }
  return -1;
}
