import { createHash } from "node:crypto";
import { chmod, constants, copyFile, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { writeFileAtomic } from "../../fs/write-file-atomic.js";
import { type PerBoot, perBootTail } from "../../guest/boot-archive.js";
import type { StoredImage } from "../../image/store.js";
import type { StateLayout } from "../state.js";

/**
 * The initrd the VM boots: the image's, then this install's secrets. It is kept between boots (in the
 * 0700 state folder, beside the keys it copies) and rewritten only when the image or the keys
 * change: copying the image (85 MiB then) every start cost 0.5 s here.
 */
export async function ensureBootInitrd(
  layout: StateLayout,
  image: StoredImage,
  perBoot: PerBoot,
): Promise<void> {
  const tail = perBootTail(image.manifest.initrd.size, perBoot);
  const key = createHash("sha256").update(`${image.manifest.initrd.sha256}\n`).update(tail).digest("hex");
  // What a start that died here left (starts hold the state folder's lock, so none is running).
  const base = basename(layout.bootInitrd);
  for (const name of await readdir(layout.dir).catch(() => [] as string[])) {
    if (name.startsWith(`${base}.`) && name.endsWith(".tmp"))
      await rm(join(layout.dir, name), { force: true });
  }
  const stampFile = `${layout.bootInitrd}.key`;
  const stamp = await readFile(stampFile, "utf8").catch(() => undefined);
  const current = await stat(layout.bootInitrd).catch(() => undefined);
  if (stamp === key && current?.size === image.manifest.initrd.size + tail.length) return;
  await rm(stampFile, { force: true });
  // A clone where the file system makes one (APFS, btrfs, XFS), else a copy inside the kernel: the
  // image (63 MiB) never passes through this process. Then the secrets, appended once the copy is 0600.
  const temp = `${layout.bootInitrd}.${process.pid}.tmp`;
  try {
    await copyFile(join(image.directory, "initrd"), temp, constants.COPYFILE_FICLONE);
    await chmod(temp, 0o600);
    const handle = await open(temp, "a");
    try {
      await handle.write(tail);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, layout.bootInitrd);
  } finally {
    await rm(temp, { force: true });
  }
  await writeFileAtomic(stampFile, key, 0o600);
}
