import { existsSync } from "node:fs";
import { stateLayout } from "../../vm/state.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { say } from "../output.js";
import { runChild } from "../run-child.js";

export const logsCommand = defineCommand({
  path: ["logs"],
  description: "the service's log (when there is one) and the builder's console log",
  flags: { ...BUILDER_FLAGS, follow: switchFlag("-f, --follow", "keep printing both as they grow") },
  async run(context, flags) {
    const layout = stateLayout((await loadBuilderConfig(context, flags)).stateDir);
    const files = logFiles(layout, existsSync(layout.serviceLog));
    // With two files, tail heads each part with "==> path <==": the legend says which is which.
    if (files.length > 1)
      say(`${layout.serviceLog}: the service's log; ${layout.consoleLog}: the console's.`);
    const args = flags.follow ? ["-n", "+1", "-F", ...files] : ["-n", "+1", ...files];
    return runChild("tail", args, { stdio: "inherit" });
  },
});

/** The logs shown, the service's first (it says when the VM booted and stopped, the console what it did). */
function logFiles(
  layout: { readonly serviceLog: string; readonly consoleLog: string },
  serviceLogExists: boolean,
): string[] {
  return serviceLogExists ? [layout.serviceLog, layout.consoleLog] : [layout.consoleLog];
}
