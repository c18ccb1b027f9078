import { describeImage } from "../../app/images.js";
import { ImageStore } from "../../image/store.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { formatBytes, say } from "../output.js";

export const imageListCommand = defineCommand({
  path: ["image", "list"],
  description: "list composed images",
  flags: { json: switchFlag("--json", "print as JSON") },
  async run(context, flags) {
    const store = new ImageStore(context.paths.images);
    const images = await store.list();
    const currents = new Set([await store.currentId("amd64"), await store.currentId("arm64")]);
    if (flags.json) {
      const rows = images.map((image) => describeImage(image, currents.has(image.manifest.id)));
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    if (images.length === 0) {
      say(`No images in ${store.root}. Compose one with: linux-builder image build`);
      return 0;
    }
    for (const image of images) {
      const m = image.manifest;
      process.stdout.write(
        `${m.id}${currents.has(m.id) ? " *" : ""}  ${m.nixSystem}  kernel ${m.kernelVersion}  ${formatBytes(m.kernel.size + m.initrd.size)}\n`,
      );
    }
    return 0;
  },
});
