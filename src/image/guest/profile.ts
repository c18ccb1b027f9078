/**
 * What the builder guest is made of. Data only: the composer reads it, tests pin it.
 */

/** Debian architectures we compose for, and the Nix system each one builds. */
export const ARCHITECTURES = {
  amd64: { nixSystem: "x86_64-linux", qemu: "qemu-system-x86_64", console: "ttyS0" },
  arm64: { nixSystem: "aarch64-linux", qemu: "qemu-system-aarch64", console: "ttyAMA0" },
} as const;
export type Arch = keyof typeof ARCHITECTURES;

export function isArch(value: string): value is Arch {
  return Object.hasOwn(ARCHITECTURES, value);
}

/** The roots of the guest's package closure. */
export const GUEST_PACKAGES: readonly string[] = [
  // sh, mount, ip, getty, acpid, insmod...: one static binary for everything /init needs.
  "busybox-static",
  "openssh-server",
  "nix-bin",
  // nc -U: Nix's ssh-ng:// sessions go straight to the daemon's socket (etc/ssh/sshd_config's ForceCommand).
  "netcat-openbsd",
  // mke2fs and e2fsck for the /nix data disk.
  "e2fsprogs",
  // The sandbox's /bin/sh (nix.conf sandbox-paths): static, so it needs no libraries in the sandbox.
  "bash-static",
  // openssh-server depends on `systemd | systemd-standalone-sysusers | ...`; naming the small
  // alternative here keeps all of systemd out of the closure.
  "systemd-standalone-sysusers",
];

/** Debian's qemu-user: the interpreters of every system QEMU emulates in user mode (static from trixie on). */
export const QEMU_USER_PACKAGE = "qemu-user";

/**
 * Packages the lock pins (by version and hash, fetched and verified as the unpacked ones are) whose files
 * the composer reads but never unpacks, and whose dependencies it does not follow: those are for
 * maintainer scripts the composer does in their place. ca-certificates: the composer makes the CA
 * bundle its postinst would (ca-bundle.ts); its Depends (openssl, debconf and so Perl) only run
 * that script. qemu-user: the composer takes the one static interpreter the guest emulates the
 * other Linux system with (guest-emulators.ts), not the package's 465 MiB of every target; its
 * Depends serve only the dynamic helpers it also ships.
 */
export const GUEST_DATA_PACKAGES: readonly string[] = ["ca-certificates", QEMU_USER_PACKAGE];

/** Every root of the guest's lock: the packages and the data packages. */
export const GUEST_ROOT_PACKAGES: readonly string[] = [...GUEST_PACKAGES, ...GUEST_DATA_PACKAGES];

export function isDataPackage(packageName: string): boolean {
  return GUEST_DATA_PACKAGES.includes(packageName);
}

/** The kernel comes from this Debian meta package (its one dependency is the versioned image). */
export function kernelMetaPackage(arch: Arch): string {
  // The cloud flavour is built for VMs: virtio built in, half the size of the generic one.
  return `linux-image-cloud-${arch}`;
}

/**
 * The disk, the network and entropy: the same virtio devices on both machines, all on PCI (argv.ts).
 * Not virtio_mmio, although arm64's virt machine has (empty) virtio-mmio transports: each module /init
 * loads before the disk is a process on the boot's critical path (0.1-0.2 s under TCG).
 */
const DEVICE_MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_rng", "ext4"];
const POWER_AND_MEMORY_MODULES = [
  // ACPI power button → evdev → acpid: makes QMP system_powerdown a clean stop.
  "button",
  "evdev",
  // Free page reporting: freed guest memory goes back to the host (QEMU's virtio-balloon-pci).
  "virtio_balloon",
];

/**
 * Running the other Linux system's programs through qemu-user: /init registers the interpreter with
 * binfmt_misc before the Nix daemon starts, so not a late module.
 */
const EMULATION_MODULES = ["binfmt_misc"];

/**
 * Kernel modules the guest needs, by module name. Those the kernel has built in are skipped;
 * the composer adds each module's dependencies and computes the load order.
 */
export const GUEST_MODULES: Readonly<Record<Arch, readonly string[]>> = {
  amd64: [...DEVICE_MODULES, "crc32c_intel", ...POWER_AND_MEMORY_MODULES, ...EMULATION_MODULES],
  arm64: [...DEVICE_MODULES, ...POWER_AND_MEMORY_MODULES, ...EMULATION_MODULES],
};

/**
 * Modules /init loads in the background once the boot's critical path is under way: nothing before
 * READY needs them (entropy comes from the CPU; the power button only matters once it is up; freed
 * memory only matters once builds run). Loading them one by one before the disk and the network cost
 * about 0.2 s under TCG.
 */
export const GUEST_LATE_MODULES: ReadonlySet<string> = new Set([
  "virtio_rng",
  "button",
  "evdev",
  "virtio_balloon",
]);

/**
 * Packages the closure pulls in (and the lock records) that the image leaves out, because nothing a
 * builder runs loads them. Each megabyte left out is one the guest does not unpack at every boot
 * (about 6 ms under TCG) nor keep in memory. The composer checks that no program left in the image
 * links a library these ship (elf-links.ts).
 */
export const IMAGE_OMITTED_PACKAGES: readonly RegExp[] = [
  // nix-bin depends on Perl for its Perl bindings and scripts, and Perl is a third of the closure.
  // The daemon, sshd and the sandbox never start a Perl interpreter.
  /^perl$/,
  /^perl-base$/,
  /^perl-modules-[0-9.]+$/,
  /^libperl[0-9.]+$/,
  /^lib.+-perl$/,
  // ssh, scp, ssh-keygen (openssh-server depends on it): the builder is logged into, it logs in
  // nowhere, and its host key comes from the host.
  /^openssh-client$/,
  // Account tools: the guest's accounts are fixed files (guest/rootfs/etc).
  /^passwd$/,
  // ps, top, free (busybox has them), and the systemd library only they link.
  /^procps$/,
  /^libproc2-0$/,
  /^libsystemd0$/,
  // PAM's modules (sshd runs with UsePAM no), and Berkeley DB for PAM's and SASL's db plugins.
  /^libpam-modules(-bin)?$/,
  /^libdb5\.3t64$/,
  /^libsasl2-modules-db$/,
  // The curl command and the OpenSSL flavour of libcurl: Nix links the GnuTLS one.
  /^curl$/,
  /^libcurl4t64$/,
];

export function isOmittedFromImage(packageName: string): boolean {
  return IMAGE_OMITTED_PACKAGES.some((pattern) => pattern.test(packageName));
}

/** Paths (prefixes, no leading slash) a builder never reads: docs, manuals, translations, converters. */
export const IMAGE_EXCLUDED_PREFIXES: readonly string[] = [
  "usr/share/doc/",
  "usr/share/man/",
  "usr/share/info/",
  "usr/share/locale/",
  "usr/share/lintian/",
  "usr/share/bug/",
  "usr/share/bash-completion/",
  "usr/share/zsh/",
  "usr/share/fish/",
  // glibc's character-set converters for iconv (8 MiB): no program of the builder converts; builds
  // run with the glibc of their own closure.
  "usr/lib/x86_64-linux-gnu/gconv/",
  "usr/lib/aarch64-linux-gnu/gconv/",
];

/** Modes for files of our overlay (guest/rootfs) that git cannot record. */
export const OVERLAY_MODES: Readonly<Record<string, number>> = {
  "etc/shadow": 0o600,
};

/** Directories of the running system that no package ships, with their modes. */
export const GUEST_DIRECTORIES: Readonly<Record<string, number>> = {
  proc: 0o755,
  sys: 0o755,
  dev: 0o755,
  run: 0o755,
  tmp: 0o1777,
  mnt: 0o755,
  nix: 0o755,
  root: 0o700,
  home: 0o755,
  "home/builder": 0o755,
  "var/empty": 0o755,
  "var/log": 0o755,
};

/** Symlinks added when no package provides the path (merged-/usr, so under usr/). */
export const FALLBACK_SYMLINKS: Readonly<Record<string, string>> = {
  "usr/bin/sh": "busybox",
};

/** The default Debian mirror and suite: trixie has Nix 2.26 (bookworm's 2.8 is too old for many flakes). */
export const DEFAULT_MIRROR = "http://deb.debian.org/debian";
export const DEFAULT_SUITE = "trixie";
