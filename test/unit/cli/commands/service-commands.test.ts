import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import type {
  ControlRequest,
  ControlResponse,
  ServiceStatus,
} from "../../../../src/service/control-protocol.js";
import { runCli } from "../../../support/cli-process.js";
import { type FakeService, fakeService, serviceStatusOf } from "../../../support/fake-service.js";

/** The commands that speak to a running `linux-builder serve`, against a fake one on a real control socket. */
describe("the CLI with a service answering on the control socket", () => {
  let home: string;
  let state: string;
  let service: FakeService | undefined;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "lb-svc-"));
    state = join(home, "state");
    await mkdir(state, { recursive: true });
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  const up = serviceStatusOf({
    vm: { state: "up", pid: 777, forwardPort: 40123, since: "2026-11-29T10:05:00.000Z" },
    idlePowerOffInSeconds: 432,
    guestBuilds: 0,
    totals: { connections: 14, boots: 3 },
  });
  async function serve(answer: (request: ControlRequest) => ControlResponse) {
    service = await fakeService(join(state, "serve.sock"), answer);
    return service;
  }
  const statusOnly =
    (status: ServiceStatus) =>
    (request: ControlRequest): ControlResponse => {
      assert.equal(request.op, "status");
      return { op: "status", status };
    };

  test("status: the service, the VM as it says, connections, builds and the idle countdown; never ssh", async () => {
    await serve(statusOnly(up));
    const { code, stdout } = await runCli(home, "status");
    assert.equal(code, 0);
    const lines = stdout.split("\n");
    assert.deepEqual(lines.slice(0, 6), [
      "Service:  linux-builder serve (pid 4242) on 127.0.0.1:31099",
      "Clients:  none open; 14 since the service started, 3 boots",
      "Builds:   0 running in the guest (at its last look)",
      "Idle:     powers off in 7 min 12 s with no connection",
      // No launchd or systemd here (and none in CI's containers): nothing manages it.
      "Managed:  by no service manager: this serve was started by hand",
      "Builder:  up (pid 777), ready",
    ]);
    // Only the status was asked: nothing connected to the front door.
    assert.deepEqual(service?.requests, [{ op: "status" }]);
  });

  test("status: connections open (some waiting for the boot) stop the countdown; idleMinutes 0 never counts; the last boot error", async () => {
    await serve(
      statusOnly(
        serviceStatusOf({
          vm: { state: "booting", pid: 778, forwardPort: 40124, since: "2026-11-29T10:06:00.000Z" },
          connections: 2,
          waiting: 1,
          lastError: "the kernel panicked",
        }),
      ),
    );
    const booting = await runCli(home, "status");
    assert.match(
      booting.stdout,
      /^Clients: {2}2 open, 1 waiting for the boot; 0 since the service started, 0 boots$/m,
    );
    assert.match(booting.stdout, /^Idle: {5}not counting while 2 connections are open \(then 10 min\)$/m);
    assert.match(booting.stdout, /^Error: {4}the last boot failed: the kernel panicked$/m);
    assert.match(booting.stdout, /^Builder: {2}booting \(pid 778\)$/m);
    assert.doesNotMatch(booting.stdout, /^Builds:/m);
    await service?.close();
    await serve(statusOnly(serviceStatusOf({ idleMinutes: 0, listening: false })));
    const never = await runCli(home, "status");
    assert.match(never.stdout, /^Idle: {5}never powered off for idleness \(idleMinutes 0\)$/m);
    assert.match(
      never.stdout,
      /^Service: {2}linux-builder serve \(pid 4242\), waiting for the port: 127\.0\.0\.1:31099 is taken \(by a builder started without the service, or another program: `linux-builder doctor` names it\)$/m,
    );
    assert.match(never.stdout, /^Builder: {2}off; the next connection boots it$/m);
  });

  test("status --json: the service's own status under `service`; the VM's fields from it", async () => {
    await serve(statusOnly(up));
    const report = JSON.parse((await runCli(home, "status", "--json")).stdout);
    assert.deepEqual(report.service, up);
    assert.equal(report.running, true);
    assert.equal(report.pid, 777);
    assert.equal(report.ready, true);
    assert.equal(report.port, 31099);
    assert.equal(report.uptimeSeconds > 0, true);
  });

  test("status without a service says so, and --json has service null", async () => {
    const { stdout } = await runCli(home, "status");
    assert.match(
      stdout,
      /^Service: {2}not running\nManaged: {2}by no service manager \(.*\)\nBuilder: {2}stopped$/m,
    );
    const report = JSON.parse((await runCli(home, "status", "--json")).stdout);
    assert.equal(report.service, null);
    assert.equal(report.osService, null);
  });

  test("start asks the service with its --timeout and says what it did", async () => {
    await serve((request) => {
      assert.equal(request.op, "start");
      return { op: "start", status: up, booted: true, ready: true, waitedSeconds: 3.25 };
    });
    const { code, stderr } = await runCli(home, "start", "--timeout", "90");
    assert.equal(code, 0);
    assert.deepEqual(service?.requests, [{ op: "start", timeoutMs: 90_000 }]);
    assert.equal(
      stderr,
      "Ready in 3.3 s (pid 777, booted by the service (pid 4242) on 127.0.0.1:31099). `linux-builder ssh` logs in.\n",
    );
  });

  test("start --no-wait sends timeout 0: the service answers at once and goes on booting", async () => {
    const booting = serviceStatusOf({
      vm: { state: "booting", pid: 9, forwardPort: 40000, since: up.startedAt },
    });
    await serve(() => ({ op: "start", status: booting, booted: true, ready: false, waitedSeconds: 0 }));
    const { code, stderr } = await runCli(home, "start", "--no-wait");
    assert.equal(code, 0);
    assert.deepEqual(service?.requests, [{ op: "start", timeoutMs: 0 }]);
    assert.match(
      stderr,
      /^Started: the service \(pid 4242\) on 127\.0\.0\.1:31099 boots the builder; not waiting/,
    );
  });

  test("start: not ready in time is vm.not-ready, and the boot goes on in the service", async () => {
    const booting = serviceStatusOf({
      vm: { state: "booting", pid: 9, forwardPort: 40000, since: up.startedAt },
    });
    await serve(() => ({ op: "start", status: booting, booted: false, ready: false, waitedSeconds: 5 }));
    const { code, stderr } = await runCli(home, "start", "--timeout", "5");
    assert.equal(code, 1);
    assert.match(stderr, /not ready after 5 s \(booting\); the service \(pid 4242\).* goes on booting it/);
  });

  test("a boot the service failed is its error, with its code and hint", async () => {
    await serve(() => ({
      op: "error",
      error: { code: "vm.boot-failed", message: "The guest did not boot", hint: "Look at the console." },
    }));
    const { code, stderr } = await runCli(home, "start");
    assert.equal(code, 1);
    assert.match(stderr, /The guest did not boot\n {2}Look at the console\./);
  });

  test("stop asks the service, in the words of the direct stop, and says the front door stays", async () => {
    await serve(() => ({ op: "stop", status: serviceStatusOf(), outcome: "powered-off", seconds: 1.24 }));
    const { code, stderr } = await runCli(home, "stop", "--timeout", "20");
    assert.equal(code, 0);
    assert.deepEqual(service?.requests, [{ op: "stop", timeoutMs: 20_000 }]);
    assert.equal(
      stderr,
      "Stopped: the guest powered off cleanly in 1.2 s.\nThe service (pid 4242) keeps 127.0.0.1:31099: the next connection boots the builder again.\n",
    );
  });

  test("restart: stop, then start, both through the service", async () => {
    await serve((request) =>
      request.op === "stop"
        ? { op: "stop", status: serviceStatusOf(), outcome: "not-running", seconds: 0 }
        : { op: "start", status: up, booted: true, ready: true, waitedSeconds: 2 },
    );
    const { code, stderr } = await runCli(home, "restart", "--timeout", "30");
    assert.equal(code, 0);
    assert.deepEqual(service?.requests, [
      { op: "stop", timeoutMs: 60_000 },
      { op: "start", timeoutMs: 30_000 },
    ]);
    assert.match(stderr, /^The builder is not running\.\n.*\nReady in 2\.0 s/);
  });

  test("run refuses while a service owns the port, and says how to stop the service", async () => {
    await serve(statusOnly(up));
    const { code, stderr } = await runCli(home, "run", "--no-install");
    assert.equal(code, 1);
    assert.match(
      stderr,
      /A linux-builder service \(serve, pid 4242\) owns this builder and 127\.0\.0\.1:31099/,
    );
    assert.match(stderr, /`linux-builder stop` powers the VM off, but the service keeps the port/);
    assert.match(stderr, /systemctl or launchctl.*`kill 4242`/s);
  });

  test("console with the service's VM off: it is off, and start boots it", async () => {
    await serve(statusOnly(serviceStatusOf()));
    const { code, stderr } = await runCli(home, "console");
    assert.equal(code, 1);
    assert.match(stderr, /The builder is off: the service \(pid 4242\) boots it on the next connection/);
    assert.match(stderr, /`linux-builder start` boots it now/);
  });

  test("console while the service's VM boots: it is booting, and start waits for it", async () => {
    await serve(
      statusOnly(
        serviceStatusOf({
          vm: { state: "booting", pid: null, forwardPort: null, since: "2026-11-29T10:00:00.000Z" },
        }),
      ),
    );
    const { code, stderr } = await runCli(home, "console");
    assert.equal(code, 1);
    assert.match(stderr, /The builder is booting \(by the service \(pid 4242\)\)/);
    assert.match(stderr, /`linux-builder start` waits for it to be ready/);
  });

  test("logs: the service's log and the console's, each headed, a legend saying which is which", async () => {
    await writeFile(join(state, "serve.log"), "2026-11-29T10:05:00Z booting the VM\n");
    await writeFile(join(state, "console.log"), "linux-builder: READY\n");
    const both = await runCli(home, "logs");
    assert.equal(both.code, 0);
    assert.equal(
      both.stdout,
      `==> ${join(state, "serve.log")} <==\n2026-11-29T10:05:00Z booting the VM\n\n==> ${join(state, "console.log")} <==\nlinux-builder: READY\n`,
    );
    assert.match(both.stderr, /serve\.log: the service's log; .*console\.log: the console's\./);
    await rm(join(state, "serve.log"));
    const consoleOnly = await runCli(home, "logs");
    assert.equal(consoleOnly.stdout, "linux-builder: READY\n");
    assert.equal(consoleOnly.stderr, "");
  });
});
