import { createHash } from "node:crypto";
import type { ContentCache } from "../cache/content-cache.js";
import { COMPOSER_FORMAT } from "./image-inputs.js";

/**
 * The name a result made from a cached .deb is kept under: `what`, then a hash of the composer's
 * format and of whatever else shaped it (`shapedBy`), so a result made by another version of the
 * composer or from another profile is never taken for this one.
 */
export function derivedName(what: string, shapedBy: unknown = null): string {
  const key = createHash("sha256")
    .update(JSON.stringify([COMPOSER_FORMAT, shapedBy]))
    .digest("hex");
  return `${what}-${key.slice(0, 16)}`;
}

/**
 * The result `name` made from the cached .deb `debSha256`: kept in the content cache (which checks
 * its hash at each read), or made by `make` and kept. A kept file `read` cannot take is made again.
 */
export async function derivedResult<T>(
  cache: ContentCache,
  debSha256: string,
  name: string,
  read: (data: Buffer) => T | undefined,
  make: () => Promise<Buffer>,
): Promise<T> {
  const kept = await cache.readDerived(debSha256, name);
  const fromCache = kept === undefined ? undefined : read(kept);
  if (fromCache !== undefined) return fromCache;
  const made = await make();
  const result = read(made);
  if (result === undefined) throw new Error(`the composer made a ${name} it cannot read back`);
  await cache.storeDerived(debSha256, name, made);
  return result;
}
