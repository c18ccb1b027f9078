import assert from "node:assert/strict";
import { access, rm, writeFile } from "node:fs/promises";
import { test } from "node:test";
import { runningPid } from "../../../../src/vm/lifecycle/pidfile.js";
import { FAKE_PID, fakeVm } from "./fake-vm.js";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

test("a pidfile: ours when its process runs our VM; stale (removed) when it is dead or another program", async () => {
  const vm = await fakeVm();
  try {
    assert.equal(await runningPid(vm.layout, vm.backend, vm.deps), undefined, "no pidfile");

    await writeFile(vm.layout.pidfile, `${FAKE_PID}\n`);
    vm.running = true;
    assert.equal(await runningPid(vm.layout, vm.backend, vm.deps), FAKE_PID);

    vm.running = false;
    assert.equal(await runningPid(vm.layout, vm.backend, vm.deps), undefined, "a dead VM's pidfile");
    assert.equal(await exists(vm.layout.pidfile), false, "is removed");

    // A live process under a recycled pid is not ours.
    await writeFile(vm.layout.pidfile, `${process.pid}\n`);
    const alive = { ...vm.deps, alive: () => true };
    assert.equal(await runningPid(vm.layout, vm.backend, alive), undefined);
    assert.equal(await exists(vm.layout.pidfile), false);

    // Where the host shows no command line (macOS), a live pid is trusted.
    await writeFile(vm.layout.pidfile, `${process.pid}\n`);
    const unknown = { ...alive, cmdline: async () => undefined };
    assert.equal(await runningPid(vm.layout, vm.backend, unknown), process.pid);

    // Half-written (QEMU truncates, then writes): left be.
    await writeFile(vm.layout.pidfile, "");
    assert.equal(await runningPid(vm.layout, vm.backend, vm.deps), undefined);
    assert.equal(await exists(vm.layout.pidfile), true);
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
});
