/**
 * A small harness for the VM tests: compose (or reuse) an image, boot it under QEMU with throw-away
 * secrets, wait for the guest's READY line, and stop it through QMP. The product's lifecycle
 * commands come later; this drives the same pieces directly.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEFAULT_SUPPORTED_FEATURES, type NixSystem } from "../../src/config/config.js";
import { bootInitrd } from "../../src/guest/boot-archive.js";
import { kernelCrash, scanConsole } from "../../src/guest/console-lines.js";
import { guestNixConf } from "../../src/guest/nix-conf.js";
import { writeCpio } from "../../src/image/archive/cpio.js";
import { composeImage } from "../../src/image/compose/compose-image.js";
import { ARCHITECTURES, type Arch, DEFAULT_MIRROR, DEFAULT_SUITE } from "../../src/image/guest/profile.js";
import type { StoredImage } from "../../src/image/store.js";
import { pickFreePort } from "../../src/service/lifecycle-control.js";
import { generateEd25519KeyPair, type SshKeyPair } from "../../src/ssh/openssh-key.js";
import { bootWithCrashRetry, KernelCrashedError } from "../../src/vm/lifecycle/kernel-crash.js";
import { qemuCommand } from "../../src/vm/qemu/argv.js";
import { qemuGuestParameters } from "../../src/vm/qemu/backend.js";
import { qemuFirmware } from "../../src/vm/qemu/firmware.js";
import { QmpClient } from "../../src/vm/qemu/qmp.js";

export const run = promisify(execFile);

/** Where tests keep their cache and images: reused across runs so only the first run downloads. */
export function testHome(): string {
  return process.env.LINUX_BUILDER_TEST_HOME ?? join(process.cwd(), ".cache", "test-home");
}

export async function testImage(arch: Arch): Promise<StoredImage> {
  const home = testHome();
  return composeImage({
    arch,
    suite: DEFAULT_SUITE,
    mirror: process.env.LINUX_BUILDER_TEST_MIRROR ?? DEFAULT_MIRROR,
    extraPackages: [],
    checkValidUntil: true,
    force: false,
    cacheDir: join(home, "cache"),
    imagesDir: join(home, "images"),
  });
}

/** A free loopback port: the product's own pick (serve's forward's), under the name the tests use. */
export const freePort = pickFreePort;

export interface BootedGuest {
  readonly dir: string;
  readonly port: number;
  readonly builderKey: SshKeyPair;
  readonly builderKeyFile: string;
  /** The key that logs in as root, when booted with `rootAccess` (see rootAccessArchive). */
  readonly rootKeyFile?: string;
  readonly hostKey: SshKeyPair;
  readonly knownHostsFile: string;
  readonly consoleLog: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  console(): Promise<string>;
  qmp(): Promise<QmpClient>;
  /** ssh options that pin the host key and use the builder's key, for ssh and NIX_SSHOPTS. */
  sshOptions(keyFile?: string): string[];
  destroy(): Promise<void>;
}

/**
 * A test's way into the guest as root, which the product never offers: one more cpio after the
 * secrets (the kernel unpacks archives in order, a later file replacing an earlier one) with root's
 * authorized key and the image's own sshd_config, changed only to let root in with that key.
 */
async function rootAccessArchive(rootPublicKey: string): Promise<Buffer> {
  const product = await readFile(join(import.meta.dirname, "../../guest/rootfs/etc/ssh/sshd_config"), "utf8");
  const sshdConfig = product
    .replace(/^PermitRootLogin no$/m, "PermitRootLogin prohibit-password")
    .replace(/^AllowUsers builder$/m, "AllowUsers builder root");
  if (
    !/^PermitRootLogin prohibit-password$/m.test(sshdConfig) ||
    !/^AllowUsers builder root$/m.test(sshdConfig)
  )
    throw new Error("guest/rootfs/etc/ssh/sshd_config changed: rootAccessArchive no longer lets root in");
  return writeCpio([
    { path: "etc/ssh/sshd_config", type: "file", mode: 0o644, data: Buffer.from(sshdConfig) },
    { path: "root/.ssh", type: "directory", mode: 0o700 },
    { path: "root/.ssh/authorized_keys", type: "file", mode: 0o600, data: Buffer.from(rootPublicKey) },
  ]);
}

export async function bootGuest(
  image: StoredImage,
  options: {
    diskFile?: string;
    memoryMiB?: number;
    rootAccess?: boolean;
    /** The guest asks QEMU's DHCP server for its address instead of setting the fixed one. */
    network?: "static" | "dhcp";
    /** The systems the guest registers qemu-user for and lists in extra-platforms; none unless asked. */
    emulatedSystems?: readonly NixSystem[];
  } = {},
) {
  const arch = image.manifest.arch;
  const dir = await mkdtemp(join(tmpdir(), "lb-vm-"));
  const builderKey = generateEd25519KeyPair("builder@linux-builder-test");
  const hostKey = generateEd25519KeyPair("root@linux-builder");
  const builderKeyFile = join(dir, "builder_ed25519");
  await writeFile(builderKeyFile, builderKey.privateKey, { mode: 0o600 });
  const rootKey = options.rootAccess ? generateEd25519KeyPair("root@linux-builder-test") : undefined;
  const rootKeyFile = rootKey ? join(dir, "root_ed25519") : undefined;
  if (rootKey && rootKeyFile) await writeFile(rootKeyFile, rootKey.privateKey, { mode: 0o600 });
  const initrd = join(dir, "initrd");
  const qemuParameters = qemuGuestParameters(arch);
  const withSecrets = bootInitrd(await readFile(join(image.directory, "initrd")), {
    secrets: {
      hostPrivateKey: hostKey.privateKey,
      hostPublicKey: hostKey.publicKey,
      authorizedKeys: builderKey.publicKey,
      nixConf: guestNixConf({
        supportedFeatures: DEFAULT_SUPPORTED_FEATURES,
        diskGiB: 4,
        extraSubstituters: [],
        extraTrustedPublicKeys: [],
        extraPlatforms: options.emulatedSystems ?? [],
      }),
      caCertificates: "",
    },
    parameters:
      options.network === "dhcp" ? { ...qemuParameters, network: { kind: "dhcp" } } : qemuParameters,
    emulatedSystems: options.emulatedSystems ?? [],
  });
  // bootInitrd's result ends 4-byte aligned, as a next archive must start.
  const archives = rootKey ? [withSecrets, await rootAccessArchive(rootKey.publicKey)] : [withSecrets];
  await writeFile(initrd, Buffer.concat(archives), { mode: 0o600 });
  const disk = options.diskFile ?? join(dir, "nix.img");
  if (!existsSync(disk)) {
    // Sparse: the guest formats it on first boot.
    await writeFile(disk, "");
    await truncate(disk, 4 * 1024 ** 3);
  }
  const port = await freePort();
  const knownHostsFile = join(dir, "known_hosts");
  const [type, blob] = hostKey.publicKey.split(" ");
  await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${type} ${blob}\n`);
  const consoleLog = join(dir, "console.log");
  const qmpSocket = join(dir, "qmp.sock");
  // The firmware the product boots with (qboot on x86_64 where QEMU ships it).
  const firmware = qemuFirmware(ARCHITECTURES[arch].qemu, arch);
  const { command, args } = qemuCommand({
    arch,
    accel: "tcg",
    ...(firmware === undefined ? {} : { firmware }),
    cpus: 2,
    memoryMiB: options.memoryMiB ?? 1024,
    kernel: join(image.directory, "kernel"),
    initrd,
    disk,
    sshPort: port,
    qmpSocket,
    console: { kind: "file", path: consoleLog },
  });
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const guest: BootedGuest = {
    dir,
    port,
    builderKey,
    builderKeyFile,
    ...(rootKeyFile ? { rootKeyFile } : {}),
    hostKey,
    knownHostsFile,
    consoleLog,
    process: child,
    exited,
    console: () => readFile(consoleLog, "utf8").catch(() => ""),
    qmp: () => QmpClient.connect(qmpSocket),
    sshOptions: (keyFile = builderKeyFile) => [
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${knownHostsFile}`,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "ConnectTimeout=20",
      "-i",
      keyFile,
      "-p",
      String(port),
    ],
    async destroy() {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
      if (process.env.LINUX_BUILDER_KEEP_VM_DIR !== "1") await rm(dir, { recursive: true, force: true });
    },
  };
  void stderr;
  return guest;
}

const READY = /linux-builder: READY at [0-9.]+s/;

/**
 * Boots (bootGuest) and waits for READY; once more if the kernel crashed while booting, as start and
 * run do (kernel-crash.ts: QEMU 7.2's multi-threaded TCG loses a race with the kernel patching its
 * own code in about 1 boot in 15 here). A guest that does not get there is destroyed.
 */
export async function bootUntilReady(
  image: StoredImage,
  options: Parameters<typeof bootGuest>[1],
  timeoutMs: number,
): Promise<BootedGuest> {
  return bootWithCrashRetry(
    async () => {
      const guest = await bootGuest(image, options);
      try {
        await waitForConsole(guest, READY, timeoutMs);
        return guest;
      } catch (error) {
        const crash = guest.process.exitCode !== null ? kernelCrash(await guest.console()) : undefined;
        await guest.destroy();
        throw crash === undefined ? error : new KernelCrashedError(crash);
      }
    },
    () => false,
    () => undefined,
  );
}

/** Waits for a console line matching `pattern`; fails early if QEMU exits or the guest reports FAILED. */
export async function waitForConsole(
  guest: BootedGuest,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void guest.exited.then((code) => {
    exitCode = code;
  });
  for (;;) {
    const text = await guest.console();
    const match = pattern.exec(text);
    if (match) return match[0];
    if (scanConsole(text)?.kind === "failed")
      throw new Error(`the guest failed to boot:\n${text.slice(-3000)}`);
    if (exitCode !== undefined)
      throw new Error(`QEMU exited (${exitCode}) before ${pattern}:\n${text.slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`no ${pattern} on the console within ${timeoutMs} ms:\n${text.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Runs a command in the guest over ssh, as builder or (for a guest booted with `rootAccess`) as
 * root, retrying while sshd is still coming up.
 */
export async function sshRun(
  guest: BootedGuest,
  command: string,
  timeoutMs = 60_000,
  user: "builder" | "root" = "builder",
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const keyFile = user === "root" ? guest.rootKeyFile : guest.builderKeyFile;
  if (!keyFile) throw new Error("this guest was booted without rootAccess");
  for (;;) {
    try {
      const { stdout } = await run("ssh", [...guest.sshOptions(keyFile), `${user}@127.0.0.1`, command], {
        timeout: 120_000,
      });
      return stdout;
    } catch (error) {
      const message = String((error as { stderr?: string }).stderr ?? error);
      // Refused or reset: sshd not listening yet. Anything else (a key problem) is final.
      if (
        !/Connection (refused|reset|closed)|kex_exchange_identification|timed out/i.test(message) ||
        Date.now() > deadline
      ) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** Resolves with `promise`, or rejects after `ms` with `message`; never keeps the process alive by itself. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
