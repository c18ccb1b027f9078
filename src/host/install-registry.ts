import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { Paths } from "../config/paths.js";
import { LinuxBuilderError } from "../errors.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { parseJsonFormat } from "../json.js";
import { withRegistryLock } from "./install-registry-lock.js";
import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR } from "./installed-paths.js";
import { shellWord } from "./shell-word.js";

/**
 * The user's record of the builders `install` set up, so `status` and `doctor` can show every one of
 * a pool. The machines file cannot say this: it may be readable by root only, and it names each
 * builder's alias and port but not its state folder (where its VM, keys and service live). So install
 * adds a builder here once its plan is applied, and uninstall removes it; a builder is known by the
 * Nix folder it was installed into and its state folder (its key: install moves its machines block
 * when its port changes, and uninstall removes every port with that key).
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

export type InstallIdentity = Pick<InstalledBuilder, "nixConfDir" | "stateDir">;

const sameInstall = (a: InstallIdentity, b: InstallIdentity) =>
  a.nixConfDir === b.nixConfDir && a.stateDir === b.stateDir;

/** The registry with this builder recorded: it replaces the record of the same state folder in that Nix folder (whatever its port was). */
export function withBuilder(registry: InstallRegistry, builder: InstalledBuilder): InstallRegistry {
  const others = registry.builders.filter((known) => !sameInstall(known, builder));
  return { builders: [...others, builder].sort((a, b) => a.port - b.port) };
}

/** The registry without the builder of this state folder in this Nix folder. */
export function withoutBuilder(registry: InstallRegistry, install: InstallIdentity): InstallRegistry {
  return { builders: registry.builders.filter((known) => !sameInstall(known, install)) };
}

/** The command that uninstalls a recorded builder (its host folders named only where they are not the defaults). */
export function uninstallCommandFor(
  builder: Pick<InstalledBuilder, "port" | "stateDir" | "nixConfDir" | "sshConfigDir">,
): string {
  const words = [
    "linux-builder",
    "uninstall",
    "--port",
    String(builder.port),
    "--state-dir",
    builder.stateDir,
  ];
  if (builder.nixConfDir !== DEFAULT_NIX_CONF_DIR) words.push("--nix-conf-dir", builder.nixConfDir);
  if (builder.sshConfigDir !== DEFAULT_SSH_CONFIG_DIR) words.push("--ssh-config-dir", builder.sshConfigDir);
  return words.map(shellWord).join(" ");
}

/** What status and doctor say of a recorded builder whose state folder is gone. */
export function stateFolderMissing(builder: Parameters<typeof uninstallCommandFor>[0]): string {
  return `state folder missing: \`${uninstallCommandFor(builder)}\` removes it`;
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

/**
 * Reads, changes and writes the record under its lock (so concurrent updates all land), atomically
 * (a reader never sees half of it).
 */
export async function updateInstallRegistry(
  path: string,
  change: (registry: InstallRegistry) => InstallRegistry,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await withRegistryLock(`${path}.lock`, async () => {
    const next = change(await readInstallRegistry(path));
    await writeFileAtomic(path, `${JSON.stringify(next, null, 2)}\n`, 0o644);
  });
}
