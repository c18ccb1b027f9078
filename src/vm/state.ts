import { chmod, mkdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LinuxBuilderError } from "../errors.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { generateEd25519KeyPair } from "../ssh/openssh-key.js";

/** The files of one builder install, all under its state directory. */
export interface StateLayout {
  readonly dir: string;
  readonly pidfile: string;
  readonly startLock: string;
  readonly qmpSocket: string;
  readonly consoleSocket: string;
  readonly consoleLog: string;
  readonly disk: string;
  /** The initrd QEMU boots: the shared image plus this install's secrets (0600). */
  readonly bootInitrd: string;
  readonly instance: string;
  readonly hostKey: string;
  readonly hostPublicKey: string;
  readonly builderKey: string;
  readonly builderPublicKey: string;
  readonly knownHosts: string;
  /** The guest's Nix daemon socket, forwarded here by the reused ssh connection (see isReady). */
  readonly daemonSocket: string;
  /** The service's control socket (`linux-builder serve`; see service/control-protocol.ts). */
  readonly serviceSocket: string;
  /** Held by the one serve of this state folder (its pid; see service/claim.ts). */
  readonly serviceLock: string;
  /** The service's own log, which `logs` shows beside the console's. */
  readonly serviceLog: string;
  /**
   * The service's own ssh files: its reused connection goes straight to the backend's forward, so it
   * must not be the one `linux-builder ssh` reuses (that goes through the front door, and counts).
   */
  readonly serviceSshDir: string;
}

export function stateLayout(dir: string): StateLayout {
  return {
    dir,
    pidfile: join(dir, "qemu.pid"),
    startLock: join(dir, "start.lock"),
    qmpSocket: join(dir, "qmp.sock"),
    consoleSocket: join(dir, "console.sock"),
    consoleLog: join(dir, "console.log"),
    disk: join(dir, "nix.img"),
    bootInitrd: join(dir, "initrd"),
    instance: join(dir, "instance.json"),
    hostKey: join(dir, "keys", "ssh_host_ed25519_key"),
    hostPublicKey: join(dir, "keys", "ssh_host_ed25519_key.pub"),
    builderKey: join(dir, "keys", "builder_ed25519"),
    builderPublicKey: join(dir, "keys", "builder_ed25519.pub"),
    knownHosts: join(dir, "known_hosts"),
    daemonSocket: join(dir, "nix.sock"),
    serviceSocket: join(dir, "serve.sock"),
    serviceLock: join(dir, "serve.lock"),
    serviceLog: join(dir, "serve.log"),
    serviceSshDir: join(dir, "serve"),
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export interface InstallKeys {
  /** OpenSSH public line of the guest's host key. */
  readonly hostPublicKey: string;
  readonly builderPublicKey: string;
}

/**
 * This install's keys, made once: the guest's ed25519 host key (unique per install, pinned by the
 * host's Nix) and the builder's key the host logs in with. Private keys are 0600.
 */
export async function ensureKeys(layout: StateLayout): Promise<InstallKeys> {
  await mkdir(join(layout.dir, "keys"), { recursive: true, mode: 0o700 });
  for (const [privatePath, publicPath, comment] of [
    [layout.hostKey, layout.hostPublicKey, "root@linux-builder"],
    [layout.builderKey, layout.builderPublicKey, "builder@linux-builder"],
  ] as const) {
    if (!(await exists(privatePath)) || !(await exists(publicPath))) {
      const pair = generateEd25519KeyPair(comment);
      await writeFileAtomic(privatePath, pair.privateKey, 0o600);
      await writeFileAtomic(publicPath, pair.publicKey, 0o644);
    } else {
      // Keep private keys private even if something loosened them.
      await chmod(privatePath, 0o600);
    }
  }
  return {
    hostPublicKey: (await readFile(layout.hostPublicKey, "utf8")).trim(),
    builderPublicKey: (await readFile(layout.builderPublicKey, "utf8")).trim(),
  };
}

const GIB = 1024 ** 3;

/**
 * The /nix disk: a sparse raw file. Created at the configured size, grown when the size is raised
 * (the guest grows its file system at boot), never shrunk: a smaller setting is an error, since
 * shrinking would lose the store.
 */
export async function ensureDisk(
  path: string,
  sizeGiB: number,
): Promise<{ created: boolean; grownFromGiB?: number }> {
  const wanted = sizeGiB * GIB;
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) {
    await writeFile(path, "", { mode: 0o600 });
    await truncate(path, wanted);
    return { created: true };
  }
  if (info.size > wanted) {
    const current = Math.round((info.size / GIB) * 10) / 10;
    throw new LinuxBuilderError(
      "config.disk-shrink",
      `The builder's disk ${path} is ${current} GiB; diskGiB ${sizeGiB} would shrink it, which loses the Nix store`,
      {
        hint: `Set diskGiB to ${Math.ceil(info.size / GIB)} or more, or remove the disk (and its store) to start over.`,
      },
    );
  }
  if (info.size < wanted) {
    await truncate(path, wanted);
    return { created: false, grownFromGiB: Math.round((info.size / GIB) * 10) / 10 };
  }
  return { created: false };
}

/** Bytes the sparse disk really uses on the host. */
export async function diskUsage(
  layout: StateLayout,
): Promise<{ allocated: number; size: number } | undefined> {
  const info = await stat(layout.disk).catch(() => undefined);
  if (info === undefined) return undefined;
  return { allocated: info.blocks * 512, size: info.size };
}
