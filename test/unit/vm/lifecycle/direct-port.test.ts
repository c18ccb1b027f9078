import assert from "node:assert/strict";
import { test } from "node:test";
import type { InstanceInfo } from "../../../../src/vm/instance.js";
import { directSshPort } from "../../../../src/vm/lifecycle/direct-port.js";

const instance: InstanceInfo = {
  pid: 4_000_000,
  port: 31022,
  accel: "tcg",
  arch: "amd64",
  imageId: "fake",
  startedAt: "2026-11-29T14:00:00.000Z",
  cpus: 1,
  memoryMiB: 1024,
  consoleOffset: 0,
};

test("a VM is reached directly on its forward if a serve booted it, else on its port, else the configured one", () => {
  assert.equal(directSshPort({ ...instance, forwardPort: 41_234 }, 31022), 41_234);
  assert.equal(directSshPort(instance, 31099), 31022);
  assert.equal(directSshPort(undefined, 31099), 31099);
});
