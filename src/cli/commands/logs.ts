import { stateLayout } from "../../vm/state.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { runChild } from "../run-child.js";

export const logsCommand = defineCommand({
  path: ["logs"],
  description: "the builder's console log",
  flags: { ...BUILDER_FLAGS, follow: switchFlag("-f, --follow", "keep printing as it grows") },
  async run(context, flags) {
    const { consoleLog } = stateLayout((await loadBuilderConfig(context, flags)).stateDir);
    const args = flags.follow ? ["-n", "+1", "-F", consoleLog] : ["-n", "+1", consoleLog];
    return runChild("tail", args, { stdio: "inherit" });
  },
});
