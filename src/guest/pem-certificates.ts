import { createHash } from "node:crypto";

/**
 * PEM certificates, as the guest's CA bundle and the host's CA files hold them: the blocks of a text,
 * and each certificate's identity whatever its line breaks. Pure.
 */

const CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificate blocks of a PEM text, nothing else: a file that also holds a private key (a
 * server's cert-and-key file) gives only the certificates. Each ends with a newline.
 */
export function pemCertificates(text: string): string[] {
  return [...text.matchAll(CERTIFICATE)].map((match) => `${match[0].replace(/\r\n/g, "\n")}\n`);
}

/** The SHA-256 (hex) of a certificate block's DER bytes: the same certificate, however it is wrapped. */
export function certificateFingerprint(block: string): string {
  const base64 = block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return createHash("sha256").update(Buffer.from(base64, "base64")).digest("hex");
}
