import { consoleTarget } from "../../app/console-target.js";
import { attachConsole, DEFAULT_ESCAPE, escapeKeyName, parseEscapeKey } from "../../vm/console-attach.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { defaultedFlag } from "../flags.js";
import { say } from "../output.js";

export const consoleCommand = defineCommand({
  path: ["console"],
  description: `attach this terminal to the running builder's serial console (${DEFAULT_ESCAPE} detaches)`,
  flags: {
    ...BUILDER_FLAGS,
    escape: defaultedFlag(
      "--escape <key>",
      "the control key that detaches, e.g. ^] or ctrl-a",
      DEFAULT_ESCAPE,
    ),
  },
  async run(context, flags) {
    const escapeByte = parseEscapeKey(flags.escape);
    const { layout, pid } = await consoleTarget(context.host, await loadBuilderConfig(context, flags));
    const end = await attachConsole({
      socketPath: layout.consoleSocket,
      escape: escapeByte,
      input: process.stdin,
      output: process.stdout,
      onConnected: () =>
        say(
          `Attached to the builder's console (pid ${pid}); ${escapeKeyName(escapeByte)} detaches. Enter shows a prompt.`,
        ),
    });
    process.stderr.write(
      end === "detached"
        ? "\nDetached from the console; the builder keeps running.\n"
        : "\nThe console closed: the builder stopped.\n",
    );
    return 0;
  },
});
