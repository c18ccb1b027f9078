import { failureBeforeReady } from "../../guest/console-lines.js";
import { readConsoleSince } from "../../guest/console-log.js";
import { readInstance } from "../instance.js";
import type { StateLayout } from "../state.js";

/** Why the running boot's guest said it failed (FAILED on its console, before any READY), if it did. */
export async function bootFailure(layout: StateLayout): Promise<string | undefined> {
  const instance = await readInstance(layout);
  if (instance?.consoleOffset === undefined) return undefined;
  return failureBeforeReady(await readConsoleSince(layout.consoleLog, instance.consoleOffset));
}
