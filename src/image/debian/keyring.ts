import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as openpgp from "openpgp";
import { LinuxBuilderError } from "../../errors.js";
import { readFileOr } from "../../fs/read-file-or.js";
import { packageRoot } from "../../host/package-root.js";

/** Debian's own keyring, used in addition to the shipped keys when the host has it (newer keys arrive there). */
export const HOST_DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

export interface LoadKeyringOptions {
  /** Include the keys shipped in the package's keys/ directory (default true). */
  shipped?: boolean;
  /** The host keyring to add if it exists; null to skip it (default HOST_DEBIAN_KEYRING). */
  hostKeyring?: string | null;
}

/**
 * The archive keys to verify InRelease files with: the keys shipped in keys/, the host's Debian
 * keyring if present, and the user-supplied keyring files in `paths` (binary or ASCII-armored,
 * e.g. for a private mirror or tests). Keys are deduplicated by fingerprint; copies of one key are
 * merged so that, say, a later expiry extension in the host keyring counts.
 */
export async function loadKeyring(
  paths: string[] = [],
  opts: LoadKeyringOptions = {},
): Promise<openpgp.PublicKey[]> {
  const sources: { path: string; optional: boolean }[] = [];
  if (opts.shipped ?? true) {
    for (const file of shippedKeyFiles()) sources.push({ path: file, optional: false });
  }
  const host = opts.hostKeyring === undefined ? HOST_DEBIAN_KEYRING : opts.hostKeyring;
  if (host !== null && existsSync(host)) sources.push({ path: host, optional: true });
  for (const path of paths) sources.push({ path, optional: false });

  const byFingerprint = new Map<string, openpgp.PublicKey>();
  for (const source of sources) {
    let keys: openpgp.PublicKey[];
    try {
      keys = await readKeyringFile(source.path);
    } catch (error) {
      // The host keyring is a bonus: a copy OpenPGP.js cannot read must not stop a build.
      if (source.optional) continue;
      throw error;
    }
    for (const key of keys) {
      const fingerprint = key.getFingerprint();
      const existing = byFingerprint.get(fingerprint);
      byFingerprint.set(fingerprint, existing === undefined ? key : await merge(existing, key));
    }
  }
  return [...byFingerprint.values()];
}

async function merge(existing: openpgp.PublicKey, other: openpgp.PublicKey): Promise<openpgp.PublicKey> {
  try {
    return await existing.update(other);
  } catch {
    return existing;
  }
}

/** Reads one keyring file, binary (like /usr/share/keyrings/*.gpg) or ASCII-armored. */
export async function readKeyringFile(path: string): Promise<openpgp.PublicKey[]> {
  const bytes = await readFileOr(
    path,
    (cause) =>
      new LinuxBuilderError("debian.keyring-missing", `Cannot read the keyring ${path}: ${String(cause)}.`, {
        hint: "Check the path of the keyring file.",
        cause,
      }),
  );
  return parseKeyring(bytes, path);
}

/** Parses keyring bytes; `source` names them in errors. Private keys are reduced to their public part. */
export async function parseKeyring(bytes: Uint8Array, source: string): Promise<openpgp.PublicKey[]> {
  const head = new TextDecoder().decode(bytes.subarray(0, 4096));
  try {
    const keys = head.includes("-----BEGIN PGP")
      ? await openpgp.readKeys({ armoredKeys: new TextDecoder().decode(bytes) })
      : await openpgp.readKeys({ binaryKeys: bytes });
    return keys.map((key) => (key.isPrivate() ? key.toPublic() : key));
  } catch (cause) {
    throw new LinuxBuilderError(
      "debian.keyring-invalid",
      `Cannot read the keyring ${source}: ${cause instanceof Error ? cause.message : String(cause)}.`,
      { hint: "Give an OpenPGP public keyring, binary (.gpg) or ASCII-armored (.asc).", cause },
    );
  }
}

/** The keyring files shipped in the package's keys/ directory, sorted by name. */
export function shippedKeyFiles(): string[] {
  const dir = shippedKeysDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (cause) {
    throw new LinuxBuilderError("debian.keyring-missing", `Cannot read the shipped archive keys in ${dir}.`, {
      hint: "The installation is incomplete: reinstall linux-builder.",
      cause,
    });
  }
  const files = names.filter((n) => n.endsWith(".gpg") || n.endsWith(".asc")).sort();
  if (files.length === 0) {
    throw new LinuxBuilderError(
      "debian.keyring-missing",
      `Cannot find any archive key (*.gpg, *.asc) in ${dir}.`,
      {
        hint: "The installation is incomplete: reinstall linux-builder.",
      },
    );
  }
  return files.map((n) => join(dir, n));
}

/** keys/ at the package root. */
export function shippedKeysDir(): string {
  return join(packageRoot(), "keys");
}
