import type { Config } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import { type StateLayout, stateLayout } from "../vm/state.js";
import { readInstance, runningPid } from "../vm/supervisor.js";

/**
 * The running builder's state and the port ssh reaches it on; not running is an error whose `hint`
 * the caller words (what to start depends on what it wanted).
 */
export async function runningBuilder(
  config: Config,
  hint: string,
): Promise<{ layout: StateLayout; port: number }> {
  const layout = stateLayout(config.stateDir);
  if ((await runningPid(layout)) === undefined) {
    throw new LinuxBuilderError("vm.stopped", "The builder is not running", { hint });
  }
  // instance.json unreadable: the configured port, as status does.
  const port = (await readInstance(layout))?.port ?? config.port;
  return { layout, port };
}
