import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeImage, resolveImage } from "../../app/images.js";
import { nativeArch } from "../../app/native-arch.js";
import { parseLock } from "../../image/lock.js";
import { ImageStore } from "../../image/store.js";
import { defineCommand } from "../command.js";
import { switchFlag, valueFlag } from "../flags.js";
import { parseArch } from "../image-flags.js";
import { formatBytes } from "../output.js";

export const imageInfoCommand = defineCommand({
  path: ["image", "info"],
  operands: "[id]",
  description: "show what is in an image: packages, kernel, sizes, lock (default: the current image)",
  flags: {
    arch: valueFlag("--arch <arch>", "which architecture's current image (default: the host's)"),
    json: switchFlag("--json", "print as JSON"),
  },
  async run(context, flags, [id]) {
    const store = new ImageStore(context.paths.images);
    const arch = flags.arch === undefined ? nativeArch(context.host) : parseArch(flags.arch);
    const found = await resolveImage(store, id, arch);
    const lockFile = join(found.directory, "lock.json");
    const lock = parseLock(await readFile(lockFile, "utf8"), lockFile);
    const intact = await store.verify(found);
    const current = (await store.currentId(found.manifest.arch)) === found.manifest.id;
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ ...describeImage(found, current), intact, modules: found.manifest.modules, kernelPackage: lock.kernel, lockedPackages: lock.packages }, null, 2)}\n`,
      );
      return 0;
    }
    const m = found.manifest;
    const lines = [
      `Image:    ${m.id}${current ? " (current)" : ""}${intact ? "" : "  DAMAGED: files do not match the manifest"}`,
      `Path:     ${found.directory}`,
      `System:   ${m.nixSystem} (Debian ${m.suite} ${m.arch})`,
      `Kernel:   ${lock.kernel.name} ${lock.kernel.version}, ${formatBytes(m.kernel.size)}`,
      `Initrd:   ${formatBytes(m.initrd.size)} (an uncompressed cpio)`,
      `Modules:  ${m.modules.join(" ")}`,
      `Lock:     ${lockFile}`,
      `Packages: ${lock.packages.length}`,
      ...lock.packages.map((p) => `  ${p.name} ${p.version} ${p.architecture}`),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  },
});
