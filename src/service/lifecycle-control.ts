import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { LinuxBuilderError } from "../errors.js";
import { sshArgs } from "../ssh/builder-ssh.js";
import type { ControlMasterFiles } from "../ssh/control-master.js";
import { readInstance } from "../vm/instance.js";
import { hostDeps } from "../vm/lifecycle/deps.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import { isReady } from "../vm/lifecycle/readiness.js";
import { type StartOptions, startVm } from "../vm/lifecycle/start.js";
import { stopVm } from "../vm/lifecycle/stop.js";
import type { StateLayout } from "../vm/state.js";
import type { RunningVm, VmControl } from "./supervisor.js";

const run = promisify(execFile);

/**
 * What a boot of the service's VM needs: start's options, less what the service decides itself
 * (`storeAnswers`: over serve's own ssh files unless a test gives its own).
 */
export type ServiceBootOptions = Omit<
  StartOptions,
  "forwardPort" | "waitReady" | "signal" | "onBoot" | "onWait"
>;

/** The VM control serve uses, plus the VM it may find running when it starts. */
export interface LifecycleControl extends VmControl {
  /** A VM running when serve starts: an earlier serve's (its forward known) or one `start` booted by hand. */
  adopt(): Promise<RunningVm | undefined>;
}

/** Boots after a port taken between the pick and the launch: tries this many picks in all. */
const PORT_PICKS = 3;

/** How long the guest may take to count its build processes. */
const GUEST_BUILDS_TIMEOUT_MS = 20_000;

/**
 * Counts the guest's processes running as build users (nixbld1..16: uids 30001–30016) from /proc,
 * with the guest's busybox (no procps there).
 */
const COUNT_BUILD_PROCESSES =
  "cat /proc/[0-9]*/status 2>/dev/null | awk '/^Uid:/ && $2 >= 30001 && $2 <= 30016 { n++ } END { print n + 0 }'";

/** serve's own ssh files: its reused connection and the daemon's socket, apart from the CLI's (see StateLayout). */
export function serviceSshFiles(layout: StateLayout): ControlMasterFiles {
  return {
    dir: layout.serviceSshDir,
    knownHosts: layout.knownHosts,
    builderKey: layout.builderKey,
    daemonSocket: join(layout.serviceSshDir, "nix.sock"),
  };
}

/** A free port on the loopback, for a boot's forward (the kernel picks it). */
export function pickFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * The supervisor's VM control over the lifecycle: a boot is `start`'s (the start lock, the image
 * asked for only then, a kernel crash retried), with the forward on a port picked per boot and
 * readiness asked over serve's own ssh; a stop is `stop`'s escalation.
 */
export function lifecycleControl(
  options: ServiceBootOptions & { readonly pickPort?: () => Promise<number> },
): LifecycleControl {
  const { layout, backend, config } = options;
  const deps = options.deps ?? hostDeps;
  const files = serviceSshFiles(layout);
  const pickPort = options.pickPort ?? pickFreePort;
  const runningVm = (pid: number, forwardPort: number | null): RunningVm => ({
    pid,
    forwardPort,
    target: backend.endpoint({ sshPort: forwardPort ?? config.port }),
  });
  return {
    async boot(signal) {
      await mkdir(layout.serviceSshDir, { recursive: true, mode: 0o700 });
      for (let pick = 1; ; pick += 1) {
        const forwardPort = await pickPort();
        try {
          const result = await startVm({
            ...options,
            forwardPort,
            waitReady: true,
            // A stop during the boot: startVm stops the VM it booted and throws vm.cancelled.
            signal,
            storeAnswers:
              options.storeAnswers ??
              ((_layout, port, timeoutMs) => isReady(files, port, { reuse: true, timeoutMs })),
          });
          if (result.kind === "running") {
            // Booted meanwhile by someone else (`start` typed by hand): taken as it is.
            const instance = await readInstance(layout);
            if (!result.ready) throw notReady(result.pid);
            return runningVm(result.pid, instance?.forwardPort ?? null);
          }
          if (!result.ready) {
            await stopVm(layout, backend, 0, deps);
            throw notReady(result.instance.pid);
          }
          return runningVm(result.instance.pid, forwardPort);
        } catch (error) {
          // Taken between the pick and the launch: another port.
          if (error instanceof LinuxBuilderError && error.code === "vm.port-taken" && pick < PORT_PICKS)
            continue;
          throw error;
        }
      }
    },
    stop: (timeoutMs) => stopVm(layout, backend, timeoutMs, deps),
    runningPid: () => runningPid(layout, backend, deps),
    async guestBuilds(vm) {
      if (vm.forwardPort === null) return undefined;
      try {
        const { stdout } = await run(
          "ssh",
          [...sshArgs(files, vm.forwardPort, { reuse: true }), COUNT_BUILD_PROCESSES],
          { timeout: GUEST_BUILDS_TIMEOUT_MS },
        );
        const count = Number(stdout.trim());
        return Number.isInteger(count) && count >= 0 ? count : undefined;
      } catch {
        return undefined;
      }
    },
    async adopt() {
      const pid = await runningPid(layout, backend, deps);
      if (pid === undefined) return undefined;
      const instance = await readInstance(layout);
      return runningVm(pid, instance?.pid === pid ? (instance.forwardPort ?? null) : null);
    },
  };
}

function notReady(pid: number): LinuxBuilderError {
  return new LinuxBuilderError("vm.not-ready", `The builder (pid ${pid}) did not become ready in time`, {
    hint: "`linux-builder logs` shows the console and the service's log.",
  });
}
