import { startBuilder } from "../../app/start-builder.js";
import type { Config } from "../../config/config.js";
import { LinuxBuilderError } from "../../errors.js";
import { askService } from "../../service/control-client.js";
import type { StartBooted } from "../../vm/lifecycle/start.js";
import { stateLayout } from "../../vm/state.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { cancelOnInterrupt } from "../cancel-on-interrupt.js";
import { type CommandContext, defineCommand } from "../command.js";
import { defaultedFlag, negatedSwitch, wholeNumber } from "../flags.js";
import { imageIo, say, warn } from "../output.js";

export const startCommand = defineCommand({
  path: ["start"],
  description:
    "start the builder VM in the background and wait until it is ready (through the service when one runs)",
  flags: {
    ...BUILDER_FLAGS,
    wait: negatedSwitch(
      "--no-wait",
      "return once QEMU runs (or the service boots it), without waiting for the builder to be ready",
    ),
    timeout: defaultedFlag("--timeout <seconds>", "how long to wait for ready", "600"),
  },
  async run(context, flags) {
    const config = await loadBuilderConfig(context, flags);
    await startAndSay(context, config, {
      wait: flags.wait,
      timeoutSeconds: wholeNumber(flags.timeout, "--timeout") ?? 600,
    });
    return 0;
  },
});

/**
 * Starts the builder and says how it went; not ready in time is an error. A service answering on
 * the state folder's control socket is asked to boot it (Ctrl-C leaves that boot to the service);
 * without one, it boots here, and Ctrl-C cancels the start once it boots the VM: the VM is stopped
 * and main turns vm.cancelled into exit status 130. Before that (waiting for another start,
 * composing the image) only a KVM probe running beside the composition is killed, and Ctrl-C ends
 * the process at once, as it always did.
 */
export async function startAndSay(
  context: CommandContext,
  config: Config,
  options: { readonly wait: boolean; readonly timeoutSeconds: number },
): Promise<void> {
  if (await startThroughService(config, options)) return;
  const cancel = new AbortController();
  let booting = false;
  // Once it boots, Ctrl-C cancels the start: the VM is stopped, and main says so.
  const stopListening = cancelOnInterrupt(cancel, () => !booting);
  const result = await startBuilder(context.host, context.paths, config, {
    waitReady: options.wait,
    readyTimeoutMs: options.timeoutSeconds * 1000,
    signal: cancel.signal,
    imageIo: imageIo(context.host.env),
    onWarning: warn,
    onRetry: warn,
    onBoot: () => {
      booting = true;
      say(
        `Starting the ${config.arch} builder (${config.cpus} CPUs, ${config.memoryMiB} MiB) on 127.0.0.1:${config.port}`,
      );
    },
    onWait: (owner) => say(`Another linux-builder (pid ${owner}) is starting the builder: waiting for it.`),
  }).finally(stopListening);
  const pid = result.kind === "booted" ? result.instance.pid : result.pid;
  if (result.kind === "running" && !options.wait) {
    say(`The builder is already running (pid ${pid}); not waiting for it to be ready.`);
  } else if (result.kind === "running" && result.ready) {
    // Waiting for it is worth a word; a quick look is not.
    const waited = result.waitedSeconds >= 1 ? `; waited ${result.waitedSeconds.toFixed(1)} s for it` : "";
    say(`The builder is already running and ready (pid ${pid}${waited}).`);
  } else if (result.kind === "booted" && !options.wait) {
    say(`Started (pid ${pid}, ${result.instance.accel}); not waiting for it to be ready.`);
  } else if (result.kind === "booted" && result.ready) {
    say(
      `Ready in ${result.readySeconds?.toFixed(1)} s (pid ${pid}, ${result.instance.accel}${phaseText(result.phases)}). \`linux-builder ssh\` logs in.`,
    );
  } else {
    throw new LinuxBuilderError("vm.not-ready", `The builder (pid ${pid}) is running but not ready in time`, {
      hint: "`linux-builder logs` shows the console; `linux-builder status` checks again.",
    });
  }
}

/** `--no-wait` through the service: it starts the boot, and answers at once (timeout 0). */
const NO_WAIT_MS = 0;

/** Asks the service, if one answers, to boot the builder and says how it went; false: no service. */
async function startThroughService(
  config: Config,
  options: { readonly wait: boolean; readonly timeoutSeconds: number },
): Promise<boolean> {
  const timeoutMs = options.wait ? options.timeoutSeconds * 1000 : NO_WAIT_MS;
  const answer = await askService(stateLayout(config.stateDir).serviceSocket, { op: "start", timeoutMs });
  if (answer === undefined) return false;
  const { status, booted, ready, waitedSeconds } = answer;
  const pid = status.vm.pid === null ? "" : `pid ${status.vm.pid}, `;
  const by = `the service (pid ${status.pid}) on 127.0.0.1:${status.port}`;
  if (ready && booted) {
    say(`Ready in ${waitedSeconds.toFixed(1)} s (${pid}booted by ${by}). \`linux-builder ssh\` logs in.`);
  } else if (ready) {
    const waited = waitedSeconds >= 1 ? `; waited ${waitedSeconds.toFixed(1)} s for it` : "";
    say(`The builder is already running and ready (${pid}through ${by}${waited}).`);
  } else if (!options.wait) {
    say(
      booted
        ? `Started: ${by} boots the builder; not waiting for it to be ready.`
        : `The builder is already ${status.vm.state === "up" ? "running" : status.vm.state} (${pid}through ${by}); not waiting for it to be ready.`,
    );
  } else {
    throw new LinuxBuilderError(
      "vm.not-ready",
      `The builder is not ready after ${waitedSeconds.toFixed(0)} s (${status.vm.state}); ${by} goes on booting it`,
      {
        hint: "`linux-builder logs` shows the service's log and the console; `linux-builder status` checks again.",
      },
    );
  }
  return true;
}

/** "; QEMU up at 0.1 s, sshd up at 2.9 s, Nix store answered at 3.4 s" */
function phaseText(phases: StartBooted["phases"]): string {
  if (phases === undefined) return "";
  return `; QEMU up at ${phases.qemu.toFixed(1)} s, sshd up at ${phases.guest.toFixed(1)} s, Nix store answered at ${phases.store.toFixed(1)} s`;
}
