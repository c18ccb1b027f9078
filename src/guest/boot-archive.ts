/**
 * The per-boot archive: what the host hands the guest at each boot, never part of the shared image.
 * An uncompressed cpio with the secrets and the boot parameters under /.linux-builder/, which /init
 * reads, installs and deletes. It is appended to the shared image at a 4-byte boundary (the kernel
 * reads concatenated archives; a misaligned one fails with "invalid magic").
 */
import type { NixSystem } from "../config/config.js";
import { type CpioEntry, writeCpio } from "../image/archive/cpio.js";
import { bootParametersFile, type GuestBootParameters } from "./boot-parameters.js";

export interface BootSecrets {
  /** The guest's ssh host key (OpenSSH private key) and its public line. */
  readonly hostPrivateKey: string;
  readonly hostPublicKey: string;
  /** The public key(s) allowed to log in as `builder`. */
  readonly authorizedKeys: string;
  /** This install's Nix settings for the guest (nix-conf.ts): not secret, but per install. */
  readonly nixConf: string;
  /**
   * The CAs the guest trusts besides Debian's set (PEM, maybe empty; host/ca-certificates.ts):
   * /init appends them to the image's bundle.
   */
  readonly caCertificates: string;
}

/** Everything one boot's archive holds. */
export interface PerBoot {
  readonly secrets: BootSecrets;
  /** The virtual machine's shape as the guest must see it (the backend's). */
  readonly parameters: GuestBootParameters;
  /** The other Linux systems the guest runs through qemu-user (config's emulatedSystemsOf). */
  readonly emulatedSystems: readonly NixSystem[];
}

/** The archive's folder, at the root of the guest's initramfs (init.sh's BOOT_ARCHIVE). */
const FOLDER = ".linux-builder";

function perBootArchive({ secrets, parameters, emulatedSystems }: PerBoot): Buffer {
  const file = (name: string, mode: number, text: string): CpioEntry => ({
    path: `${FOLDER}/${name}`,
    type: "file",
    mode,
    data: Buffer.from(text),
  });
  return writeCpio([
    { path: FOLDER, type: "directory", mode: 0o700 },
    file("parameters", 0o644, bootParametersFile(parameters, emulatedSystems)),
    file("ssh_host_ed25519_key", 0o600, secrets.hostPrivateKey),
    file("ssh_host_ed25519_key.pub", 0o644, secrets.hostPublicKey),
    file("authorized_keys", 0o600, secrets.authorizedKeys),
    file("nix.conf", 0o644, secrets.nixConf),
    file("ca-certificates.crt", 0o644, secrets.caCertificates),
  ]);
}

/** The initrd the VM boots: the shared image, padding to 4 bytes, then this boot's archive. */
export function bootInitrd(sharedImage: Buffer, perBoot: PerBoot): Buffer {
  return Buffer.concat([sharedImage, perBootTail(sharedImage.length, perBoot)]);
}

/** What follows a shared image of `sharedSize` bytes in the boot initrd: padding to 4, the archive. */
export function perBootTail(sharedSize: number, perBoot: PerBoot): Buffer {
  return Buffer.concat([Buffer.alloc((4 - (sharedSize % 4)) % 4), perBootArchive(perBoot)]);
}
