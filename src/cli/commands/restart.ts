import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { defaultedFlag, wholeNumber } from "../flags.js";
import { startAndSay } from "./start.js";
import { stopAndSay } from "./stop.js";

export const restartCommand = defineCommand({
  path: ["restart"],
  description: "stop, then start",
  flags: {
    ...BUILDER_FLAGS,
    timeout: defaultedFlag("--timeout <seconds>", "how long to wait for each", "600"),
  },
  async run(context, flags) {
    const timeoutSeconds = wholeNumber(flags.timeout, "--timeout") ?? 600;
    await stopAndSay(context.host, await loadBuilderConfig(context, flags), 60_000);
    await startAndSay(context, await loadBuilderConfig(context, flags), { wait: true, timeoutSeconds });
    return 0;
  },
});
