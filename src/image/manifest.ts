import { z } from "zod";

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
  })
  .strict();
export type ImageManifest = z.infer<typeof manifestSchema>;
