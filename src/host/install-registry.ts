import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { Paths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { parseJsonFormat } from "../json.js";

/**
 * The user's record of the builders `install` set up, so `status` and `doctor` can show every one of
 * a pool. The machines file cannot say this: it may be readable by root only, and it names each
 * builder's alias and port but not its state folder (where its VM, keys and service live). So install
 * adds a builder here once its plan is applied, and uninstall removes it; a builder is known by the
 * Nix folder it was installed into and its port (one alias, key and machines block per port there).
 */
const installedBuilderSchema = z
  .object({
    nixConfDir: z.string().min(1),
    sshConfigDir: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    stateDir: z.string().min(1),
    arch: z.enum(["amd64", "arm64"]),
    /** The systems its machines line lists: the native one first, then the emulated ones. */
    systems: z.array(z.string().min(1)).min(1),
  })
  .strict();
const registrySchema = z.object({ builders: z.array(installedBuilderSchema) }).strict();

export type InstalledBuilder = z.infer<typeof installedBuilderSchema>;
export type InstallRegistry = z.infer<typeof registrySchema>;

/** Beside the user's config file (linux-builder's config folder, or LINUX_BUILDER_HOME). */
export function installRegistryPath(paths: Pick<Paths, "config">): string {
  return join(dirname(paths.config), "installed-builders.json");
}

const sameInstall = (a: Pick<InstalledBuilder, "nixConfDir" | "port">, b: typeof a) =>
  a.nixConfDir === b.nixConfDir && a.port === b.port;

/** The registry with this builder recorded: it replaces one installed at the same folder and port (install overwrote its block). */
export function withBuilder(registry: InstallRegistry, builder: InstalledBuilder): InstallRegistry {
  const others = registry.builders.filter((known) => !sameInstall(known, builder));
  return { builders: [...others, builder].sort((a, b) => a.port - b.port) };
}

/** The registry without the builder installed at this folder and port. */
export function withoutBuilder(
  registry: InstallRegistry,
  install: Pick<InstalledBuilder, "nixConfDir" | "port">,
): InstallRegistry {
  return { builders: registry.builders.filter((known) => !sameInstall(known, install)) };
}

export async function readInstallRegistry(path: string): Promise<InstallRegistry> {
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (text === undefined) return { builders: [] };
  const broken = (reason: string) =>
    new LinuxBuilderError(
      "install.registry",
      `${path}, the record of installed builders, cannot be read: ${reason}`,
      {
        hint: "linux-builder writes it at install and uninstall: delete it, then run `linux-builder install` again for each builder (with its --state-dir and --port).",
      },
    );
  return parseJsonFormat(registrySchema, text, {
    syntax: (reason) => broken(`not JSON (${reason})`),
    invalid: (field, message) => broken(`${field}: ${message}`),
  });
}

/** Reads, changes and writes the record (atomically: a reader never sees half of it). */
export async function updateInstallRegistry(
  path: string,
  change: (registry: InstallRegistry) => InstallRegistry,
): Promise<void> {
  const next = change(await readInstallRegistry(path));
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`, 0o644);
}
