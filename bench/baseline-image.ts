/**
 * The baseline guest, built the conventional way: an mmdebstrap root file system of the same suite,
 * mirror and package roots as our image, with systemd as init, Debian's nix-daemon units
 * (nix-setup-systemd, socket-activated), sshd, and the same kernel package, whose initramfs-tools
 * hook makes /boot/initrd.img. The tree becomes an ext4 disk image with `mke2fs -d` (no loop mounts).
 * This is the shape of a NixOS-based builder: a root disk, systemd bringing up units.
 *
 * Built once per set of inputs, cached in .cache/bench/baseline-<hash>/ (disk.img, vmlinuz,
 * initrd.img, keys/, info.json).
 */
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lock } from "../src/image/lock.js";
import { generateEd25519KeyPair } from "../src/ssh/openssh-key.js";
import { BENCH_DIR, exists, log, ROOT, runCommand, sha256, tail, timed } from "./support.js";

/** Bumped whenever what this file builds changes for the same inputs. */
const BASELINE_FORMAT = 1;
/** The root disk's size: the same 8 GiB our bench gives the /nix disk. */
export const BASELINE_DISK_SIZE = "8G";

export interface BaselineImage {
  readonly directory: string;
  /** The pristine disk: copied for a first boot, never booted itself. */
  readonly disk: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The builder's key (private; .pub beside it) and the guest's fixed host public key line. */
  readonly builderKey: string;
  readonly hostPublicKey: string;
  readonly info: BaselineInfo;
}

export interface BaselineInfo {
  readonly packages: readonly string[];
  readonly installedPackages: number;
  /** Seconds mmdebstrap and mke2fs took when the image was made (once; not a timed figure). */
  readonly buildSeconds: number;
  readonly rootTreeBytes: number;
}

/** The package roots: ours (less systemd-standalone-sysusers, which conflicts with systemd), plus
 * what a conventional systemd system with Nix's daemon units and its own kernel needs. */
export function baselinePackages(lock: Lock): string[] {
  const ours = lock.roots.filter((name) => name !== "systemd-standalone-sysusers");
  return [
    ...ours,
    "systemd-sysv",
    "udev",
    "nix-setup-systemd",
    "initramfs-tools",
    `${lock.kernel.name}=${lock.kernel.version}`,
  ];
}

/**
 * The same Nix settings as our guest: trusted-users = root builder, sandbox, features. Its CA
 * bundle where Debian's ca-certificates puts it (ours keeps it elsewhere: ca-bundle.ts).
 */
async function baselineNixConf(): Promise<string> {
  const ours = await readFile(join(ROOT, "guest", "rootfs", "etc", "nix", "nix.conf"), "utf8");
  return ours.replace(/^ssl-cert-file = .*$/m, "ssl-cert-file = /etc/ssl/certs/ca-certificates.crt");
}

/** Files laid over the tree after the packages are configured. */
async function overlayFiles(options: {
  builderPublicKey: string;
  hostKey: { privateKey: string; publicKey: string };
}): Promise<Record<string, { content: string; mode: number }>> {
  const nixConf = await baselineNixConf();
  return {
    "etc/nix/nix.conf": { content: nixConf, mode: 0o644 },
    "etc/ssh/ssh_host_ed25519_key": { content: options.hostKey.privateKey, mode: 0o600 },
    "etc/ssh/ssh_host_ed25519_key.pub": { content: `${options.hostKey.publicKey}\n`, mode: 0o644 },
    "etc/ssh/sshd_config.d/bench.conf": {
      content: "HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n",
      mode: 0o644,
    },
    // QEMU user networking's fixed addresses, as our guest sets them (no DHCP wait either way).
    "etc/systemd/network/10-qemu.network": {
      content: "[Match]\nName=en* eth*\n\n[Network]\nAddress=10.0.2.15/24\nGateway=10.0.2.2\nDNS=10.0.2.3\n",
      mode: 0o644,
    },
    "etc/fstab": { content: "/dev/vda / ext4 rw,errors=remount-ro 0 1\n", mode: 0o644 },
    "etc/hostname": { content: "baseline-builder\n", mode: 0o644 },
    // systemd's "first boot" state, as a golden image has it.
    "etc/machine-id": { content: "uninitialized\n", mode: 0o444 },
    "home/builder/.ssh/authorized_keys": { content: `${options.builderPublicKey}\n`, mode: 0o600 },
  };
}

/** Runs inside mmdebstrap's customize hook, $1 being the root tree. */
const CUSTOMIZE = `set -eu
root="$1"; overlay="$2"
chroot "$root" useradd --create-home --shell /bin/bash --groups nix-users builder
chroot "$root" usermod -p '*' builder
rm -f "$root"/etc/ssh/ssh_host_*_key "$root"/etc/ssh/ssh_host_*_key.pub
cp -a "$overlay"/. "$root"/
chroot "$root" chown -R builder:builder /home/builder
chroot "$root" systemctl enable systemd-networkd.service ssh.service nix-daemon.socket
`;

function cacheKey(lock: Lock, mirror: string, nixConf: string): string {
  return sha256(
    JSON.stringify({
      format: BASELINE_FORMAT,
      suite: lock.suite,
      arch: lock.arch,
      mirror,
      packages: baselinePackages(lock),
      nixConf,
      customize: CUSTOMIZE,
      size: BASELINE_DISK_SIZE,
    }),
  ).slice(0, 16);
}

async function load(directory: string): Promise<BaselineImage> {
  const info = JSON.parse(await readFile(join(directory, "info.json"), "utf8")) as BaselineInfo;
  return {
    directory,
    disk: join(directory, "disk.img"),
    kernel: join(directory, "vmlinuz"),
    initrd: join(directory, "initrd.img"),
    builderKey: join(directory, "keys", "builder_ed25519"),
    hostPublicKey: (await readFile(join(directory, "keys", "ssh_host_ed25519_key.pub"), "utf8")).trim(),
    info,
  };
}

/** The cached baseline image for this lock and mirror, built first when there is none. */
export async function ensureBaselineImage(lock: Lock, mirror: string): Promise<BaselineImage> {
  if (lock.arch !== "amd64") throw new Error("the baseline is built for amd64 only");
  const directory = join(BENCH_DIR, `baseline-${cacheKey(lock, mirror, await baselineNixConf())}`);
  if (await exists(join(directory, "info.json"))) return load(directory);

  const work = `${directory}.tmp-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, "keys"), { recursive: true, mode: 0o700 });
  try {
    const builder = generateEd25519KeyPair("builder@bench");
    const hostKey = generateEd25519KeyPair("root@baseline-builder");
    await writeFile(join(work, "keys", "builder_ed25519"), builder.privateKey, { mode: 0o600 });
    await writeFile(join(work, "keys", "builder_ed25519.pub"), `${builder.publicKey}\n`);
    await writeFile(join(work, "keys", "ssh_host_ed25519_key.pub"), `${hostKey.publicKey}\n`);

    const overlay = join(work, "overlay");
    for (const [path, file] of Object.entries(
      await overlayFiles({ builderPublicKey: builder.publicKey, hostKey }),
    )) {
      const target = join(overlay, path);
      await mkdir(join(target, ".."), { recursive: true });
      await writeFile(target, file.content);
      await chmod(target, file.mode);
    }
    await chmod(join(overlay, "home", "builder", ".ssh"), 0o700);
    const customize = join(work, "customize.sh");
    await writeFile(customize, CUSTOMIZE);

    const tree = join(work, "root");
    const packages = baselinePackages(lock);
    log(`baseline: mmdebstrap --variant=apt ${lock.suite} with ${packages.join(",")} (once, cached)`);
    const built = await timed(async () => {
      const mm = await runCommand(
        "mmdebstrap",
        [
          "--mode=root",
          "--variant=apt",
          "--format=directory",
          `--architectures=${lock.arch}`,
          `--include=${packages.join(",")}`,
          `--customize-hook=sh ${customize} "$1" ${overlay}`,
          lock.suite,
          tree,
          mirror,
        ],
        { timeoutMs: 20 * 60_000 },
      );
      if (mm.code !== 0) throw new Error(`mmdebstrap failed (${mm.code}):\n${tail(mm.stderr, 25)}`);
      const boot = await readdir(join(tree, "boot"));
      const kernel = boot.find((name) => name.startsWith("vmlinuz-"));
      const initrd = boot.find((name) => name.startsWith("initrd.img-"));
      if (!kernel || !initrd) throw new Error(`no vmlinuz/initrd.img in the tree's /boot: ${boot.join(" ")}`);
      await copyFile(join(tree, "boot", kernel), join(work, "vmlinuz"));
      await copyFile(join(tree, "boot", initrd), join(work, "initrd.img"));
      const mk = await runCommand(
        "mke2fs",
        ["-q", "-F", "-t", "ext4", "-L", "root", "-d", tree, join(work, "disk.img"), BASELINE_DISK_SIZE],
        { timeoutMs: 10 * 60_000 },
      );
      if (mk.code !== 0) throw new Error(`mke2fs -d failed (${mk.code}):\n${tail(mk.stderr)}`);
    });
    const du = await runCommand("du", ["-sb", tree]);
    const dpkg = await runCommand("chroot", [tree, "dpkg-query", "--show", "--showformat=.\\n"]);
    const info: BaselineInfo = {
      packages,
      installedPackages: dpkg.stdout.trim().split("\n").filter(Boolean).length,
      buildSeconds: built.seconds,
      rootTreeBytes: Number.parseInt(du.stdout, 10),
    };
    await writeFile(join(work, "info.json"), `${JSON.stringify(info, null, 2)}\n`);
    await rm(tree, { recursive: true, force: true });
    await rm(overlay, { recursive: true, force: true });
    await rm(directory, { recursive: true, force: true });
    await rename(work, directory);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  log(`baseline: image ready in ${directory}`);
  return load(directory);
}
