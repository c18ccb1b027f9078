/**
 * The guest's per-boot Nix settings: what depends on this install's configuration rather than on the
 * image (the features it advertises, garbage collection sized from its disk, the user's caches).
 * They travel in the per-boot archive (boot-archive.ts) and /init installs them as
 * /etc/nix/nix.boot.conf, which the image's nix.conf includes. Pure text.
 */

const GIB = 1024 ** 3;

export interface GuestNixSettings {
  /** The same list the host's machines line advertises: the guest must accept what Nix sends it. */
  readonly supportedFeatures: readonly string[];
  readonly diskGiB: number;
  readonly extraSubstituters: readonly string[];
  readonly extraTrustedPublicKeys: readonly string[];
  /** The systems the guest builds for through qemu-user (binfmt.ts), besides its own. */
  readonly extraPlatforms: readonly string[];
}

/**
 * When Nix collects garbage by itself: once free space on /nix falls below min-free (while it
 * builds), until max-free is free. A tenth and a fifth of the disk, at least 1 and 2 GiB: a store
 * that fills the disk would fail the next big build instead.
 */
export function gcThresholds(diskGiB: number): { minFree: number; maxFree: number } {
  const disk = diskGiB * GIB;
  return {
    minFree: Math.max(Math.floor(disk / 10), GIB),
    maxFree: Math.max(Math.floor(disk / 5), 2 * GIB),
  };
}

export function guestNixConf(settings: GuestNixSettings): string {
  const { minFree, maxFree } = gcThresholds(settings.diskGiB);
  return [
    "# Written by the host at each boot (linux-builder's settings); see /etc/nix/nix.conf.",
    // Nix's own default adds kvm when /dev/kvm exists and uid-range; the list must match the
    // machines line, or Nix dispatches a build the guest then refuses.
    `system-features = ${settings.supportedFeatures.join(" ")}`,
    `min-free = ${minFree}`,
    `max-free = ${maxFree}`,
    ...(settings.extraSubstituters.length > 0
      ? [`extra-substituters = ${settings.extraSubstituters.join(" ")}`]
      : []),
    // Nix builds a derivation only for its own system and these; /init registered their interpreters.
    ...(settings.extraPlatforms.length > 0 ? [`extra-platforms = ${settings.extraPlatforms.join(" ")}`] : []),
    ...(settings.extraTrustedPublicKeys.length > 0
      ? [`extra-trusted-public-keys = ${settings.extraTrustedPublicKeys.join(" ")}`]
      : []),
    "",
  ].join("\n");
}
