import { type CpioEntry, writeCpio } from "../image/archive/cpio.js";

export interface BootSecrets {
  /** The guest's ssh host key (OpenSSH private key) and its public line. */
  readonly hostPrivateKey: string;
  readonly hostPublicKey: string;
  /** The public key(s) allowed to log in as `builder`. */
  readonly authorizedKeys: string;
  /** This install's Nix settings for the guest (guest-nix-conf.ts): not secret, but per install. */
  readonly nixConf: string;
  /**
   * The CAs the guest trusts besides Debian's set (PEM, maybe empty; host/ca-certificates.ts):
   * /init appends them to the image's bundle.
   */
  readonly caCertificates: string;
}

/**
 * The per-boot archive: an uncompressed cpio with the secrets under /.linux-builder/, which /init
 * installs and deletes. It is appended to the shared image at a 4-byte boundary (the
 * kernel reads concatenated archives; a misaligned one fails with "invalid magic").
 */
function secretsArchive(secrets: BootSecrets): Buffer {
  const entries: CpioEntry[] = [
    { path: ".linux-builder", type: "directory", mode: 0o700 },
    {
      path: ".linux-builder/ssh_host_ed25519_key",
      type: "file",
      mode: 0o600,
      data: Buffer.from(secrets.hostPrivateKey),
    },
    {
      path: ".linux-builder/ssh_host_ed25519_key.pub",
      type: "file",
      mode: 0o644,
      data: Buffer.from(secrets.hostPublicKey),
    },
    {
      path: ".linux-builder/authorized_keys",
      type: "file",
      mode: 0o600,
      data: Buffer.from(secrets.authorizedKeys),
    },
    { path: ".linux-builder/nix.conf", type: "file", mode: 0o644, data: Buffer.from(secrets.nixConf) },
    {
      path: ".linux-builder/ca-certificates.crt",
      type: "file",
      mode: 0o644,
      data: Buffer.from(secrets.caCertificates),
    },
  ];
  return writeCpio(entries);
}

/** The initrd QEMU boots: the shared image, padding to 4 bytes, then the secrets. */
export function bootInitrd(sharedImage: Buffer, secrets: BootSecrets): Buffer {
  return Buffer.concat([sharedImage, secretsTail(sharedImage.length, secrets)]);
}

/** What follows a shared image of `sharedSize` bytes in the boot initrd: padding to 4, the secrets. */
export function secretsTail(sharedSize: number, secrets: BootSecrets): Buffer {
  return Buffer.concat([Buffer.alloc((4 - (sharedSize % 4)) % 4), secretsArchive(secrets)]);
}
