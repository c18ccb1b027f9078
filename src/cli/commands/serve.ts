import { loadConfig } from "../../app/load-config.js";
import { serveBuilder } from "../../app/serve-builder.js";
import { parseConfigLayer } from "../../config/config.js";
import { LinuxBuilderError } from "../../errors.js";
import { BUILDER_FLAGS, builderSettings } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { valueFlag } from "../flags.js";
import { imageIo, say, warn } from "../output.js";

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
    const config = await loadConfig(context.host, context.paths, {
      ...builderSettings(flags),
      ...idleSetting(flags.idleMinutes),
    });
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
      `Idle power-off: ${config.idleMinutes === 0 ? "never" : `after ${config.idleMinutes} min`}. Log: ${service.logPath}. Stop with Ctrl-C or SIGTERM.`,
    );
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once("SIGTERM", () => resolve("SIGTERM"));
      process.once("SIGINT", () => resolve("SIGINT"));
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
  return parseConfigLayer({ idleMinutes: Number(value) }, "--idle-minutes");
}
