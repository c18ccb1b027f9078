import assert from "node:assert/strict";
import { access, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { LinuxBuilderError } from "../../../../src/errors.js";
import { PROBE_KERNEL_FILE } from "../../../../src/vm/lifecycle/early-accel.js";
import { runVm } from "../../../../src/vm/lifecycle/run.js";
import { type FakeVm, fakeConfig, fakeImage, fakeRunningVm, fakeVm, noCas } from "./fake-vm.js";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

test("run: a backend without an attached console, or a VM already running, is refused before anything starts", async () => {
  const vm = await fakeVm();
  try {
    let imagesAsked = 0;
    const options = {
      config: fakeConfig(vm),
      layout: vm.layout,
      image: async () => {
        imagesAsked++;
        return await fakeImage(vm);
      },
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
    assert.equal(imagesAsked, 0, "refused before the image is found or composed");
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
});

test("run: the accelerator's probe boots the composer's kernel while the image is composed; a failed composition kills it", async () => {
  const vm = await fakeVm();
  try {
    const events: string[] = [];
    const backend: FakeVm["backend"] = {
      ...vm.backend,
      features: { ...vm.backend.features, attachedConsole: true },
      chooseAccel: async (request) => {
        events.push(`probe boots ${await readFile(await request.kernel(), "utf8")}`);
        await new Promise<void>((_resolve, reject) => {
          request.signal?.addEventListener("abort", () => {
            events.push("probe killed");
            reject(new LinuxBuilderError("vm.cancelled", "Cancelled: the KVM probe was stopped"));
          });
        });
        return { accel: "kvm" };
      },
    };
    const run = runVm({
      config: { ...fakeConfig(vm), accel: "auto" },
      layout: vm.layout,
      backend,
      deps: vm.deps,
      caDeps: noCas,
      stopDeadlineMs: 60_000,
      image: async (offerProbeKernel) => {
        offerProbeKernel({ bytes: Buffer.from("the composer's kernel") });
        for (let i = 0; i < 500 && events.length === 0; i++)
          await new Promise((resolve) => setTimeout(resolve, 5));
        throw new Error("the mirror is gone");
      },
    });
    await assert.rejects(run, { message: "the mirror is gone" });
    assert.deepEqual(events, ["probe boots the composer's kernel", "probe killed"]);
    assert.equal(vm.launches, 0);
    assert.equal(await exists(join(vm.dir, PROBE_KERNEL_FILE)), false, "the probe's kernel is removed");
    assert.equal(await exists(vm.layout.startLock), false, "the lock is released");
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
});
