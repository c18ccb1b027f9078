import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkBuilder } from "../../../../src/host/doctor/builder.js";

describe("the builder and the check build", () => {
  const builder = {
    pid: 4242,
    port: 31022,
    configuredPort: 31022,
    accel: "hvf",
    uptimeSeconds: 30,
    ready: true,
  };

  test("running and ready; not running; running but not answering", () => {
    assert.deepEqual(checkBuilder(builder), {
      name: "builder",
      status: "ok",
      detail: "running (pid 4242, hvf, 127.0.0.1:31022), ready",
    });
    const stopped = checkBuilder({
      ...builder,
      pid: undefined,
      port: undefined,
      accel: undefined,
      ready: false,
    });
    assert.equal(stopped.status, "warn");
    assert.equal(stopped.detail, "not running");
    assert.match(stopped.fix ?? "", /linux-builder start/);
    const stuck = checkBuilder({ ...builder, ready: false });
    assert.equal(stuck.status, "fail");
    assert.match(stuck.detail, /up 30 s\) but its ssh and Nix daemon do not answer/);
    assert.match(checkBuilder({ ...builder, configuredPort: 31023 }).detail, /the config now says 31023/);
  });
});
