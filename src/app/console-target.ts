import type { Config } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import type { Host } from "../host/host.js";
import { serviceStatus } from "../service/control-client.js";
import { readInstance } from "../vm/instance.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import type { StateLayout } from "../vm/state.js";
import { builderVm } from "./builder-vm.js";

/**
 * The background builder whose serial console can be attached: refused when it is not running, or
 * when it runs attached to `run`'s terminal (its console is there, not on a socket).
 */
export async function consoleTarget(
  host: Host,
  config: Config,
): Promise<{ layout: StateLayout; pid: number }> {
  const { layout, backend } = builderVm(host, config.stateDir);
  const service = await serviceStatus(layout.serviceSocket);
  // The service's VM is off until a connection (or `start`) boots it; there is no console to attach.
  // (A service still waiting for the port has a builder started without it in front: that one is looked up.)
  if (service?.listening === true && service.vm.pid === null) {
    const by = `the service (pid ${service.pid})`;
    const { state } = service.vm;
    throw new LinuxBuilderError(
      "vm.stopped",
      state === "booting"
        ? `The builder is booting (by ${by}): its console is attachable once it is up`
        : state === "stopping"
          ? `The builder is powering off (by ${by})`
          : `The builder is off: ${by} boots it on the next connection`,
      {
        hint:
          state === "booting"
            ? "`linux-builder start` waits for it to be ready; then attach again."
            : "`linux-builder start` boots it now; then attach again.",
      },
    );
  }
  const pid = service?.vm.pid ?? (await runningPid(layout, backend));
  if (pid === undefined) {
    throw new LinuxBuilderError("vm.stopped", "The builder is not running", {
      hint: "Start it: linux-builder start (or `linux-builder run`, with the console in that terminal)",
    });
  }
  if ((await readInstance(layout))?.attached === true) {
    throw new LinuxBuilderError(
      "vm.attached",
      `The builder (pid ${pid}) runs attached to the terminal of \`linux-builder run\`: its console is there`,
      { hint: "Use that terminal, or log in from here with `linux-builder ssh`." },
    );
  }
  return { layout, pid };
}
