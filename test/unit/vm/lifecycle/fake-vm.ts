/**
 * A fake backend and fake processes for the lifecycle's unit tests: one VM "process" (FAKE_PID)
 * that a launch starts, that answers stop requests as told, and a clock that moves only when the
 * lifecycle sleeps, so a 60 s stop deadline passes in a millisecond.
 */
import { createHash } from "node:crypto";
import { appendFile, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../../../src/config/config.js";
import type { HostCaDeps } from "../../../../src/host/ca-certificates.js";
import type { StoredImage } from "../../../../src/image/store.js";
import type { LaunchPlan } from "../../../../src/vm/backend.js";
import type { LifecycleDeps } from "../../../../src/vm/lifecycle/deps.js";
import type { VmBackend } from "../../../../src/vm/lifecycle/prepare.js";
import { type StateLayout, stateLayout } from "../../../../src/vm/state.js";

export const FAKE_PID = 4_000_000;

export interface FakeBehaviour {
  /** The power button: the guest powers off, the request arrives but nothing happens, or no answer. */
  request?: "powers-off" | "ignored" | "unreachable";
  /** The force stop: the VM quits, nothing happens, or no answer. */
  force?: "quits" | "ignored" | "unreachable";
  /** SIGTERM ends the VM, or not (SIGKILL always does). */
  sigterm?: "dies" | "ignored";
  /**
   * What each launch does, in order (the last one repeats): the console it prints, and whether it
   * stays up (`dies`: it ends once the lifecycle has seen it run).
   */
  boots?: readonly { readonly console: string; readonly dies?: boolean }[];
}

export interface FakeVm {
  readonly dir: string;
  readonly layout: StateLayout;
  readonly backend: VmBackend;
  readonly deps: LifecycleDeps;
  /** What the lifecycle asked of the backend and the processes, in order. */
  readonly calls: string[];
  running: boolean;
  launches: number;
  /** Runs after each launch (a test aborts there, say). */
  afterLaunch?: () => void;
}

export async function fakeVm(behaviour: FakeBehaviour = {}): Promise<FakeVm> {
  const dir = await mkdtemp(join(tmpdir(), "lb-fake-vm-"));
  const layout = stateLayout(dir);
  let clock = Date.now();
  const calls: string[] = [];
  const boots = behaviour.boots ?? [{ console: "linux-builder: SSHD at 1.0s\n" }];
  let dying = false;
  const vm: FakeVm = {
    dir,
    layout,
    calls,
    running: false,
    launches: 0,
    backend: {
      name: "FakeVM",
      features: { accelerators: ["kvm", "hvf", "tcg"], attachedConsole: false },
      chooseAccel: async () => ({ accel: "tcg" }),
      launch: (spec) => ({ command: "fake-vm", args: [spec.arch, spec.console.kind] }),
      launchFailure: () => undefined,
      endpoint: () => ({ kind: "unix", path: join(dir, "ssh.vsock") }),
      guestParameters: () => ({
        network: { kind: "dhcp" },
        dataDisk: "/dev/vda",
        console: "hvc0",
        powerButton: "acpi",
      }),
      isOurProcess: (cmdline) => cmdline.startsWith("fake-vm\0"),
      requestStop: async () => {
        calls.push("requestStop");
        const answer = behaviour.request ?? "powers-off";
        if (answer === "powers-off") vm.running = false;
        return answer !== "unreachable";
      },
      forceStop: async () => {
        calls.push("forceStop");
        const answer = behaviour.force ?? "quits";
        if (answer === "quits") vm.running = false;
        return answer !== "unreachable";
      },
    },
    deps: {
      alive: (pid) => {
        const running = pid === FAKE_PID && vm.running;
        if (running && dying) vm.running = dying = false;
        return running;
      },
      cmdline: async (pid) => (pid === FAKE_PID ? "fake-vm\0amd64\0" : "sleep\x080\0"),
      kill: (pid, signal) => {
        calls.push(signal);
        if (pid === FAKE_PID && (signal === "SIGKILL" || behaviour.sigterm !== "ignored")) vm.running = false;
      },
      runDetached: async (plan: LaunchPlan) => {
        calls.push(`launch ${plan.command} ${plan.args.join(" ")}`);
        const boot = boots[Math.min(vm.launches, boots.length - 1)] ?? { console: "" };
        vm.launches++;
        vm.running = true;
        dying = boot.dies === true;
        await writeFile(layout.pidfile, `${FAKE_PID}\n`);
        await appendFile(layout.consoleLog, boot.console);
        vm.afterLaunch?.();
      },
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    },
  };
  return vm;
}

/** A VM the fake started earlier: its pidfile, and its instance.json with the console from `offset`. */
export async function fakeRunningVm(vm: FakeVm, console = ""): Promise<void> {
  vm.running = true;
  await writeFile(vm.layout.pidfile, `${FAKE_PID}\n`);
  await writeFile(vm.layout.consoleLog, console);
  await writeFile(
    vm.layout.instance,
    JSON.stringify({
      pid: FAKE_PID,
      port: 31022,
      accel: "tcg",
      arch: "amd64",
      imageId: "fake",
      startedAt: "2026-11-29T14:00:00.000Z",
      cpus: 1,
      memoryMiB: 1024,
      consoleOffset: 0,
    }),
  );
}

/** An image with a tiny kernel and initrd, and a config for this state folder. */
export async function fakeImage(vm: FakeVm): Promise<StoredImage> {
  const directory = join(vm.dir, "image");
  await mkdir(directory);
  const initrd = Buffer.from("fake initrd\n");
  await writeFile(join(directory, "initrd"), initrd);
  await writeFile(join(directory, "kernel"), "fake kernel\n");
  const ref = (file: string, data: Buffer) => ({
    file,
    size: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
  });
  return {
    directory,
    manifest: {
      format: 1,
      id: "trixie-amd64-fake",
      arch: "amd64",
      suite: "trixie",
      nixSystem: "x86_64-linux",
      kernelVersion: "6.12",
      kernel: ref("kernel", Buffer.from("fake kernel\n")),
      initrd: { ...ref("initrd", initrd), uncompressedSize: initrd.length },
      lock: ref("lock", Buffer.from("")),
      inputs: "fake",
      modules: [],
      packageCount: 0,
      emulators: ["aarch64-linux"],
    },
  };
}

export function fakeConfig(vm: FakeVm) {
  return { ...defaultConfig({ cpus: 1, memoryMiB: 4096, arch: "amd64", stateDir: vm.dir }), diskGiB: 1 };
}

/** No CA anywhere: the guest trusts Debian's set only. */
export const noCas: HostCaDeps = {
  env: {},
  systemCas: undefined,
  nixConf: "/nonexistent/nix.conf",
  readText: async () => ({ kind: "missing" }),
  run: async () => ({ code: 1, stdout: "", stderr: "" }),
};
