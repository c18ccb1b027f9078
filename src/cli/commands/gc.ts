import { collectGarbage } from "../../app/collect-garbage.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { say } from "../output.js";

export const gcCommand = defineCommand({
  path: ["gc"],
  description: "collect the builder's Nix garbage now and say what was freed",
  flags: BUILDER_FLAGS,
  async run(context, flags) {
    const { deleted, freed } = await collectGarbage(context.host, await loadBuilderConfig(context, flags));
    say(`Collected the builder's garbage: ${deleted} store paths deleted, ${freed} freed.`);
    return 0;
  },
});
