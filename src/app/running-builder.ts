import type { Config } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import type { Host } from "../host/host.js";
import { serviceStatus } from "../service/control-client.js";
import { readInstance } from "../vm/instance.js";
import { directSshPort } from "../vm/lifecycle/direct-port.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import type { StateLayout } from "../vm/state.js";
import { builderVm } from "./builder-vm.js";

/**
 * The builder's state and the port ssh reaches it on. With a service listening, its front door: a
 * builder that is off is booted by the connection itself. Without one, a builder that is not
 * running is an error whose `hint` the caller words (what to start depends on what it wanted).
 */
export async function runningBuilder(
  host: Host,
  config: Config,
  hint: string,
): Promise<{ layout: StateLayout; port: number }> {
  const { layout, backend } = builderVm(host, config.stateDir);
  const service = await serviceStatus(layout.serviceSocket);
  if (service?.listening === true) return { layout, port: service.port };
  if ((await runningPid(layout, backend)) === undefined) {
    throw new LinuxBuilderError("vm.stopped", "The builder is not running", { hint });
  }
  const port = directSshPort(await readInstance(layout), config.port);
  return { layout, port };
}
