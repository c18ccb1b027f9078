import { readConsoleSince, scanConsole } from "../console-watch.js";
import { readInstance } from "../instance.js";
import type { StateLayout } from "../state.js";

/** Why the running boot's guest said it failed (FAILED on its console, before any READY), if it did. */
export async function bootFailure(layout: StateLayout): Promise<string | undefined> {
  const instance = await readInstance(layout);
  if (instance?.consoleOffset === undefined) return undefined;
  const printed = await readConsoleSince(layout.consoleLog, instance.consoleOffset);
  // After READY, the console is a login: anything there was typed, not said by /init.
  const ready = printed.indexOf("linux-builder: READY at ");
  const said = scanConsole(ready === -1 ? printed : printed.slice(0, ready));
  return said?.kind === "failed" ? said.reason : undefined;
}
