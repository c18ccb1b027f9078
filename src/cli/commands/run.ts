import { executePlan } from "../../app/apply-host-plan.js";
import { installPlan } from "../../app/host-plans.js";
import { readInstalledRecord, recordInstalled } from "../../app/installed-builders.js";
import { runAttached } from "../../app/run-attached.js";
import { stateLayout } from "../../vm/state.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { cancelOnInterrupt } from "../cancel-on-interrupt.js";
import { defineCommand } from "../command.js";
import { negatedSwitch } from "../flags.js";
import { HOST_DIR_FLAGS } from "../install-flags.js";
import { imageIo, say, warn } from "../output.js";
import { runBanner } from "../run-banner.js";
import { describeRunEnd, exitStatus } from "../run-end.js";

export const runCommand = defineCommand({
  path: ["run"],
  description:
    "boot the builder in this terminal with its console attached, until it powers off (Ctrl-a c: QEMU's monitor)",
  flags: {
    ...BUILDER_FLAGS,
    install: negatedSwitch(
      "--no-install",
      "boot without installing the builder's key and Nix configuration first",
    ),
    ...HOST_DIR_FLAGS,
  },
  async run(context, flags) {
    const config = await loadBuilderConfig(context, flags);
    const layout = stateLayout(config.stateDir);
    // Until QEMU takes the terminal (which has Ctrl-C reach the guest), Ctrl-C ends `run`.
    const cancel = new AbortController();
    const stopListening = cancelOnInterrupt(cancel, () => true);
    const result = await runAttached(context.host, context.paths, config, {
      imageIo: imageIo(context.host.env),
      signal: cancel.signal,
      onWarning: warn,
      onRetry: warn,
      beforeBoot: async (prepared) => {
        stopListening();
        // Unless --no-install, `install`'s plan is applied before the console takes the terminal (sudo
        // asks for a password only when something is not yet in place), as the seed's install-credentials.
        if (flags.install) {
          await readInstalledRecord(context.paths); // A corrupt one stops run before the host changes.
          await executePlan(context.host, await installPlan(context.host, config, flags), context.self, say);
          await recordInstalled(context.host, context.paths, config, flags);
        }
        process.stderr.write(
          runBanner({
            config,
            accel: prepared.accel,
            hostPublicKey: prepared.keys.hostPublicKey,
            builderKey: layout.builderKey,
            consoleLog: layout.consoleLog,
            selector: flags.stateDir === undefined ? [] : ["--state-dir", flags.stateDir],
            hostKind: context.host.kind,
            dirs: flags,
            installed: flags.install,
          }),
        );
      },
    }).finally(stopListening);
    // The console may have left the cursor mid-line.
    process.stderr.write(`\n${describeRunEnd(result, layout.consoleLog)}\n`);
    return exitStatus(result);
  },
});
