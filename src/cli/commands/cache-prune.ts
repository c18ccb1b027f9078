import { pruneCache } from "../../image/cache/prune.js";
import { ImageStore } from "../../image/store.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { formatBytes, say } from "../output.js";

export const cachePruneCommand = defineCommand({
  path: ["cache", "prune"],
  description:
    "remove cached packages (and the files taken out of them) and indexes no image needs (its lock's packages, less those it leaves out), and files an older linux-builder took out (with --all, everything)",
  flags: { all: switchFlag("--all", "empty the cache") },
  async run(context, flags) {
    const { cache, images } = context.paths;
    const { files, bytes } = await pruneCache(cache, new ImageStore(images), { all: flags.all });
    say(`Freed ${formatBytes(bytes)} (${files} files) from ${cache}`);
    return 0;
  },
});
