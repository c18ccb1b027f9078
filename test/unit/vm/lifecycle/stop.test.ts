import assert from "node:assert/strict";
import { access, rm } from "node:fs/promises";
import { describe, test } from "node:test";
import { stopVm } from "../../../../src/vm/lifecycle/stop.js";
import { FAKE_PID, type FakeBehaviour, fakeRunningVm, fakeVm } from "./fake-vm.js";

/** Stops a running fake VM that behaves as told; says how, what was asked, and whether it still runs. */
async function stop(behaviour: FakeBehaviour, console = "") {
  const vm = await fakeVm(behaviour);
  try {
    await fakeRunningVm(vm, console);
    const result = await stopVm(vm.layout, vm.backend, 60_000, vm.deps);
    const pidfileLeft = await access(vm.layout.pidfile).then(
      () => true,
      () => false,
    );
    return { ...result, calls: vm.calls, running: vm.running, pidfileLeft };
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
}

describe("the stop escalation: power button, deadline, force stop, SIGTERM, SIGKILL", () => {
  test("not running: nothing to do", async () => {
    const vm = await fakeVm();
    try {
      assert.deepEqual(await stopVm(vm.layout, vm.backend, 60_000, vm.deps), {
        outcome: "not-running",
        seconds: 0,
      });
      assert.deepEqual(vm.calls, []);
    } finally {
      await rm(vm.dir, { recursive: true, force: true });
    }
  });

  test("the guest powers off: powered-off, at once", async () => {
    const stopped = await stop({ request: "powers-off" });
    assert.equal(stopped.outcome, "powered-off");
    assert.deepEqual(stopped.calls, ["requestStop"]);
    assert.equal(stopped.running, false);
    assert.equal(stopped.pidfileLeft, false, "the pidfile is cleaned up");
    assert.ok(stopped.seconds < 1);
  });

  test("QEMU exited but is not reaped yet (a zombie): powered-off, at once", async () => {
    const vm = await fakeVm({ request: "powers-off" });
    try {
      await fakeRunningVm(vm);
      // The host's init reaps a daemonized QEMU when it gets to it: until then its pid answers
      // signal 0, and /proc shows its command line empty.
      const zombie = {
        ...vm.deps,
        alive: (pid: number) => pid === FAKE_PID,
        cmdline: async (pid: number) => (pid === FAKE_PID && !vm.running ? "" : vm.deps.cmdline(pid)),
      };
      const stopped = await stopVm(vm.layout, vm.backend, 60_000, zombie);
      assert.equal(stopped.outcome, "powered-off");
      assert.deepEqual(vm.calls, ["requestStop"]);
      assert.ok(stopped.seconds < 1);
    } finally {
      await rm(vm.dir, { recursive: true, force: true });
    }
  });

  test("the guest ignores the power button: quit once the deadline passed", async () => {
    const stopped = await stop({ request: "ignored", force: "quits" });
    assert.equal(stopped.outcome, "quit");
    assert.deepEqual(stopped.calls, ["requestStop", "forceStop"]);
    assert.ok(stopped.seconds >= 60, `waited the deadline first (${stopped.seconds} s)`);
  });

  test("a boot that failed: no power button (nothing reaches a rescue shell), quit at once", async () => {
    const stopped = await stop({ force: "quits" }, "linux-builder: FAILED: no data disk\n");
    assert.equal(stopped.outcome, "quit-failed-boot");
    assert.deepEqual(stopped.calls, ["forceStop"]);
    assert.ok(stopped.seconds < 60);
  });

  test("the backend does not answer: SIGTERM, without asking it to force the stop too", async () => {
    const stopped = await stop({ request: "unreachable", force: "unreachable", sigterm: "dies" });
    assert.equal(stopped.outcome, "terminated");
    assert.deepEqual(stopped.calls, ["requestStop", "SIGTERM"]);
    assert.ok(stopped.seconds < 60, "no deadline waited for a request that never arrived");
  });

  test("the VM ignores everything but SIGKILL: killed", async () => {
    const stopped = await stop({ request: "ignored", force: "ignored", sigterm: "ignored" });
    assert.equal(stopped.outcome, "killed");
    assert.deepEqual(stopped.calls, ["requestStop", "forceStop", "SIGTERM", "SIGKILL"]);
    assert.equal(stopped.running, false);
  });
});
