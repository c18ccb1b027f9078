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
  return parseStanzas(text, source).map((fields, i) => parsePackageRecord(fields, i + 1, source, opts));
}

/** One stanza's fields (as parseStanzas returns them) as a record; `stanzaNumber` names it when it has no Package. */
export function parsePackageRecord(
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

/** A package that provides a name, with the Provides entry that does. */
export interface Provider {
  record: PackageRecord;
  provided: Relation;
}

/** What resolving asks of an index of one architecture: PackageIndex holds it parsed, ScannedPackageIndex parses on demand. */
export interface PackageLookup {
  readonly arch: string;
  /** Names the index in messages, e.g. "trixie/main amd64". */
  readonly label: string;
  /** Real packages named `name` (highest version first), then the packages that provide `name`. */
  candidates(name: string): Candidate[];
  /** Real packages named `name`, highest version first. */
  versions(name: string): readonly PackageRecord[];
}

/** Whether an index of `arch` holds a record of `architecture`: its own, and `Architecture: all`. */
export function usableOn(arch: string, architecture: string | undefined): boolean {
  return architecture === arch || architecture === "all";
}

/** Highest version first; the sort is stable, so equal versions keep the index's order. */
export function sortVersions(records: PackageRecord[]): PackageRecord[] {
  return records.sort((a, b) => compareVersions(b.version, a.version));
}

/** Providers in a fixed order (name, then highest version) so that resolution is deterministic. */
export function sortProviders(list: Provider[]): Provider[] {
  return list.sort(
    (a, b) =>
      compareStrings(a.record.name, b.record.name) || compareVersions(b.record.version, a.record.version),
  );
}

/** Both faces of a name: its versions, then its providers. */
export function candidatesOf(
  versions: readonly PackageRecord[],
  providers: readonly Provider[],
): Candidate[] {
  const real: Candidate[] = versions.map((record) => ({ kind: "real", record }));
  const virtual: Candidate[] = providers.map((p) => ({ kind: "provides", ...p }));
  return [...real, ...virtual];
}

/**
 * Packages usable on one architecture: records of `arch` plus `Architecture: all`, looked up by name.
 * Several versions of a name may be present (e.g. trixie and trixie-updates merged); the same
 * name and version twice keeps the first record.
 */
export class PackageIndex implements PackageLookup {
  readonly arch: string;
  readonly label: string;
  private readonly byName = new Map<string, PackageRecord[]>();
  private readonly providers = new Map<string, Provider[]>();

  constructor(records: Iterable<PackageRecord>, opts: { arch: string; label?: string }) {
    this.arch = opts.arch;
    this.label = opts.label ?? opts.arch;
    for (const record of records) {
      if (!usableOn(opts.arch, record.architecture)) continue;
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
    for (const versions of this.byName.values()) sortVersions(versions);
    for (const list of this.providers.values()) sortProviders(list);
  }

  candidates(name: string): Candidate[] {
    return candidatesOf(this.versions(name), this.providers.get(name) ?? []);
  }

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
