import { runningBuilder } from "../../app/running-builder.js";
import { sshArgs } from "../../ssh/builder-ssh.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { runChild } from "../run-child.js";

export const sshCommand = defineCommand({
  path: ["ssh"],
  operands: "[command...]",
  description: "log in to the builder as `builder`, or run a command there",
  flags: BUILDER_FLAGS,
  async run(context, flags, command) {
    const config = await loadBuilderConfig(context, flags);
    const { layout, port } = await runningBuilder(context.host, config, "Start it: linux-builder start");
    // No command: a login shell on a terminal (-t); a command runs as given.
    const args = [
      ...(command.length === 0 ? ["-t"] : []),
      ...sshArgs(layout, port, { reuse: true }),
      ...command,
    ];
    return runChild("ssh", args, { stdio: "inherit" });
  },
});
