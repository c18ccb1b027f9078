import { LinuxBuilderError } from "../errors.js";
import type { Arch } from "../image/guest/profile.js";
import type { ImageStore, StoredImage } from "../image/store.js";

/** An image as `image build/info/list --json` print it: a stable shape for scripts. */
export function describeImage(image: StoredImage, current: boolean) {
  const m = image.manifest;
  return {
    id: m.id,
    current,
    arch: m.arch,
    nixSystem: m.nixSystem,
    suite: m.suite,
    kernelVersion: m.kernelVersion,
    packages: m.packageCount,
    kernelBytes: m.kernel.size,
    initrdBytes: m.initrd.size,
    initrdUncompressedBytes: m.initrd.uncompressedSize,
    directory: image.directory,
  };
}

/** The image `id` names, else the architecture's current one; none is an error saying how to make one. */
export async function resolveImage(
  store: ImageStore,
  id: string | undefined,
  arch: Arch,
): Promise<StoredImage> {
  const found = id ?? (await store.currentId(arch));
  if (found === undefined) {
    throw new LinuxBuilderError("image.none", `There is no ${arch} image yet in ${store.root}`, {
      hint: `Compose one with: linux-builder image build --arch ${arch}`,
    });
  }
  return store.get(found);
}
