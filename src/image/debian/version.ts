import { LinuxBuilderError } from "../../errors.js";

/** dpkg's relation operators. The deprecated "<" and ">" are normalized to "<=" and ">=" by the relation parser. */
export type VersionOp = "<<" | "<=" | "=" | ">=" | ">>";

export interface ParsedVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** Splits "[epoch:]upstream[-revision]" as dpkg does: the epoch ends at the first ":", the revision starts after the last "-". */
export function parseVersion(version: string): ParsedVersion {
  const trimmed = version.trim();
  let epoch = 0;
  let rest = trimmed;
  const colon = trimmed.indexOf(":");
  if (colon >= 0) {
    const epochText = trimmed.slice(0, colon);
    if (!/^\d+$/.test(epochText)) {
      throw new LinuxBuilderError(
        "debian.version-invalid",
        `Cannot compare the version ${JSON.stringify(version)}: its epoch ${JSON.stringify(epochText)} is not a number.`,
        { hint: "The package index has a malformed Version field; check the mirror." },
      );
    }
    epoch = Number(epochText);
    rest = trimmed.slice(colon + 1);
  }
  const dash = rest.lastIndexOf("-");
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : "";
  if (upstream === "") {
    throw new LinuxBuilderError(
      "debian.version-invalid",
      `Cannot compare the version ${JSON.stringify(version)}: its upstream part is empty.`,
      { hint: "The package index has a malformed Version field; check the mirror." },
    );
  }
  return { epoch, upstream, revision };
}

/** Sorting weight of one character in a non-digit run: "~" before the end, the end before letters, letters before the rest. */
function order(c: string | undefined): number {
  if (c === undefined) return 0;
  if (c === "~") return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  if (/\d/.test(c)) return 0;
  return c.charCodeAt(0) + 256;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";

/** dpkg's verrevcmp: alternate non-digit runs (compared with `order`) and digit runs (compared numerically). */
function compareFragment(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (firstDiff === 0) firstDiff = (a.charCodeAt(i) ?? 0) - (b.charCodeAt(j) ?? 0);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Compares two Debian versions: negative if a < b, 0 if equal, positive if a > b. */
export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va.epoch !== vb.epoch) return Math.sign(va.epoch - vb.epoch);
  const upstream = compareFragment(va.upstream, vb.upstream);
  if (upstream !== 0) return Math.sign(upstream);
  return Math.sign(compareFragment(va.revision, vb.revision));
}

/** Whether `version` satisfies the relation `op ref`, e.g. satisfies("3.5.1-1", ">=", "3.2"). */
export function satisfies(version: string, op: VersionOp, ref: string): boolean {
  const c = compareVersions(version, ref);
  switch (op) {
    case "<<":
      return c < 0;
    case "<=":
      return c <= 0;
    case "=":
      return c === 0;
    case ">=":
      return c >= 0;
    case ">>":
      return c > 0;
  }
}
