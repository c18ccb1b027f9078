import { loadConfig } from "../../app/load-config.js";
import { serveBuilder } from "../../app/serve-builder.js";
import { parseConfigLayer } from "../../config/config.js";
import { LinuxBuilderError } from "../../errors.js";
import { idleText } from "../../service/idle-text.js";
import { BUILDER_FLAGS, builderSettings } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { valueFlag } from "../flags.js";
import { imageIo, say, warn } from "../output.js";

/** What ends serve cleanly: SIGHUP too (its terminal closed), as `run` does, so the VM is not left behind. */
const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

export const serveCommand = defineCommand({
  path: ["serve"],
  description:
    "run the builder's front door: boot the VM on the first connection, power it off when idle (until a signal)",
  flags: {
    ...BUILDER_FLAGS,
    idleMinutes: valueFlag(
      "--idle-minutes <n>",
      "minutes without connections or builds before the VM is powered off (fractions allowed; 0 never; default 10)",
    ),
  },
  async run(context, flags) {
    const config = await loadConfig(
      context.host,
      context.paths,
      {
        ...builderSettings(flags),
        ...idleSetting(flags.idleMinutes),
      },
      warn,
    );
    const service = await serveBuilder(context.host, context.paths, config, {
      imageIo: { ...imageIo(context.host.env), warn },
    });
    const status = service.status();
    say(
      status.listening
        ? `Listening on 127.0.0.1:${config.port}: the builder boots on the first connection${status.vm.state === "up" ? " (it runs already)" : ""}.`
        : `127.0.0.1:${config.port} is held by a builder started without the service: waiting for it to stop.`,
    );
    say(
      `Idle power-off: ${idleText(config.idleMinutes)}. Log: ${service.logPath}. Stop with Ctrl-C, SIGTERM or SIGHUP.`,
    );
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (received: NodeJS.Signals) => {
        // A second signal, while the builder powers off, ends serve at once (the default action).
        for (const name of STOP_SIGNALS) process.off(name, onSignal);
        resolve(received);
      };
      for (const name of STOP_SIGNALS) process.on(name, onSignal);
    });
    say(`${signal}: powering the builder off and stopping.`);
    await service.close();
    return 0;
  },
});

/** --idle-minutes as a setting, validated like the config file's idleMinutes, with the flag named. */
function idleSetting(value: string | undefined) {
  if (value === undefined) return {};
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new LinuxBuilderError(
      "usage.number",
      `--idle-minutes must be a number of minutes, not "${value}"`,
      {
        hint: "e.g. --idle-minutes 10, --idle-minutes 0.5; 0 never powers the builder off.",
      },
    );
  }
  try {
    return parseConfigLayer({ idleMinutes: Number(value) }, "--idle-minutes");
  } catch {
    throw new LinuxBuilderError(
      "usage.number",
      `--idle-minutes ${value} is more than a week (10080 minutes)`,
      {
        hint: "0 never powers the builder off.",
      },
    );
  }
}
