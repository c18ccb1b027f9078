import { createHash } from "node:crypto";
import { LinuxBuilderError } from "../../errors.js";
import { parseStanzas } from "./control.js";

/** The fields of a Debian Release file that the builder uses. */
export interface Release {
  origin?: string;
  label?: string;
  suite?: string;
  version?: string;
  codename?: string;
  date?: Date;
  validUntil?: Date;
  architectures: string[];
  components: string[];
  /** `Acquire-By-Hash: yes`: indexes can be fetched from by-hash/SHA256/<hash>, immune to mirror syncs. */
  acquireByHash: boolean;
  /** Index path relative to the dists/<suite>/ directory → its size and SHA256 (lowercase hex). */
  sha256: Map<string, IndexEntry>;
}

export interface IndexEntry {
  size: number;
  sha256: string;
}

const HINT_INVALID = "The Release file is malformed; check that the mirror URL points at a Debian archive.";

/**
 * Parses the body of a Release file (for InRelease: the verified signed text, never the raw file).
 * `source` names the file in error messages, e.g. "http://deb.debian.org/debian trixie InRelease".
 */
export function parseRelease(text: string, source: string): Release {
  const stanzas = parseStanzas(text, source);
  const fields = stanzas[0];
  if (fields === undefined || stanzas.length !== 1) {
    throw new LinuxBuilderError(
      "debian.release-invalid",
      `Cannot parse ${source}: expected exactly one stanza, found ${stanzas.length}.`,
      { hint: HINT_INVALID },
    );
  }

  const release: Release = {
    architectures: words(fields.get("architectures")),
    components: words(fields.get("components")),
    acquireByHash: fields.get("acquire-by-hash")?.toLowerCase() === "yes",
    sha256: parseSha256(fields.get("sha256") ?? "", source),
  };
  for (const [field, key] of [
    ["origin", "origin"],
    ["label", "label"],
    ["suite", "suite"],
    ["version", "version"],
    ["codename", "codename"],
  ] as const) {
    const value = fields.get(field);
    if (value !== undefined && value !== "") release[key] = value;
  }
  const date = fields.get("date");
  if (date !== undefined) release.date = parseReleaseDate(date, "Date", source);
  const validUntil = fields.get("valid-until");
  if (validUntil !== undefined) release.validUntil = parseReleaseDate(validUntil, "Valid-Until", source);
  return release;
}

function words(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(/\s+/).filter((w) => w !== "");
}

function parseSha256(value: string, source: string): Map<string, IndexEntry> {
  const entries = new Map<string, IndexEntry>();
  for (const line of value.split("\n")) {
    if (line.trim() === "") continue;
    const match = /^([0-9a-fA-F]{64})\s+(\d+)\s+(\S+)$/.exec(line.trim());
    const [, hash, size, path] = match ?? [];
    if (hash === undefined || size === undefined || path === undefined) {
      throw new LinuxBuilderError(
        "debian.release-invalid",
        `Cannot parse ${source}: the SHA256 line ${JSON.stringify(line)} is not "<sha256> <size> <path>".`,
        { hint: HINT_INVALID },
      );
    }
    entries.set(path, { size: Number(size), sha256: hash.toLowerCase() });
  }
  return entries;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * Release dates are RFC 2822 in UTC ("Sat, 21 Nov 2026 09:15:44 UTC"). Parsed by hand rather than
 * with Date.parse, whose accepted formats are implementation-defined.
 */
export function parseReleaseDate(value: string, field: string, source: string): Date {
  const match =
    /^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(UTC|GMT|Z|[+-]\d{4})$/.exec(
      value.trim(),
    );
  const month = match ? MONTHS.indexOf((match[2] ?? "").toLowerCase()) : -1;
  if (match === null || month < 0) {
    throw new LinuxBuilderError(
      "debian.release-invalid",
      `Cannot parse ${source}: the ${field} field ${JSON.stringify(value)} is not a date like "Sat, 21 Nov 2026 09:15:44 UTC".`,
      { hint: HINT_INVALID },
    );
  }
  const zone = match[7] ?? "UTC";
  let offsetMinutes = 0;
  if (zone.startsWith("+") || zone.startsWith("-")) {
    const sign = zone.startsWith("-") ? -1 : 1;
    offsetMinutes = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5)));
  }
  const utc = Date.UTC(
    Number(match[3]),
    month,
    Number(match[1]),
    Number(match[4]),
    Number(match[5]),
    Number(match[6] ?? "0"),
  );
  return new Date(utc - offsetMinutes * 60_000);
}

/**
 * Refuses a Release whose Valid-Until has passed: a stale or replayed Release could hide security
 * updates. Snapshot mirrors are legitimately old, hence the option to turn this off.
 */
export function checkValidUntil(release: Release, now: Date, source: string): void {
  if (release.validUntil === undefined || now.getTime() <= release.validUntil.getTime()) return;
  throw new LinuxBuilderError(
    "debian.release-expired",
    `Cannot use ${source}: its Release file expired on ${release.validUntil.toISOString()} (Valid-Until), and it is now ${now.toISOString()}.`,
    {
      hint:
        "Check the system clock and that the mirror is up to date. For a snapshot or archive mirror, pass " +
        "--no-check-valid-until (like apt's Check-Valid-Until=false).",
    },
  );
}

/** The size and SHA256 that the Release lists for an index path such as "main/binary-amd64/Packages.xz". */
export function indexEntry(release: Release, path: string): IndexEntry {
  const entry = release.sha256.get(path);
  if (entry === undefined) {
    const where = [release.codename ?? release.suite, release.origin]
      .filter((s) => s !== undefined)
      .join(", ");
    throw new LinuxBuilderError(
      "debian.index-missing",
      `Cannot find ${path} in the SHA256 list of the Release file${where === "" ? "" : ` (${where})`}.`,
      { hint: "Check the suite, component and architecture; the mirror may not carry them." },
    );
  }
  return entry;
}

/** Checks downloaded index bytes against the size and SHA256 that the verified Release lists for `path`. */
export function verifyIndexHash(release: Release, path: string, bytes: Uint8Array): void {
  const expected = indexEntry(release, path);
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (bytes.byteLength === expected.size && actual === expected.sha256) return;
  throw new LinuxBuilderError(
    "debian.index-hash-mismatch",
    `Cannot use ${path}: it does not match the signed Release file ` +
      `(expected SHA256 ${expected.sha256}, ${expected.size} bytes; got SHA256 ${actual}, ${bytes.byteLength} bytes).`,
    {
      hint: "The mirror may be mid-update or the download corrupted; retry later or use another mirror.",
    },
  );
}

/**
 * A validly signed Release for another suite or without our architecture must not be used: a mirror
 * (or someone between it and us) could serve an older, signed suite under the requested name. apt
 * refuses the same.
 */
export function checkReleaseMatches(release: Release, suite: string, arch: string, source: string): void {
  if (release.suite !== suite && release.codename !== suite) {
    throw new LinuxBuilderError(
      "debian.release-suite",
      `Cannot use ${source}: it is signed for suite ${release.suite ?? "(none)"} (codename ${release.codename ?? "none"}), not ${suite}`,
      { hint: "The mirror serves another suite under this name; check --mirror and --suite." },
    );
  }
  if (release.architectures.length > 0 && !release.architectures.includes(arch)) {
    throw new LinuxBuilderError(
      "debian.release-arch",
      `Cannot use ${source}: suite ${suite} has no ${arch} packages (it has ${release.architectures.join(", ")})`,
      { hint: "Use --arch amd64 or arm64 with a suite that carries it." },
    );
  }
}
