import assert from "node:assert/strict";
import { access, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LinuxBuilderError } from "../../../../src/errors.js";
import type { StoredImage } from "../../../../src/image/store.js";
import { PROBE_KERNEL_FILE } from "../../../../src/vm/lifecycle/early-accel.js";
import { type StartOptions, startVm } from "../../../../src/vm/lifecycle/start.js";
import {
  type FakeBehaviour,
  type FakeVm,
  fakeConfig,
  fakeImage,
  fakeRunningVm,
  fakeVm,
  noCas,
} from "./fake-vm.js";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** A start of a fake VM whose store answers once `storeReady` says so; `run` gets the VM and the options. */
async function withStart(
  behaviour: FakeBehaviour,
  run: (vm: FakeVm, options: StartOptions, warnings: string[]) => Promise<void>,
  overrides: Partial<StartOptions> = {},
): Promise<void> {
  const vm = await fakeVm(behaviour);
  const warnings: string[] = [];
  try {
    const image = await fakeImage(vm);
    const options: StartOptions = {
      config: fakeConfig(vm),
      layout: vm.layout,
      backend: vm.backend,
      deps: vm.deps,
      caDeps: noCas,
      image: async () => image,
      waitReady: true,
      readyTimeoutMs: 60_000,
      onWarning: (message) => warnings.push(message),
      onRetry: (message) => warnings.push(message),
      storeAnswers: async () => vm.running,
      ...overrides,
    };
    await run(vm, options, warnings);
  } finally {
    await rm(vm.dir, { recursive: true, force: true });
  }
}

describe("start, against a fake backend", () => {
  test("boots, waits for the guest's sshd and then the store, records the instance, releases the lock", async () => {
    await withStart({}, async (vm, options) => {
      const result = await startVm(options);
      assert.equal(result.kind, "booted");
      assert.ok(result.kind === "booted" && result.ready && result.phases !== undefined);
      assert.equal(result.instance.pid, 4_000_000);
      assert.equal(result.instance.accel, "tcg");
      assert.deepEqual(vm.calls, ["launch fake-vm amd64 socket"]);
      assert.equal(await exists(vm.layout.startLock), false);
      assert.equal(await exists(vm.layout.instance), true);
    });
  });

  test("with a forwardPort: the store is asked there, both ports pinned, instance.json says both", async () => {
    const asked: number[] = [];
    await withStart(
      {},
      async (vm, options) => {
        const port = options.config.port;
        const result = await startVm({ ...options, forwardPort: port + 1 });
        assert.ok(result.kind === "booted" && result.ready);
        assert.equal(result.instance.port, port);
        assert.equal(result.instance.forwardPort, port + 1);
        assert.ok(asked.length > 0 && asked.every((p) => p === port + 1));
        const pinned = (await readFile(vm.layout.knownHosts, "utf8")).trim().split("\n");
        assert.deepEqual(
          pinned.map((line) => line.split(" ")[0]),
          [`[127.0.0.1]:${port}`, `[127.0.0.1]:${port + 1}`],
        );
      },
      {
        storeAnswers: async (_layout, port) => {
          asked.push(port);
          return true;
        },
      },
    );
  });

  test("without a forwardPort: instance.json has none, one port pinned", async () => {
    await withStart({}, async (vm, options) => {
      const result = await startVm(options);
      assert.ok(result.kind === "booted");
      assert.equal(result.instance.forwardPort, undefined);
      assert.equal((await readFile(vm.layout.knownHosts, "utf8")).trim().split("\n").length, 1);
    });
  });

  test("a dead serve's VM (instance.json with a forwardPort): start waits for it on that forward", async () => {
    const asked: number[] = [];
    await withStart(
      {},
      async (vm, options) => {
        await fakeRunningVm(vm);
        const instance = JSON.parse(await readFile(vm.layout.instance, "utf8"));
        await writeFile(vm.layout.instance, JSON.stringify({ ...instance, forwardPort: 41_234 }));
        const result = await startVm(options);
        assert.ok(result.kind === "running" && result.ready);
        assert.deepEqual([...new Set(asked)], [41_234]);
      },
      {
        storeAnswers: async (_layout, port) => {
          asked.push(port);
          return true;
        },
      },
    );
  });

  test("a probe kernel left by a start that died is removed by the next, even one that boots nothing", async () => {
    await withStart({}, async (vm, options) => {
      await fakeRunningVm(vm);
      await writeFile(join(vm.layout.dir, PROBE_KERNEL_FILE), "megabytes of a kernel");
      const result = await startVm({ ...options, waitReady: false });
      assert.equal(result.kind, "running");
      assert.equal(await exists(join(vm.layout.dir, PROBE_KERNEL_FILE)), false);
    });
  });

  test("a running VM is found, not booted again", async () => {
    await withStart({}, async (vm, options) => {
      await fakeRunningVm(vm);
      const result = await startVm({ ...options, waitReady: false });
      assert.deepEqual(result, { kind: "running", pid: 4_000_000, ready: false, waitedSeconds: 0 });
      assert.equal(vm.launches, 0);
    });
  });

  test("the start lock held by a live process: --no-wait takes the running VM as it is", async () => {
    await withStart({}, async (vm, options) => {
      await fakeRunningVm(vm);
      await writeFile(vm.layout.startLock, String(process.ppid));
      let told: number | undefined;
      const result = await startVm({ ...options, waitReady: false, onWait: (owner) => (told = owner) });
      assert.equal(result.kind, "running");
      assert.equal(told, undefined, "no wait: the VM runs");
      assert.equal(await exists(vm.layout.startLock), true, "another's lock is left alone");
    });
  });

  test("a stale start lock (its owner dead) is removed, and the VM booted", async () => {
    await withStart({}, async (vm, options) => {
      await writeFile(vm.layout.startLock, "999999999");
      const result = await startVm(options);
      assert.equal(result.kind, "booted");
      assert.equal(await exists(vm.layout.startLock), false);
    });
  });

  test("the guest says FAILED: the start fails with its reason", async () => {
    await withStart(
      { boots: [{ console: "linux-builder: FAILED: no data disk (/dev/vda) for /nix\n" }] },
      async (_vm, options) => {
        await assert.rejects(startVm(options), {
          code: "vm.guest-failed",
          message: "The builder failed to boot: no data disk (/dev/vda) for /nix",
        });
      },
    );
  });

  test("an image without emulators (composed before them) boots: the guest registers none, told once", async () => {
    const emulation = async (image: Partial<StoredImage["manifest"]>) => {
      let said: string[] = [];
      let initrd = "";
      await withStart({}, async (vm, options, warnings) => {
        const stored = await (options.image as () => Promise<StoredImage>)();
        const result = await startVm({
          ...options,
          image: async () => ({ ...stored, manifest: { ...stored.manifest, ...image } }),
        });
        assert.equal(result.kind === "booted" && result.ready, true);
        said = warnings;
        initrd = (await readFile(vm.layout.bootInitrd)).toString("latin1");
      });
      return {
        said,
        registers: initrd.includes(":qemu-aarch64:M::"),
        extraPlatforms: /extra-platforms = .*/.exec(initrd)?.[0],
      };
    };
    assert.deepEqual(await emulation({}), {
      said: [],
      registers: true,
      extraPlatforms: "extra-platforms = aarch64-linux",
    });
    assert.deepEqual(await emulation({ emulators: undefined }), {
      said: [
        "the image trixie-amd64-fake carries no emulator for aarch64-linux: this boot does not build it. `linux-builder image build` composes an image that does (from a suite whose qemu-user is static, such as trixie), or start with the network so the image is composed again; emulatedSystems: [] stops asking for it.",
      ],
      registers: false,
      extraPlatforms: undefined,
    });
  });

  test("the kernel crashes while booting: told, and booted once more", async () => {
    const boots = [
      { console: "[ 1.7] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n", dies: true },
      { console: "linux-builder: SSHD at 1.0s\n" },
    ];
    await withStart({ boots }, async (vm, options, warnings) => {
      const result = await startVm(options);
      assert.equal(result.kind === "booted" && result.ready, true);
      assert.equal(vm.launches, 2);
      assert.deepEqual(warnings, [
        "The builder's kernel crashed while booting (Oops: int3: 0000 [#1] PREEMPT SMP NOPTI); starting it once more",
      ]);
    });
  });

  test("a crash on the second boot too: the error is the caller's", async () => {
    await withStart(
      { boots: [{ console: "Kernel panic - not syncing\n", dies: true }] },
      async (vm, options) => {
        await assert.rejects(startVm(options), { code: "vm.kernel-crashed" });
        assert.equal(vm.launches, 2);
      },
    );
  });

  test("the store never answers: not ready when the deadline passes, and the VM left running", async () => {
    await withStart(
      {},
      async (vm, options) => {
        const result = await startVm(options);
        assert.equal(result.kind === "booted" && result.ready, false);
        assert.equal(vm.running, true);
      },
      { storeAnswers: async () => false, readyTimeoutMs: 5_000 },
    );
  });

  test("the guest never says sshd listens: not ready at the deadline, and the store never asked", async () => {
    let asked = 0;
    await withStart(
      { boots: [{ console: "[ 0.0] Linux version 6.12\n" }] },
      async (_vm, options) => {
        const result = await startVm(options);
        assert.equal(result.kind === "booted" && result.ready, false);
        assert.equal(asked, 0);
      },
      {
        readyTimeoutMs: 2_000,
        storeAnswers: async () => {
          asked++;
          return true;
        },
      },
    );
  });

  test("cancelled before it boots: nothing launched", async () => {
    await withStart({}, async (vm, options) => {
      await assert.rejects(startVm({ ...options, signal: AbortSignal.abort() }), { code: "vm.cancelled" });
      assert.equal(vm.launches, 0);
      assert.equal(await exists(vm.layout.startLock), false);
    });
  });

  test("cancelled while it boots: the VM it booted is stopped, the lock released", async () => {
    await withStart({ boots: [{ console: "" }] }, async (vm, options) => {
      const cancel = new AbortController();
      vm.afterLaunch = () => cancel.abort();
      await assert.rejects(startVm({ ...options, signal: cancel.signal }), {
        code: "vm.cancelled",
        message: "Cancelled: the builder was stopped while it booted",
      });
      assert.equal(vm.running, false);
      assert.equal(await exists(vm.layout.startLock), false);
      assert.equal(await exists(vm.layout.pidfile), false);
    });
  });
});

describe("start: the accelerator is chosen beside the composition", () => {
  /** A backend whose probe reads the kernel offered, then waits for `finish` (or the start's cancel). */
  const probing = (vm: FakeVm, events: string[]) => {
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const backend: FakeVm["backend"] = {
      ...vm.backend,
      chooseAccel: async (request) => {
        events.push(`probe boots ${await readFile(await request.kernel(), "utf8")}`);
        await new Promise<void>((resolve, reject) => {
          finished.then(resolve);
          request.signal?.addEventListener("abort", () => {
            events.push("probe killed");
            reject(new LinuxBuilderError("vm.cancelled", "Cancelled: the KVM probe was stopped"));
          });
        });
        events.push("probe done");
        return { accel: "kvm" };
      },
    };
    return { backend, finish: () => finish() };
  };
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(check());
  };

  test("the probe boots the composer's kernel before the composition ends; the VM waits for both", async () => {
    await withStart({}, async (vm, options) => {
      const events: string[] = [];
      const image = await options.image(() => undefined);
      const probe = probing(vm, events);
      let composed: () => void = () => undefined;
      const composing = new Promise<void>((resolve) => {
        composed = resolve;
      });
      const start = startVm({
        ...options,
        backend: probe.backend,
        config: { ...options.config, accel: "auto" },
        image: async (offerProbeKernel) => {
          offerProbeKernel({ bytes: Buffer.from("the composer's kernel") });
          await composing;
          events.push("composed");
          return image;
        },
      });
      await until(() => events.length > 0);
      assert.deepEqual(events, ["probe boots the composer's kernel"], "probing while it composes");
      composed();
      await until(() => events.includes("composed"));
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(vm.launches, 0, "the image is there, the probe is not done: no launch yet");
      probe.finish();
      const result = await start;
      assert.deepEqual(events, ["probe boots the composer's kernel", "composed", "probe done"]);
      assert.ok(result.kind === "booted" && result.instance.accel === "kvm");
      assert.equal(vm.launches, 1);
      assert.equal(await exists(join(vm.dir, PROBE_KERNEL_FILE)), false, "the probe's kernel is removed");
    });
  });

  test("no kernel offered while it composes: the probe boots the image's, once it is there", async () => {
    await withStart({}, async (vm, options) => {
      const events: string[] = [];
      const probe = probing(vm, events);
      probe.finish();
      const result = await startVm({ ...options, backend: probe.backend });
      assert.deepEqual(events, ["probe boots fake kernel\n", "probe done"]);
      assert.ok(result.kind === "booted" && result.instance.accel === "kvm");
    });
  });

  test("the composition fails: the probe is killed, and the error is the composition's", async () => {
    await withStart({}, async (vm, options) => {
      const events: string[] = [];
      const probe = probing(vm, events);
      await assert.rejects(
        startVm({
          ...options,
          backend: probe.backend,
          image: async (offerProbeKernel) => {
            offerProbeKernel({ bytes: Buffer.from("k") });
            await until(() => events.length > 0);
            throw new Error("the mirror is gone");
          },
        }),
        { message: "the mirror is gone" },
      );
      assert.deepEqual(events, ["probe boots k", "probe killed"]);
      assert.equal(vm.launches, 0);
      assert.equal(await exists(join(vm.dir, PROBE_KERNEL_FILE)), false);
    });
  });

  test("cancelled while the probe runs: the probe is killed, nothing launched, the lock released", async () => {
    await withStart({}, async (vm, options) => {
      const events: string[] = [];
      const probe = probing(vm, events);
      const cancel = new AbortController();
      const start = startVm({ ...options, backend: probe.backend, signal: cancel.signal });
      await until(() => events.length > 0);
      cancel.abort();
      await assert.rejects(start, { code: "vm.cancelled" });
      assert.deepEqual(events, ["probe boots fake kernel\n", "probe killed"]);
      assert.equal(vm.launches, 0);
      assert.equal(await exists(vm.layout.startLock), false);
    });
  });
});
