import { LinuxBuilderError } from "../../errors.js";
import { compareStrings, type PackageLookup, type PackageRecord } from "./packages-index.js";
import { formatGroup, formatRelation, type Relation } from "./relations.js";
import { satisfies } from "./version.js";

export interface ResolveOptions {
  /** The guest's Debian architecture; must be the one the index was built for. */
  arch: string;
}

interface Pending {
  record: PackageRecord;
  /** How the package was reached, from a root: shown when something below it cannot be resolved. */
  chain: string[];
}

interface Selection {
  record: PackageRecord;
  chain: string[];
}

/**
 * The closure of `roots` over Depends and Pre-Depends (not Recommends or Suggests), one version
 * per package name, sorted by name.
 *
 * The choice is greedy and deterministic, without backtracking:
 * - All roots are chosen first, so an explicitly requested package satisfies later alternatives.
 * - Dependencies are visited breadth-first, Pre-Depends before Depends, in index order.
 * - For an OR group, if any alternative is already satisfied by a chosen package (by name or by
 *   Provides), nothing new is chosen; otherwise the first alternative that can be satisfied wins.
 * - For one name, the real package of that name comes first (highest version that satisfies the
 *   constraint), then its providers in name order; a versioned constraint only accepts
 *   `Provides: x (= version)` entries whose version satisfies it.
 * - A name, once chosen, is never changed: a later constraint that the chosen version does not
 *   satisfy is an error, even if another version would have satisfied both.
 * Conflicts/Breaks are not evaluated; cycles are fine since a chosen package is visited once.
 */
export function resolveClosure(index: PackageLookup, roots: string[], opts: ResolveOptions): PackageRecord[] {
  if (opts.arch !== index.arch) {
    throw new Error(`resolveClosure: the index is for ${index.arch}, not ${opts.arch}`);
  }
  const selected = new Map<string, Selection>();
  const selectedProviders = new Map<string, { record: PackageRecord; provided: Relation }[]>();
  const queue: Pending[] = [];

  const select = (record: PackageRecord, chain: string[]): void => {
    selected.set(record.name, { record, chain });
    for (const provided of record.provides) {
      const list = selectedProviders.get(provided.name) ?? [];
      list.push({ record, provided });
      selectedProviders.set(provided.name, list);
    }
    queue.push({ record, chain });
  };

  const qualifierOk = (relation: Relation): boolean => {
    const q = relation.archQualifier;
    // The guest is single-arch: every candidate is native or "all", so ":any" and ":native" match them.
    return q === undefined || q === "any" || q === "native" || q === opts.arch;
  };

  const alreadySatisfied = (relation: Relation): boolean => {
    if (!qualifierOk(relation)) return false;
    const chosen = selected.get(relation.name);
    if (chosen !== undefined && versionOk(chosen.record.version, relation)) return true;
    return (selectedProviders.get(relation.name) ?? []).some((p) => providedOk(p.provided, relation));
  };

  /** Picks a new package for `relation`, or explains why none can be picked. */
  const choose = (relation: Relation): { record: PackageRecord } | { reason: string; conflict: boolean } => {
    const wanted = formatConstraint(relation);
    if (!qualifierOk(relation)) {
      return {
        reason: `${formatRelation(relation)} asks for another architecture than ${opts.arch}`,
        conflict: false,
      };
    }
    const candidates = index.candidates(relation.name);
    if (candidates.length === 0) return { reason: `no package named ${relation.name}`, conflict: false };

    for (const candidate of candidates) {
      const fits =
        candidate.kind === "real"
          ? versionOk(candidate.record.version, relation)
          : providedOk(candidate.provided, relation);
      if (fits && !selected.has(candidate.record.name)) return { record: candidate.record };
    }
    // Something fits but a different version of it was chosen earlier: report that, with its chain.
    for (const candidate of candidates) {
      const fits =
        candidate.kind === "real"
          ? versionOk(candidate.record.version, relation)
          : providedOk(candidate.provided, relation);
      const chosen = selected.get(candidate.record.name);
      if (fits && chosen !== undefined) {
        return {
          reason:
            `${chosen.record.name} ${chosen.record.version} was already chosen (via ${chosen.chain.join(" → ")}) ` +
            `and does not satisfy ${formatRelation(relation)}`,
          conflict: true,
        };
      }
    }
    const available = candidates.map((c) =>
      c.kind === "real" ? c.record.version : `${c.record.name} provides ${formatRelation(c.provided)}`,
    );
    return {
      reason: `no package ${relation.name} satisfies ${wanted} (available: ${available.join(", ")})`,
      conflict: false,
    };
  };

  const resolveGroup = (group: Relation[], chain: string[]): void => {
    if (group.some(alreadySatisfied)) return;
    const reasons: string[] = [];
    let conflict = false;
    for (const relation of group) {
      const choice = choose(relation);
      if ("record" in choice) {
        const step =
          choice.record.name === relation.name
            ? formatRelation(relation)
            : `${formatRelation(relation)} via ${choice.record.name}`;
        select(choice.record, [...chain, step]);
        return;
      }
      reasons.push(choice.reason);
      conflict ||= choice.conflict;
    }
    throw new LinuxBuilderError(
      "debian.unresolvable",
      `Cannot resolve the guest's packages: ${[...chain, formatGroup(group)].join(" → ")} → ` +
        `${conflict ? "(conflict)" : "(none available)"}: ${reasons.join("; ")} in ${index.label}.`,
      { hint: "Check the suite and architecture, or the package name in --extra-packages." },
    );
  };

  for (const root of roots) resolveGroup([{ name: root.trim() }], []);
  // An index rather than shift(): the queue holds thousands of packages for a real guest.
  for (let i = 0; i < queue.length; i++) {
    const next = queue[i];
    if (next === undefined) break;
    for (const group of [...next.record.preDepends, ...next.record.depends]) resolveGroup(group, next.chain);
  }

  return [...selected.values()].map((s) => s.record).sort((a, b) => compareStrings(a.name, b.name));
}

function versionOk(version: string, relation: Relation): boolean {
  return (
    relation.op === undefined ||
    relation.version === undefined ||
    satisfies(version, relation.op, relation.version)
  );
}

/** An unversioned Provides satisfies only unversioned dependencies; `Provides: x (= v)` also versioned ones. */
function providedOk(provided: Relation, relation: Relation): boolean {
  if (relation.op === undefined || relation.version === undefined) return true;
  return (
    provided.op === "=" &&
    provided.version !== undefined &&
    satisfies(provided.version, relation.op, relation.version)
  );
}

function formatConstraint(relation: Relation): string {
  return relation.op === undefined ? "any version" : `${relation.op} ${relation.version}`;
}
