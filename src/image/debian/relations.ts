import { LinuxBuilderError } from "../../errors.js";
import type { VersionOp } from "./version.js";

/** One package relation, e.g. `libc6 (>= 2.36)` or `python3:any`. */
export interface Relation {
  name: string;
  /** The part after ":" in `name:any`; "any" and "native" are the ones seen in binary indexes. */
  archQualifier?: string;
  op?: VersionOp;
  version?: string;
}

export interface ParseRelationsOptions {
  /** Target Debian architecture for `[arch]` restrictions; without it, restrictions are ignored (the alternative is kept). */
  arch?: string;
  /** Names the field in error messages, e.g. `Depends of openssh-server`. */
  source?: string;
}

/**
 * Parses a relation field (Depends, Pre-Depends, Provides, ...): the outer array is the
 * comma-separated AND list, the inner one the `|` alternatives.
 *
 * `<profile>` restrictions are ignored (they only matter when building from source), and `[arch]`
 * restrictions are evaluated against `opts.arch`; an alternative excluded by them is dropped, and a
 * group left empty is dropped too. The deprecated operators "<" and ">" mean "<=" and ">=", as in dpkg.
 */
export function parseRelations(field: string, opts: ParseRelationsOptions = {}): Relation[][] {
  const groups: Relation[][] = [];
  for (const groupText of field.split(",")) {
    if (groupText.trim() === "") continue;
    const group: Relation[] = [];
    for (const altText of groupText.split("|")) {
      const relation = parseOne(altText, field, opts);
      if (relation !== undefined) group.push(relation);
    }
    if (group.length > 0) groups.push(group);
  }
  return groups;
}

const RELATION =
  /^([a-z0-9][a-z0-9+.-]*)(?::([a-z0-9-]+))?\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^\s)<>=][^\s)]*)\s*\))?\s*(?:\[([^\]]*)\])?\s*((?:<[^>]*>\s*)*)$/;

function parseOne(text: string, field: string, opts: ParseRelationsOptions): Relation | undefined {
  const match = RELATION.exec(text.trim().replace(/\s+/g, " "));
  const name = match?.[1];
  if (match === null || name === undefined) {
    throw new LinuxBuilderError(
      "debian.relation-invalid",
      `Cannot parse the relation ${JSON.stringify(text.trim())}${opts.source ? ` in ${opts.source}` : ""} (field: ${JSON.stringify(field)}).`,
      { hint: "The package index has a malformed relation field; check the mirror." },
    );
  }
  const [, , qualifier, rawOp, version, archList] = match;
  if (archList !== undefined && opts.arch !== undefined && !archAllowed(archList, opts.arch))
    return undefined;

  const relation: Relation = { name };
  if (qualifier !== undefined) relation.archQualifier = qualifier;
  if (rawOp !== undefined && version !== undefined) {
    relation.op = rawOp === "<" ? "<=" : rawOp === ">" ? ">=" : (rawOp as VersionOp);
    relation.version = version;
  }
  return relation;
}

/** `[amd64 arm64]` keeps the relation on those arches; `[!i386]` drops it on i386. */
function archAllowed(list: string, arch: string): boolean {
  const items = list.split(/\s+/).filter((s) => s !== "");
  const negated = items.filter((s) => s.startsWith("!")).map((s) => s.slice(1));
  const positive = items.filter((s) => !s.startsWith("!"));
  if (positive.length > 0) return positive.some((p) => archMatches(p, arch));
  return !negated.some((p) => archMatches(p, arch));
}

/** Wildcards as dpkg-architecture understands them, assuming a Linux target (the only kind we build). */
function archMatches(pattern: string, arch: string): boolean {
  return (
    pattern === arch ||
    pattern === "any" ||
    pattern === "linux-any" ||
    pattern === `linux-${arch}` ||
    pattern === `any-${arch}`
  );
}

/** Formats a relation the way Debian writes it: `name:qual (op version)`. */
export function formatRelation(relation: Relation): string {
  const qualified =
    relation.archQualifier === undefined ? relation.name : `${relation.name}:${relation.archQualifier}`;
  return relation.op === undefined || relation.version === undefined
    ? qualified
    : `${qualified} (${relation.op} ${relation.version})`;
}

/** Formats an OR group: `a (>= 1) | b`. */
export function formatGroup(group: readonly Relation[]): string {
  return group.map(formatRelation).join(" | ");
}
