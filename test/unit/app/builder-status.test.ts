import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { builderStatus } from "../../../src/app/builder-status.js";
import { consoleTarget } from "../../../src/app/console-target.js";
import { runningBuilder } from "../../../src/app/running-builder.js";
import { defaultConfig } from "../../../src/config/config.js";
import { LinuxBuilderError } from "../../../src/errors.js";
import { currentHost } from "../../../src/host/host.js";
import { stateLayout } from "../../../src/vm/state.js";
import { fakeService, serviceStatusOf } from "../../support/fake-service.js";

describe("a builder that is not running", () => {
  const host = currentHost();
  let stateDir: string;
  const config = () => ({
    ...defaultConfig({ cpus: 2, memoryMiB: 4096, arch: "arm64", stateDir }),
    port: 31099,
  });
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "lb-status-"));
  });
  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  test("status: stopped, the configured port and architecture, no disk yet", async () => {
    const { report, instance } = await builderStatus(host, config());
    assert.equal(instance, undefined);
    assert.deepEqual(report, {
      running: false,
      pid: null,
      ready: false,
      accel: null,
      port: 31099,
      arch: "arm64",
      uptimeSeconds: null,
      image: null,
      caCertificates: null,
      disk: null,
      stateDir,
      consoleLog: join(stateDir, "console.log"),
      service: null,
      osService: null,
    });
  });

  test("ssh and gc refuse it with the caller's hint; console with its own", async () => {
    await assert.rejects(
      runningBuilder(host, config(), "Start it: linux-builder start"),
      (error: unknown) =>
        error instanceof LinuxBuilderError &&
        error.code === "vm.stopped" &&
        error.message === "The builder is not running" &&
        error.hint === "Start it: linux-builder start",
    );
    await assert.rejects(
      consoleTarget(host, config()),
      (error: unknown) =>
        error instanceof LinuxBuilderError &&
        error.code === "vm.stopped" &&
        /linux-builder run/.test(error.hint ?? ""),
    );
  });
});

describe("a builder behind a service", () => {
  const host = currentHost();
  let stateDir: string;
  const config = () => ({
    ...defaultConfig({ cpus: 2, memoryMiB: 4096, arch: "arm64", stateDir }),
    port: 31099,
  });
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "lb-status-"));
  });
  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  test("ssh and gc go to the front door even with the VM off: the connection boots it", async () => {
    const service = await fakeService(join(stateDir, "serve.sock"), () => ({
      op: "status",
      status: serviceStatusOf({ port: 31099 }),
    }));
    try {
      assert.deepEqual(await runningBuilder(host, config(), "unused"), {
        layout: stateLayout(stateDir),
        port: 31099,
      });
    } finally {
      await service.close();
    }
  });

  test("a service still waiting for its port does not stand for the builder: not running is still refused", async () => {
    const service = await fakeService(join(stateDir, "serve.sock"), () => ({
      op: "status",
      status: serviceStatusOf({ listening: false }),
    }));
    try {
      await assert.rejects(runningBuilder(host, config(), "Start it"), { code: "vm.stopped" });
    } finally {
      await service.close();
    }
  });

  test("status reports a VM the service says is booting as running, not ready, without asking it", async () => {
    const booting = serviceStatusOf({
      vm: { state: "booting", pid: 31, forwardPort: 40001, since: "2026-11-29T10:00:00.000Z" },
    });
    const service = await fakeService(join(stateDir, "serve.sock"), () => ({
      op: "status",
      status: booting,
    }));
    try {
      const { report } = await builderStatus(host, config());
      assert.equal(report.running, true);
      assert.equal(report.pid, 31);
      assert.equal(report.ready, false);
      assert.equal(report.uptimeSeconds, null);
      assert.deepEqual(report.service, booting);
    } finally {
      await service.close();
    }
  });
});
