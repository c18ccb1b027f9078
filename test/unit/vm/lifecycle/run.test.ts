import assert from "node:assert/strict";
import { access, rm } from "node:fs/promises";
import { test } from "node:test";
import { runVm } from "../../../../src/vm/lifecycle/run.js";
import { fakeConfig, fakeImage, fakeRunningVm, fakeVm, noCas } from "./fake-vm.js";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

test("run: a backend without an attached console, or a VM already running, is refused before anything starts", async () => {
  const vm = await fakeVm();
  try {
    const options = {
      config: fakeConfig(vm),
      layout: vm.layout,
      image: await fakeImage(vm),
      deps: vm.deps,
      caDeps: noCas,
      stopDeadlineMs: 60_000,
    };
    await assert.rejects(runVm({ ...options, backend: vm.backend }), { code: "vm.attached-unsupported" });
    assert.equal(await exists(vm.layout.startLock), false, "the lock is released");

    await fakeRunningVm(vm);
    const attachable = { ...vm.backend, features: { ...vm.backend.features, attachedConsole: true } };
    await assert.rejects(runVm({ ...options, backend: attachable }), {
      code: "vm.running",
      message: /already running \(pid 4000000\): `run` boots one in this terminal/,
    });
    assert.equal(await exists(vm.layout.startLock), false);
    assert.deepEqual(vm.calls, []);
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
});
