/**
 * A static busybox of either architecture for the emulation tests and bench, out of Debian's busybox-static
 * as the image of that architecture locks it: fetched into the tests' cache and checked against the
 * lock's hash (which came from the mirror's signed index), as the composer fetches the packages it uses.
 * Laid out as a build's fixed input: busybox, and `sh` → busybox (Nix runs a builder with its file
 * name as argv[0], and busybox picks its applet by that name).
 */
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readDebData } from "../../src/image/archive/deb.js";
import { ContentCache } from "../../src/image/cache/content-cache.js";
import { debUrl } from "../../src/image/compose/fetch-packages.js";
import { type Arch, DEFAULT_MIRROR } from "../../src/image/guest/profile.js";
import { ImageStore } from "../../src/image/store.js";
import { testHome, testImage } from "./guest-vm.js";

/** Writes `arch`'s static busybox and its `sh` link into a new folder `dir`, and returns `dir`. */
export async function staticBusybox(arch: Arch, dir: string): Promise<string> {
  const image = await testImage(arch);
  const lock = await new ImageStore(join(testHome(), "images")).readLock(image);
  const pkg = lock.packages.find((candidate) => candidate.name === "busybox-static");
  if (pkg === undefined) throw new Error(`the ${arch} image's lock has no busybox-static`);
  const deb = await new ContentCache(join(testHome(), "cache", "files")).fetch({
    url: debUrl(process.env.LINUX_BUILDER_TEST_MIRROR ?? DEFAULT_MIRROR, pkg),
    sha256: pkg.sha256,
    size: pkg.size,
    label: `${pkg.name} ${pkg.version}`,
  });
  for await (const entry of readDebData(deb)) {
    if (entry.type !== "file" || !/^(usr\/)?bin\/busybox$/.test(entry.path)) continue;
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "busybox"), entry.body ?? Buffer.alloc(0), { mode: 0o755 });
    await symlink("busybox", join(dir, "sh"));
    return dir;
  }
  throw new Error(`${pkg.name} ${pkg.version} has no bin/busybox`);
}
