import { ImageStore } from "../../image/store.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { formatBytes, say } from "../output.js";

export const imagePruneCommand = defineCommand({
  path: ["image", "prune"],
  description: "remove images that are not current (and, with --all, every image)",
  flags: { all: switchFlag("--all", "remove every image") },
  async run(context, flags) {
    const { removed, bytes } = await new ImageStore(context.paths.images).prune({ all: flags.all });
    for (const id of removed) process.stdout.write(`removed ${id}\n`);
    say(`Freed ${formatBytes(bytes)} (${removed.length} images)`);
    return 0;
  },
});
