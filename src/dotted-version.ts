/** Dotted version numbers as tools print them ("7.2.22", "2.29.0"), compared number by number. */

/** The first dotted number in `text` ("QEMU emulator version 7.2.22 (Debian …)" → [7, 2, 22]). */
export function parseVersion(text: string): number[] | undefined {
  const match = /(\d+(?:\.\d+)*)/.exec(text);
  return match?.[1]?.split(".").map(Number);
}

/** Compares dotted versions number by number; a missing part counts as 0 (12.4 = 12.4.0). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

/**
 * Nix's version from `nix --version`: the last dotted number of its first line ("nix (Nix) 2.8.0";
 * Determinate's "nix (Determinate Nix 3.6.2) 2.29.0" is Nix 2.29.0).
 */
export function parseNixVersion(text: string): number[] | undefined {
  const first = text.split("\n")[0] ?? "";
  const match = /(\d+(?:\.\d+)+)(?!.*\d)/.exec(first);
  return match?.[1]?.split(".").map(Number) ?? parseVersion(first);
}
