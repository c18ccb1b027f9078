import { z } from "zod";
import { LinuxBuilderError } from "../errors.js";
import { parseJsonFormat } from "../json.js";

/** One resolved .deb, pinned by hash: enough to fetch it again and prove it is the same file. */
const lockedPackage = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "a Debian package name"),
    version: z.string().min(1),
    architecture: z.enum(["amd64", "arm64", "all"]),
    filename: z
      .string()
      .regex(/^pool\/[A-Za-z0-9+._~/-]+\.deb$/, "a pool/… path ending in .deb, without '..'")
      .refine((path) => !path.split("/").includes(".."), "a path without '..'"),
    size: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits"),
  })
  .strict();

export const lockSchema = z
  .object({
    lockVersion: z.literal(1),
    suite: z.string().min(1),
    arch: z.enum(["amd64", "arm64"]),
    /**
     * The roots the closure was resolved from (the guest profile plus --extra-packages); the data
     * packages among them (profile.ts) are pinned without their dependencies.
     */
    roots: z.array(z.string()),
    kernel: lockedPackage,
    packages: z.array(lockedPackage).min(1),
  })
  .strict();

export type LockedPackage = z.infer<typeof lockedPackage>;
export type Lock = z.infer<typeof lockSchema>;

/** Canonical text of a lock: fixed key order, packages sorted, so equal locks are equal bytes. */
export function serializeLock(lock: Lock): string {
  const pkg = (p: LockedPackage): LockedPackage => ({
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    filename: p.filename,
    size: p.size,
    sha256: p.sha256,
  });
  const canonical: Lock = {
    lockVersion: 1,
    suite: lock.suite,
    arch: lock.arch,
    roots: [...lock.roots].sort(),
    kernel: pkg(lock.kernel),
    packages: [...lock.packages].map(pkg).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
  return `${JSON.stringify(canonical, null, 2)}\n`;
}

/** Parses and validates a lock file; errors name the file and the field. */
export function parseLock(text: string, source: string): Lock {
  const hint = "A lock file is the lock.json written beside an image; pass that file unchanged.";
  const lock = parseJsonFormat(lockSchema, text, {
    syntax: (reason) =>
      new LinuxBuilderError("lock.syntax", `Cannot read the lock file ${source}: ${reason}`, { hint }),
    invalid: (field, message) =>
      new LinuxBuilderError(
        "lock.invalid",
        `Cannot use the lock file ${source}: field ${field}: ${message}`,
        {
          hint,
        },
      ),
  });
  const names = new Set<string>();
  for (const p of lock.packages) {
    if (names.has(p.name)) {
      throw new LinuxBuilderError(
        "lock.invalid",
        `Cannot use the lock file ${source}: package ${p.name} is listed twice`,
      );
    }
    names.add(p.name);
  }
  return lock;
}
