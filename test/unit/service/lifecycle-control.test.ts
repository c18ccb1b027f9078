import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import { lifecycleControl, pickFreePort } from "../../../src/service/lifecycle-control.js";
import { readInstance } from "../../../src/vm/instance.js";
import type { VmBackend } from "../../../src/vm/lifecycle/prepare.js";
import { FAKE_PID, type FakeVm, fakeConfig, fakeImage, fakeVm, noCas } from "../vm/lifecycle/fake-vm.js";

/** The fake backend, forwarding a TCP port as QEMU does (so the port is checked before a boot). */
function tcpBackend(vm: FakeVm): VmBackend {
  return {
    ...vm.backend,
    endpoint: ({ sshPort }) => ({
      kind: "tcp",
      host: "127.0.0.1",
      port: sshPort,
      listenAddress: "127.0.0.1",
    }),
    launchFailure: (output) =>
      output.includes("Could not set up host forwarding rule") ? "port-taken" : undefined,
  };
}

async function withControl(run: (vm: FakeVm, picks: number[]) => Promise<void>) {
  const vm = await fakeVm();
  try {
    await run(vm, []);
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
}

describe("the service's VM control over the lifecycle", () => {
  test("a picked port found taken before the launch: another is picked; instance.json has both ports", async () => {
    await withControl(async (vm) => {
      const holder = createServer();
      await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
      const taken = (holder.address() as { port: number }).port;
      const free = await pickFreePort();
      const picks = [taken, free];
      const image = await fakeImage(vm);
      const config = fakeConfig(vm);
      try {
        const control = lifecycleControl({
          config,
          layout: vm.layout,
          backend: tcpBackend(vm),
          deps: vm.deps,
          caDeps: noCas,
          image: async () => image,
          readyTimeoutMs: 60_000,
          storeAnswers: async () => vm.running,
          pickPort: async () => picks.shift() as number,
        });
        const booted = await control.boot(new AbortController().signal);
        assert.equal(booted.pid, FAKE_PID);
        assert.equal(booted.forwardPort, free);
        assert.deepEqual(booted.target, {
          kind: "tcp",
          host: "127.0.0.1",
          port: free,
          listenAddress: "127.0.0.1",
        });
        const instance = await readInstance(vm.layout);
        assert.equal(instance?.port, config.port);
        assert.equal(instance?.forwardPort, free);
        assert.equal(vm.launches, 1);
        assert.deepEqual(await control.adopt(), booted);
        assert.equal((await control.stop(1_000)).outcome, "powered-off");
        assert.equal(await control.runningPid(), undefined);
      } finally {
        await new Promise((resolve) => holder.close(resolve));
      }
    });
  });

  test("a port taken between the check and the launch (the backend says so): booted again on another", async () => {
    await withControl(async (vm) => {
      const image = await fakeImage(vm);
      const first = await pickFreePort();
      const second = await pickFreePort();
      const picks = [first, second];
      const launch = vm.deps.runDetached;
      let launches = 0;
      const control = lifecycleControl({
        config: fakeConfig(vm),
        layout: vm.layout,
        backend: tcpBackend(vm),
        deps: {
          ...vm.deps,
          runDetached: async (plan) => {
            launches += 1;
            if (launches === 1) {
              throw Object.assign(new Error("exit 1"), {
                stderr: "Could not set up host forwarding rule 'tcp:…'",
              });
            }
            return launch(plan);
          },
        },
        caDeps: noCas,
        image: async () => image,
        readyTimeoutMs: 60_000,
        storeAnswers: async () => vm.running,
        pickPort: async () => picks.shift() as number,
      });
      assert.equal((await control.boot(new AbortController().signal)).forwardPort, second);
      assert.equal(launches, 2);
    });
  });

  test("a boot aborted (a stop while it boots) stops the VM it booted and fails as cancelled", async () => {
    await withControl(async (vm) => {
      const image = await fakeImage(vm);
      const abort = new AbortController();
      const control = lifecycleControl({
        config: fakeConfig(vm),
        layout: vm.layout,
        backend: tcpBackend(vm),
        deps: vm.deps,
        caDeps: noCas,
        image: async () => image,
        readyTimeoutMs: 2_000,
        // The stop comes while the boot waits for the guest's store.
        storeAnswers: async () => {
          abort.abort();
          return false;
        },
      });
      await assert.rejects(control.boot(abort.signal), { code: "vm.cancelled" });
      assert.equal(vm.launches, 1);
      assert.equal(await control.runningPid(), undefined);
    });
  });
});
