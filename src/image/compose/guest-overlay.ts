import { lstat, readFile, readlink } from "node:fs/promises";
import { join, relative } from "node:path";
import { LinuxBuilderError } from "../../errors.js";
import { listFiles } from "../../fs/list-files.js";
import { certificateFingerprint, pemCertificates } from "../../guest/pem-certificates.js";
import { readDebData } from "../archive/deb.js";
import { busyboxApplets } from "../guest/busybox-applets.js";
import {
  CA_BUNDLE_PATH,
  CA_CERTIFICATES_DIR,
  CA_CERTIFICATES_PACKAGE,
  debianCaBundle,
} from "../guest/ca-bundle.js";
import { FALLBACK_SYMLINKS, GUEST_DIRECTORIES, OVERLAY_MODES } from "../guest/profile.js";
import type { Lock } from "../lock.js";
import type { RootfsTree } from "../rootfs-tree.js";
import { debOf, type FetchedPackages } from "./fetch-packages.js";

/**
 * The CA bundle ca-certificates' maintainer scripts would make, at its usual path. Returns its
 * certificates' fingerprints, which the manifest records.
 */
export async function addCaBundle(tree: RootfsTree, lock: Lock, debs: FetchedPackages): Promise<string[]> {
  const caIndex = lock.packages.findIndex((pkg) => pkg.name === CA_CERTIFICATES_PACKAGE);
  if (caIndex === -1) {
    throw new LinuxBuilderError(
      "lock.incomplete",
      `Cannot compose the image: the lock has no ${CA_CERTIFICATES_PACKAGE} package, where the guest's CA certificates come from`,
      { hint: "The lock was made by an older linux-builder: compose without --lock to resolve a new one." },
    );
  }
  const bundle = await caBundleOf(debOf(debs, caIndex));
  tree.addFile(CA_BUNDLE_PATH, bundle, 0o644);
  return pemCertificates(bundle.toString("utf8")).map(certificateFingerprint);
}

/** The bundle ca-certificates' maintainer scripts would make, from the certificates in its .deb. */
async function caBundleOf(deb: string): Promise<Buffer> {
  const files = new Map<string, Buffer>();
  for await (const entry of readDebData(deb)) {
    if (entry.type === "file" && entry.path.startsWith(CA_CERTIFICATES_DIR))
      files.set(entry.path, entry.body ?? Buffer.alloc(0));
  }
  return debianCaBundle(files);
}

/** Our /init, the overlay in guest/rootfs, and what a running system needs that no package ships. */
export async function addGuestFiles(tree: RootfsTree, guestDir: string): Promise<void> {
  tree.addFile("init", await readFile(join(guestDir, "init.sh")), 0o755);
  const overlay = join(guestDir, "rootfs");
  for (const file of await listFiles(overlay)) {
    const path = relative(overlay, file);
    const info = await lstat(file);
    if (info.isSymbolicLink()) {
      tree.addSymlink(path, await readlink(file));
      continue;
    }
    // Git keeps only the executable bit; the rest is ours to decide.
    const mode = OVERLAY_MODES[path] ?? (info.mode & 0o111 ? 0o755 : 0o644);
    tree.addFile(path, await readFile(file), mode);
  }
  for (const [path, target] of Object.entries(FALLBACK_SYMLINKS)) {
    if (!tree.has(path)) tree.addSymlink(path, target);
  }
  for (const [path, mode] of Object.entries(GUEST_DIRECTORIES)) tree.addDirectory(path, mode);
  // The kernel opens /dev/console for /init's output before any devtmpfs exists.
  tree.addCharDevice("dev/console", 0o600, 5, 1);
}

/** /usr/libexec/busybox/NAME → busybox for each applet, as `busybox --install -s` would make them. */
export function addBusyboxApplets(tree: RootfsTree): void {
  const binary = tree.fileData("usr/bin/busybox");
  const applets = binary === undefined ? undefined : busyboxApplets(binary);
  for (const name of applets ?? []) tree.addSymlink(`usr/libexec/busybox/${name}`, "/usr/bin/busybox");
}
