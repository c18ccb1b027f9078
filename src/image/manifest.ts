import { z } from "zod";
import { NIX_SYSTEMS, type NixSystem } from "../config/config.js";

const fileRef = z.object({ file: z.string(), size: z.number(), sha256: z.string() }).strict();

/** manifest.json of an image directory. No timestamps: the same inputs give the same bytes. */
export const manifestSchema = z
  .object({
    format: z.literal(1),
    id: z.string(),
    arch: z.enum(["amd64", "arm64"]),
    suite: z.string(),
    nixSystem: z.string(),
    kernelVersion: z.string(),
    kernel: fileRef,
    initrd: fileRef.extend({ uncompressedSize: z.number() }),
    lock: fileRef,
    /** Hash of everything that shaped the image (lock, guest files, composer format): the reuse key. */
    inputs: z.string(),
    modules: z.array(z.string()),
    packageCount: z.number(),
    /**
     * The systems whose interpreter the image carries (binfmt.ts's paths). Absent in manifests of
     * images composed before emulation: those carry none.
     */
    emulators: z.array(z.enum(NIX_SYSTEMS)).optional(),
    /**
     * The SHA-256 fingerprints of the certificates in the image's CA bundle (Debian's set,
     * pem-certificates.ts): the host sends only the CAs beyond them. Absent in older images.
     */
    caFingerprints: z.array(z.string()).optional(),
  })
  .strict();
export type ImageManifest = z.infer<typeof manifestSchema>;

/** The systems an image can emulate: the interpreters it carries. */
export function emulatorsOf(manifest: Pick<ImageManifest, "emulators">): readonly NixSystem[] {
  return manifest.emulators ?? [];
}
