import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type RunningVm, Supervisor } from "../../../src/service/supervisor.js";
import {
  FAKE_TARGET,
  type FakeClock,
  type FakeControl,
  fakeClock,
  fakeControl,
  settle,
} from "./fake-service.js";

interface Setup {
  readonly supervisor: Supervisor;
  readonly control: FakeControl;
  readonly clock: FakeClock;
  readonly log: string[];
}

function setup(options: { idleMinutes?: number; adopted?: RunningVm } = {}): Setup {
  const control = fakeControl();
  const clock = fakeClock();
  const log: string[] = [];
  const supervisor = new Supervisor({
    control,
    timers: clock,
    idleMinutes: options.idleMinutes ?? 1,
    log: (line) => log.push(line),
    watchMs: 3_000,
    ...(options.adopted ? { adopted: options.adopted } : {}),
  });
  return { supervisor, control, clock, log };
}

/** A connection as the front door opens it, remembering whether the supervisor closed it. */
function connect(supervisor: Supervisor) {
  const connection = { closed: false, close: () => (connection.closed = true) };
  const lease = supervisor.open(connection);
  const outcome = lease.target.then(
    (target) => ({ target }),
    (error: Error) => ({ error: error.message }),
  );
  return { connection, lease, outcome };
}

/** A VM up, booted by a first connection that has ended. */
async function upAndIdle(s: Setup): Promise<void> {
  const first = connect(s.supervisor);
  await settle();
  s.control.ready();
  await first.outcome;
  first.lease.done();
}

describe("the service's supervisor", () => {
  test("the first connection boots the VM and is carried once it is ready", async () => {
    const { supervisor, control } = setup();
    assert.equal(supervisor.status().vm.state, "off");
    const one = connect(supervisor);
    await settle();
    assert.deepEqual(control.calls, ["boot"]);
    assert.equal(supervisor.status().vm.state, "booting");
    assert.equal(supervisor.status().waiting, 1);
    const vm = control.ready();
    assert.deepEqual(await one.outcome, { target: FAKE_TARGET });
    const status = supervisor.status();
    assert.equal(status.vm.state, "up");
    assert.equal(status.vm.pid, vm.pid);
    assert.equal(status.vm.forwardPort, 40_000);
    assert.equal(status.connections, 1);
    assert.equal(status.waiting, 0);
    assert.deepEqual(status.totals, { connections: 1, boots: 1 });
  });

  test("connections arriving during the boot wait for it, and are all carried by that one boot", async () => {
    const { supervisor, control } = setup();
    const all = [connect(supervisor), connect(supervisor), connect(supervisor)];
    await settle();
    assert.equal(supervisor.status().waiting, 3);
    control.ready();
    for (const one of all) assert.deepEqual(await one.outcome, { target: FAKE_TARGET });
    assert.deepEqual(control.calls, ["boot"]);
    assert.equal(supervisor.status().connections, 3);
  });

  test("a failed boot fails its waiting connections and is logged; the next connection boots again", async () => {
    const { supervisor, control, log } = setup();
    const waiting = [connect(supervisor), connect(supervisor)];
    await settle();
    control.fail("QEMU is not installed");
    for (const one of waiting) assert.deepEqual(await one.outcome, { error: "QEMU is not installed" });
    for (const one of waiting) one.lease.done();
    const status = supervisor.status();
    assert.equal(status.vm.state, "off");
    assert.equal(status.lastError, "QEMU is not installed");
    assert.equal(status.connections, 0);
    assert.ok(log.some((line) => line.includes("booting the builder failed: QEMU is not installed")));
    const again = connect(supervisor);
    await settle();
    control.ready();
    assert.deepEqual(await again.outcome, { target: FAKE_TARGET });
    assert.deepEqual(control.calls, ["boot", "boot"]);
    assert.equal(supervisor.status().lastError, null);
  });

  test("the idle timer runs only with no connection open, and a connection cancels it", async () => {
    const s = setup({ idleMinutes: 1 });
    const first = connect(s.supervisor);
    await settle();
    s.control.ready();
    await first.outcome;
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, null);
    // A connection open for longer than the idle time: nothing stops.
    await s.clock.advance(5 * 60_000);
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, null);
    assert.ok(!s.control.calls.includes("stop"));
    first.lease.done();
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, 60);
    await s.clock.advance(45_000);
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, 15);
    const second = connect(s.supervisor);
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, null);
    await second.outcome;
    await s.clock.advance(60_000);
    assert.ok(!s.control.calls.includes("stop"));
    second.lease.done();
    second.lease.done(); // twice is once
    assert.equal(s.supervisor.status().connections, 0);
    await s.clock.advance(59_000);
    assert.ok(!s.control.calls.includes("stop"));
    await s.clock.advance(1_000);
    assert.deepEqual(s.control.calls, ["boot", "guestBuilds", "stop"]);
    assert.equal(s.supervisor.status().vm.state, "off");
    assert.ok(s.log.some((line) => line.includes("idle for 1 min")));
  });

  test("builds still running in the guest hold the power-off off; it comes once they end", async () => {
    const s = setup({ idleMinutes: 0.1 });
    await upAndIdle(s);
    s.control.builds = 2;
    await s.clock.advance(6_000);
    assert.ok(!s.control.calls.includes("stop"));
    assert.equal(s.supervisor.status().guestBuilds, 2);
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, 6);
    s.control.builds = 0;
    await s.clock.advance(6_000);
    assert.deepEqual(s.control.calls, ["boot", "guestBuilds", "guestBuilds", "stop"]);
  });

  test("a guest that cannot be asked does not keep the VM up forever", async () => {
    const s = setup({ idleMinutes: 0.1 });
    await upAndIdle(s);
    s.control.builds = undefined;
    await s.clock.advance(6_000);
    assert.ok(s.control.calls.includes("stop"));
    assert.ok(s.log.some((line) => line.includes("could not be counted")));
  });

  test("idleMinutes 0: never powered off", async () => {
    const s = setup({ idleMinutes: 0 });
    await upAndIdle(s);
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, null);
    await s.clock.advance(7 * 24 * 3_600_000);
    assert.ok(!s.control.calls.includes("stop"));
    assert.equal(s.supervisor.status().vm.state, "up");
  });

  test("a VM that died is noticed by the periodic look, and the next connection boots a new one", async () => {
    const s = setup({ idleMinutes: 0 });
    await upAndIdle(s);
    s.control.pid = undefined; // kill -9
    await s.clock.advance(3_000);
    assert.equal(s.supervisor.status().vm.state, "off");
    assert.ok(s.log.some((line) => line.includes("is gone: its process ended")));
    const next = connect(s.supervisor);
    await settle();
    s.control.ready();
    assert.deepEqual(await next.outcome, { target: FAKE_TARGET });
    assert.deepEqual(s.control.calls, ["boot", "boot"]);
  });

  test("a connection that finds the VM's process gone boots it again, before the periodic look", async () => {
    const s = setup({ idleMinutes: 0 });
    await upAndIdle(s);
    s.control.pid = undefined;
    const next = connect(s.supervisor);
    await settle();
    assert.deepEqual(s.control.calls, ["boot", "boot"]);
    assert.ok(s.log.some((line) => line.includes("found gone by a new connection")));
    s.control.ready();
    assert.deepEqual(await next.outcome, { target: FAKE_TARGET });
  });

  test("a stop during a boot aborts it at once and closes the connections waiting for it; a later connection boots again", async () => {
    const s = setup();
    const waiting = [connect(s.supervisor), connect(s.supervisor)];
    await settle();
    const stopped = s.supervisor.stop(30_000);
    for (const one of waiting) assert.equal(one.connection.closed, true);
    assert.equal(s.control.signal?.aborted, true);
    // Nobody ends the boot: the abort does (as startVm stops what it booted).
    assert.deepEqual(await stopped, { outcome: "not-running", seconds: 1 });
    for (const one of waiting)
      assert.deepEqual(await one.outcome, { error: "The builder was stopped while it booted" });
    assert.equal(s.supervisor.status().vm.state, "off");
    for (const one of waiting) one.lease.done();
    const later = connect(s.supervisor);
    await settle();
    s.control.ready();
    assert.deepEqual(await later.outcome, { target: FAKE_TARGET });
    assert.deepEqual(s.control.calls, ["boot", "stop", "boot"]);
  });

  test("a connection arriving during a stop waits for it, then boots", async () => {
    const s = setup();
    await upAndIdle(s);
    const stopped = s.supervisor.stop(30_000);
    const during = connect(s.supervisor);
    assert.equal(s.supervisor.status().vm.state, "stopping");
    await stopped;
    await settle();
    assert.deepEqual(s.control.calls, ["boot", "stop", "boot"]);
    s.control.ready();
    assert.deepEqual(await during.outcome, { target: FAKE_TARGET });
  });

  test("a start request boots and answers when ready; joins a boot under way; answers not ready at its timeout", async () => {
    const s = setup();
    const first = s.supervisor.start(60_000);
    await settle();
    const second = s.supervisor.start(60_000);
    await s.clock.advance(2_000);
    s.control.ready();
    assert.deepEqual(await first, { booted: true, ready: true, waitedSeconds: 2 });
    assert.deepEqual(await second, { booted: false, ready: true, waitedSeconds: 2 });
    await s.supervisor.stop(1_000);
    const hurried = s.supervisor.start(0);
    await s.clock.advance(0);
    assert.deepEqual(await hurried, { booted: true, ready: false, waitedSeconds: 0 });
    // The boot went on.
    assert.equal(s.supervisor.status().vm.state, "booting");
    s.control.ready();
    await settle();
    assert.equal(s.supervisor.status().vm.state, "up");
  });

  test("a VM started without the service is adopted but never powered off for idleness", async () => {
    const adopted: RunningVm = { pid: 77, forwardPort: null, target: FAKE_TARGET };
    const s = setup({ idleMinutes: 0.1, adopted });
    s.control.pid = 77;
    assert.equal(s.supervisor.status().vm.state, "up");
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, null);
    await s.clock.advance(60_000);
    assert.ok(!s.control.calls.includes("stop"));
    // Its stop through the control socket works as any.
    assert.equal((await s.supervisor.stop(1_000)).outcome, "powered-off");
  });

  test("shutdown powers the VM off and leaves no timer behind", async () => {
    const s = setup();
    await upAndIdle(s);
    assert.equal((await s.supervisor.shutdown(1_000)).outcome, "powered-off");
    assert.equal(s.clock.pending(), 0);
    assert.deepEqual(await connect(s.supervisor).outcome, { error: "The service is stopping" });
  });

  test("a boot that ends well after a stop cancelled it arms no idle timer and carries nobody", async () => {
    const s = setup({ idleMinutes: 1 });
    const waiting = connect(s.supervisor);
    await settle();
    const bootOfStop = s.control.boots[0];
    const stopped = s.supervisor.stop(30_000);
    // The boot finishes anyway (it was past its last check): the VM is the stop's.
    bootOfStop?.resolve({ pid: 5, forwardPort: 40_000, target: FAKE_TARGET });
    await stopped;
    assert.deepEqual(await waiting.outcome, { error: "The builder was stopped while it booted" });
    waiting.lease.done();
    assert.equal(s.supervisor.status().vm.state, "off");
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, null);
    await s.clock.advance(120_000);
    assert.deepEqual(s.control.calls, ["boot", "stop"]);
  });

  test("a connection arriving while a stop waits for the boot's end waits for the stop, then boots again", async () => {
    const s = setup();
    const first = connect(s.supervisor);
    await settle();
    const stopped = s.supervisor.stop(30_000);
    assert.equal(s.supervisor.status().vm.state, "stopping");
    const during = connect(s.supervisor);
    assert.equal(during.connection.closed, false);
    await stopped;
    await first.outcome;
    await settle();
    assert.deepEqual(s.control.calls, ["boot", "stop", "boot"]);
    s.control.ready();
    assert.deepEqual(await during.outcome, { target: FAKE_TARGET });
    assert.equal(during.connection.closed, false);
  });

  test("a connection that came and went while the idle power-off asked the guest puts it off", async () => {
    const s = setup({ idleMinutes: 1 });
    await upAndIdle(s);
    s.control.duringGuestBuilds = () => {
      s.control.duringGuestBuilds = undefined;
      const quick = connect(s.supervisor);
      quick.lease.done();
    };
    await s.clock.advance(60_000);
    assert.ok(!s.control.calls.includes("stop"));
    assert.equal(s.supervisor.status().vm.state, "up");
    assert.equal(s.supervisor.status().idlePowerOffInSeconds, 60);
    await s.clock.advance(60_000);
    assert.equal(s.supervisor.status().vm.state, "off");
  });

  test("a start finding the VM dead reports that it booted it", async () => {
    const s = setup({ idleMinutes: 0 });
    await upAndIdle(s);
    s.control.pid = undefined;
    const started = s.supervisor.start(60_000);
    await settle();
    s.control.ready();
    assert.deepEqual(await started, { booted: true, ready: true, waitedSeconds: 0 });
  });

  test("a start with timeout 0 on a VM up answers ready, however long its process takes to be looked at", async () => {
    const s = setup();
    await upAndIdle(s);
    const runningPid = s.control.runningPid;
    s.control.runningPid = async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return runningPid();
    };
    const started = s.supervisor.start(0);
    await s.clock.advance(0);
    assert.deepEqual(await started, { booted: false, ready: true, waitedSeconds: 0 });
  });

  test("a stop with timeout 0 asks the VM's stop for 0 (escalate at once)", async () => {
    const s = setup();
    await upAndIdle(s);
    let asked: number | undefined;
    const stop = s.control.stop;
    s.control.stop = (timeoutMs) => {
      asked = timeoutMs;
      return stop(timeoutMs);
    };
    assert.equal((await s.supervisor.stop(0)).outcome, "powered-off");
    assert.equal(asked, 0);
  });
});
