/**
 * The applets a busybox binary has, read from the binary itself: busybox keeps their names as one
 * sorted, NUL-separated table that starts with "[" and "[[". The composer makes the symlinks
 * (`busybox --install -s` in the guest cost 0.25 s of every boot under TCG). Undefined when the
 * table is not found or does not look like one: the guest then installs them itself.
 */
export function busyboxApplets(binary: Buffer): string[] | undefined {
  const start = binary.indexOf(Buffer.from("[\0[[\0", "latin1"));
  if (start === -1) return undefined;
  const names: string[] = [];
  let at = start;
  for (;;) {
    const end = binary.indexOf(0, at);
    if (end === -1 || end === at) break;
    const name = binary.toString("latin1", at, end);
    if (!/^[[\]a-z0-9._-]+$/.test(name)) break;
    names.push(name);
    at = end + 1;
  }
  const sorted = names.every((name, i) => i === 0 || (names[i - 1] as string) < name);
  return sorted && names.length >= 10 && names.includes("sh") ? names : undefined;
}
