import { builderVm } from "../../app/builder-vm.js";
import type { Config } from "../../config/config.js";
import type { Host } from "../../host/host.js";
import { askService } from "../../service/control-client.js";
import { type StopOutcome, stopVm } from "../../vm/lifecycle/stop.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { defaultedFlag, wholeNumber } from "../flags.js";
import { say } from "../output.js";

export const stopCommand = defineCommand({
  path: ["stop"],
  description:
    "power the builder off cleanly (QMP system_powerdown); a service keeps its port and boots it on the next connection",
  flags: {
    ...BUILDER_FLAGS,
    timeout: defaultedFlag(
      "--timeout <seconds>",
      "how long the guest may take before QEMU is told to quit",
      "60",
    ),
  },
  async run(context, flags) {
    const config = await loadBuilderConfig(context, flags);
    await stopAndSay(context.host, config, (wholeNumber(flags.timeout, "--timeout") ?? 60) * 1000);
    return 0;
  },
});

/**
 * Stops the builder (a stopped one is no error) and says how it ended: through the service when one
 * answers on the state folder's control socket (it keeps the port, and the next connection boots the
 * builder again), else here.
 */
export async function stopAndSay(host: Host, config: Config, deadlineMs: number): Promise<void> {
  const { layout, backend } = builderVm(host, config.stateDir);
  const answer = await askService(layout.serviceSocket, { op: "stop", timeoutMs: deadlineMs });
  const { outcome, seconds } = answer ?? (await stopVm(layout, backend, deadlineMs));
  const said: Record<StopOutcome, string> = {
    "not-running": "The builder is not running.",
    "powered-off": `Stopped: the guest powered off cleanly in ${seconds.toFixed(1)} s.`,
    quit: `Stopped: the guest did not power off in time, so QEMU was told to quit (${seconds.toFixed(1)} s).`,
    "quit-failed-boot": `Stopped: the guest's boot had failed (\`linux-builder logs\` shows why), so QEMU was told to quit (${seconds.toFixed(1)} s).`,
    terminated: `Stopped with SIGTERM after QMP did not answer (${seconds.toFixed(1)} s).`,
    killed: `Stopped with SIGKILL: QEMU ignored everything else (${seconds.toFixed(1)} s).`,
  };
  say(said[outcome]);
  if (answer !== undefined) {
    say(
      `The service (pid ${answer.status.pid}) keeps 127.0.0.1:${answer.status.port}: the next connection boots the builder again.`,
    );
  }
}
