import { LinuxBuilderError } from "../../errors.js";
import { MULTIARCH_TRIPLET, unresolvedLinks } from "../guest/elf-links.js";
import type { Arch } from "../guest/profile.js";
import type { RootfsTree } from "../rootfs-tree.js";

/** Nothing left out of the image (a package, a path) may be a library one of its programs links. */
export function checkLinkedLibraries(tree: RootfsTree, arch: Arch): void {
  const unresolved = unresolvedLinks(
    tree.files(),
    (path) => tree.resolvesToFile(path),
    MULTIARCH_TRIPLET[arch],
  );
  if (unresolved.length > 0) {
    throw new LinuxBuilderError(
      "image.unresolved-library",
      `Cannot compose the image: ${unresolved.length} of its programs' shared libraries are not in it (${unresolved.slice(0, 5).join("; ")}${unresolved.length > 5 ? "; …" : ""})`,
      {
        hint: "A package the image leaves out (IMAGE_OMITTED_PACKAGES) or an excluded path (IMAGE_EXCLUDED_PREFIXES, src/image/guest/profile.ts) ships them: keep it, or leave out the programs that need it too.",
      },
    );
  }
}
