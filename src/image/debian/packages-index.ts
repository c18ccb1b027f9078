import { LinuxBuilderError } from "../../errors.js";
import { parseStanzas } from "./control.js";
import { parseRelations, type Relation } from "./relations.js";
import { compareVersions } from "./version.js";

/** One binary package from a Packages index. */
export interface PackageRecord {
  name: string;
  version: string;
  architecture: string;
  multiArch?: string;
  essential: boolean;
  priority?: string;
  depends: Relation[][];
  preDepends: Relation[][];
  provides: Relation[];
  /** Path of the .deb relative to the archive root, e.g. "pool/main/b/bash/bash_5.2.37-2_amd64.deb". */
  filename: string;
  size: number;
  sha256: string;
  installedSize?: number;
}

const HINT = "The Packages index is malformed; check that the mirror URL points at a Debian archive.";

/**
 * Parses a (decompressed) Packages index. `source` names it in errors, e.g. "trixie/main amd64 Packages".
 * `opts.arch` evaluates `[arch]` restrictions in relations, which binary indexes rarely carry.
 */
export function parsePackagesIndex(
  text: string,
  source: string,
  opts: { arch?: string } = {},
): PackageRecord[] {
  return parseStanzas(text, source).map((fields, i) => parseRecord(fields, i + 1, source, opts));
}

function parseRecord(
  fields: Map<string, string>,
  stanzaNumber: number,
  source: string,
  opts: { arch?: string },
): PackageRecord {
  const label = fields.get("package") ? `package ${fields.get("package")}` : `stanza ${stanzaNumber}`;
  const fail = (why: string): LinuxBuilderError =>
    new LinuxBuilderError("debian.index-invalid", `Cannot read ${label} in ${source}: ${why}.`, {
      hint: HINT,
    });
  const required = (field: string, display: string): string => {
    const value = fields.get(field);
    if (value === undefined || value === "") throw fail(`the mandatory field ${display} is missing`);
    return value;
  };

  const name = required("package", "Package");
  const version = required("version", "Version");
  const architecture = required("architecture", "Architecture");
  const filename = required("filename", "Filename");
  const sizeText = required("size", "Size");
  const sha256 = required("sha256", "SHA256").toLowerCase();

  if (!/^\d+$/.test(sizeText)) throw fail(`the Size field ${JSON.stringify(sizeText)} is not a number`);
  if (!/^[0-9a-f]{64}$/.test(sha256))
    throw fail(`the SHA256 field ${JSON.stringify(sha256)} is not a SHA256`);
  // Filename becomes a URL path and a cache path: refuse anything that could escape the archive root.
  if (filename.startsWith("/") || filename.split("/").includes("..") || filename.includes("\\")) {
    throw fail(`the Filename field ${JSON.stringify(filename)} is not a path inside the archive`);
  }

  const relations = (field: string, display: string): Relation[][] => {
    const value = fields.get(field);
    if (value === undefined) return [];
    const relationOpts: { arch?: string; source: string } = { source: `${display} of ${name} in ${source}` };
    if (opts.arch !== undefined) relationOpts.arch = opts.arch;
    return parseRelations(value, relationOpts);
  };
  const providesGroups = relations("provides", "Provides");
  if (providesGroups.some((group) => group.length !== 1))
    throw fail("its Provides field contains alternatives");

  const record: PackageRecord = {
    name,
    version,
    architecture,
    essential: fields.get("essential")?.toLowerCase() === "yes",
    depends: relations("depends", "Depends"),
    preDepends: relations("pre-depends", "Pre-Depends"),
    provides: providesGroups.flat(),
    filename,
    size: Number(sizeText),
    sha256,
  };
  const multiArch = fields.get("multi-arch");
  if (multiArch !== undefined && multiArch !== "") record.multiArch = multiArch;
  const priority = fields.get("priority");
  if (priority !== undefined && priority !== "") record.priority = priority;
  const installedSize = fields.get("installed-size");
  if (installedSize !== undefined && installedSize !== "") {
    if (!/^\d+$/.test(installedSize)) {
      throw fail(`the Installed-Size field ${JSON.stringify(installedSize)} is not a number`);
    }
    record.installedSize = Number(installedSize);
  }
  return record;
}

/** A way to satisfy a dependency on a name: the package of that name, or one that Provides it. */
export type Candidate =
  | { kind: "real"; record: PackageRecord }
  | { kind: "provides"; record: PackageRecord; provided: Relation };

/**
 * Packages usable on one architecture: records of `arch` plus `Architecture: all`, looked up by name.
 * Several versions of a name may be present (e.g. trixie and trixie-updates merged); the same
 * name and version twice keeps the first record.
 */
export class PackageIndex {
  readonly arch: string;
  /** Names the index in messages, e.g. "trixie/main amd64". */
  readonly label: string;
  private readonly byName = new Map<string, PackageRecord[]>();
  private readonly providers = new Map<string, { record: PackageRecord; provided: Relation }[]>();

  constructor(records: Iterable<PackageRecord>, opts: { arch: string; label?: string }) {
    this.arch = opts.arch;
    this.label = opts.label ?? opts.arch;
    for (const record of records) {
      if (record.architecture !== opts.arch && record.architecture !== "all") continue;
      const versions = this.byName.get(record.name) ?? [];
      if (versions.some((r) => r.version === record.version)) continue;
      versions.push(record);
      this.byName.set(record.name, versions);
      for (const provided of record.provides) {
        const list = this.providers.get(provided.name) ?? [];
        list.push({ record, provided });
        this.providers.set(provided.name, list);
      }
    }
    for (const versions of this.byName.values())
      versions.sort((a, b) => compareVersions(b.version, a.version));
    // Providers in a fixed order (name, then highest version) so that resolution is deterministic.
    for (const list of this.providers.values()) {
      list.sort(
        (a, b) =>
          compareStrings(a.record.name, b.record.name) || compareVersions(b.record.version, a.record.version),
      );
    }
  }

  /** Real packages named `name` (highest version first), then the packages that provide `name`. */
  candidates(name: string): Candidate[] {
    const real: Candidate[] = (this.byName.get(name) ?? []).map((record) => ({ kind: "real", record }));
    const virtual: Candidate[] = (this.providers.get(name) ?? []).map((p) => ({ kind: "provides", ...p }));
    return [...real, ...virtual];
  }

  /** Real packages named `name`, highest version first. */
  versions(name: string): readonly PackageRecord[] {
    return this.byName.get(name) ?? [];
  }

  /** All records in the index, sorted by name then highest version first. */
  records(): PackageRecord[] {
    return [...this.byName.keys()].sort(compareStrings).flatMap((name) => this.byName.get(name) ?? []);
  }
}

/** Plain code-unit order, independent of the locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
