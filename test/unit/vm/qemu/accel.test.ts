import assert from "node:assert/strict";
import { constants } from "node:fs";
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LinuxBuilderError } from "../../../../src/errors.js";
import {
  type AccelCache,
  accelCacheKey,
  type ChooseAccelOptions,
  cachedVerdict,
  chooseAccel,
  HUNG_VERDICT_MS,
  probeKvm,
  transientFailure,
} from "../../../../src/vm/qemu/accel.js";

const request = {
  requested: "auto",
  qemu: "/nonexistent/qemu",
  kernel: async () => "/nonexistent/kernel",
  cacheFile: "/nonexistent/accel.json",
} as const;

const kvmUsable = await access("/dev/kvm", constants.R_OK | constants.W_OK).then(
  () => process.platform === "linux" && process.arch === "x64",
  () => false,
);

test("an explicit accelerator is used as it is, on any host", async () => {
  const host = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, requested: "tcg", arch: "arm64" }), {
    accel: "tcg",
  });
});

test("auto on a Mac whose CPU is the guest's: hvf, with no probe", async () => {
  const host = { kind: "darwin", os: "darwin", arch: "arm64", cpuName: "arm64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, arch: "arm64" }), { accel: "hvf" });
});

test("auto for another architecture than the host's: TCG, and the warning names the host's CPU", async () => {
  const host = { kind: "darwin", os: "darwin", arch: "arm64", cpuName: "arm64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, arch: "amd64" }), {
    accel: "tcg",
    warning: "the guest is amd64 on a arm64 host: emulating with TCG (slow)",
  });
});

test("auto on a host that is neither macOS nor Linux: TCG, with a warning", async () => {
  const host = { kind: "linux", os: "freebsd", arch: "amd64", cpuName: "x64" } as const;
  assert.deepEqual(await chooseAccel(host, { ...request, arch: "amd64" }), {
    accel: "tcg",
    warning: "no hardware accelerator on this platform: TCG (slow)",
  });
});

/**
 * The probe against stand-ins for QEMU: shell scripts that print a panic, fail, hang, or keep
 * printing. Deadlines are short here; what is checked is which verdict comes, and that it comes
 * by the deadline that applies, not by the other.
 */
describe("probeKvm", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-probe-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  /** A fake QEMU running `body`; it writes its pid to `<name>.pid` first. */
  const fakeQemu = async (name: string, body: string) => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\necho $$ > '${path}.pid'\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };
  const gone = async (qemu: string) => {
    const pid = Number(await readFile(`${qemu}.pid`, "utf8"));
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  };
  const long = { totalMs: 60_000, quietMs: 60_000 };

  test("the panic on the console: KVM works, at once, and the QEMU still running is killed", async () => {
    const qemu = await fakeQemu(
      "panics",
      "echo 'Linux version 6.12'; echo 'VFS: Unable to mount root fs on unknown-block(0,0)'; exec sleep 60",
    );
    const began = Date.now();
    assert.deepEqual(await probeKvm(qemu, "/k", long), { kind: "works" });
    assert.ok(Date.now() - began < 10_000);
    assert.ok(await gone(qemu), "the probe's QEMU is not left running");
  });

  test("QEMU exits with an error: a failure, with its first line, without waiting for a deadline", async () => {
    const qemu = await fakeQemu(
      "fails",
      "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0' >&2; echo 'second line' >&2; exit 1",
    );
    assert.deepEqual(await probeKvm(qemu, "/k", long), {
      kind: "failed",
      reason: "QEMU failed: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0",
    });
  });

  test("a QEMU that cannot be run is a failure", async () => {
    const verdict = await probeKvm(join(dir, "missing-qemu"), "/k", long);
    assert.equal(verdict.kind, "failed");
  });

  test("silence: a hang once nothing is printed for quietMs, long before the total deadline", async () => {
    const qemu = await fakeQemu("silent", "echo 'Linux version 6.12'; exec sleep 60");
    const began = Date.now();
    const verdict = await probeKvm(qemu, "/k", { totalMs: 60_000, quietMs: 300 });
    assert.deepEqual(verdict, { kind: "hung", reason: "the guest hung (no console output for 0.3 s)" });
    assert.ok(Date.now() - began < 30_000);
    assert.ok(await gone(qemu));
  });

  test("output that never reaches the panic: a hang at the total deadline, however chatty", async () => {
    const qemu = await fakeQemu("chatty", "while :; do echo 'still booting'; sleep 0.05; done");
    const verdict = await probeKvm(qemu, "/k", { totalMs: 600, quietMs: 60_000 });
    assert.deepEqual(verdict, { kind: "hung", reason: "the guest hung (no kernel panic within 0.6 s)" });
    assert.ok(await gone(qemu));
  });

  test("cancelled: the QEMU is killed and the probe ends with vm.cancelled", async () => {
    const qemu = await fakeQemu("cancelled", "exec sleep 60");
    const stop = new AbortController();
    const probe = probeKvm(qemu, "/k", { ...long, signal: stop.signal });
    for (let i = 0; i < 100 && !(await readFile(`${qemu}.pid`, "utf8").catch(() => "")); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    stop.abort();
    await assert.rejects(
      probe,
      (error: unknown) => error instanceof LinuxBuilderError && error.code === "vm.cancelled",
    );
    assert.ok(await gone(qemu));
  });
});

describe("the verdict remembered", () => {
  const verdict = (fields: Partial<AccelCache>): AccelCache => ({
    key: "k",
    kvm: false,
    reason: "QEMU failed",
    hung: false,
    probedAt: 1_000,
    ...fields,
  });

  test("a pass and a hard failure hold as long as the key does; another key is no verdict", () => {
    const later = 1_000 + 365 * 24 * 3600_000;
    assert.deepEqual(cachedVerdict(verdict({ kvm: true, reason: "" }), "k", later), { kind: "works" });
    assert.deepEqual(cachedVerdict(verdict({}), "k", later), { kind: "failed", reason: "QEMU failed" });
    assert.equal(cachedVerdict(verdict({}), "other", 1_000), undefined);
    assert.equal(cachedVerdict(undefined, "k", 1_000), undefined);
  });

  test("a hang holds for a day only: a starved machine is probed again", () => {
    const hung = verdict({ hung: true, reason: "the guest hung" });
    assert.deepEqual(cachedVerdict(hung, "k", 1_000 + HUNG_VERDICT_MS - 1), {
      kind: "hung",
      reason: "the guest hung",
    });
    assert.equal(cachedVerdict(hung, "k", 1_000 + HUNG_VERDICT_MS), undefined);
  });

  test("the key names QEMU's binary, its firmware and the host's kernel, not the guest's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-key-"));
    try {
      await mkdir(join(dir, "bin"));
      const qemu = join(dir, "bin", "qemu-system-x86_64");
      await writeFile(qemu, "#!/bin/sh\n");
      await chmod(qemu, 0o755);
      const key = await accelCacheKey(qemu, "6.1.0");
      assert.equal(key, await accelCacheKey(qemu, "6.1.0"));
      assert.notEqual(key, await accelCacheKey(qemu, "6.12.0"), "another host kernel");
      await writeFile(qemu, "#!/bin/sh\n# upgraded\n");
      assert.notEqual(key, await accelCacheKey(qemu, "6.1.0"), "QEMU replaced in place");
      const upgraded = await accelCacheKey(qemu, "6.1.0");
      await mkdir(join(dir, "share", "qemu"), { recursive: true });
      await writeFile(join(dir, "share", "qemu", "qboot.rom"), "");
      assert.notEqual(
        upgraded,
        await accelCacheKey(qemu, "6.1.0"),
        "qboot installed: the probe boots it now",
      );
      assert.match(await accelCacheKey(join(dir, "nowhere"), "6.1.0"), /missing/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("chooseAccel asks for a kernel only when it probes", () => {
  const linuxAmd64 = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;
  const noKernel = async (): Promise<string> => assert.fail("no probe was due: no kernel is needed");

  test("an explicit accelerator: no probe, no kernel", async () => {
    assert.deepEqual(
      await chooseAccel(linuxAmd64, { ...request, arch: "amd64", requested: "kvm", kernel: noKernel }),
      {
        accel: "kvm",
      },
    );
  });

  test("a remembered hang: TCG at once, and the warning says when it is probed again", {
    skip: kvmUsable ? false : "needs a usable /dev/kvm on an x86_64 Linux host",
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-accel-"));
    try {
      const cacheFile = join(dir, "accel.json");
      const qemu = "/nonexistent/qemu-system-x86_64";
      const record: AccelCache = {
        key: await accelCacheKey(qemu),
        kvm: false,
        reason: "the guest hung (no console output for 5 s)",
        hung: true,
        probedAt: 5_000,
      };
      await writeFile(cacheFile, JSON.stringify(record));
      const choice = await chooseAccel(linuxAmd64, {
        ...request,
        arch: "amd64",
        qemu,
        cacheFile,
        kernel: noKernel,
        now: () => 6_000,
      });
      assert.equal(choice.accel, "tcg");
      assert.match(choice.warning ?? "", /no console output for 5 s.*probed again after a day/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** chooseAccel against stand-ins: a KVM device any user can open, and shell scripts for QEMU. */
describe("chooseAccel probes, remembers, and says how to probe again", () => {
  const linuxAmd64 = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-choose-"));
    await writeFile(join(dir, "kvm"), "");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const kernel = "/images/some-image/kernel";
  /** Chooses with a QEMU running `body`, in a state folder of its own; what accel.json holds after. */
  const choose = async (name: string, body: string, extra: Partial<ChooseAccelOptions> = {}) => {
    const qemu = join(dir, name);
    await writeFile(qemu, `#!/bin/sh\n${body}\n`);
    await chmod(qemu, 0o755);
    const cacheFile = join(dir, `${name}.json`);
    const choice = await chooseAccel(linuxAmd64, {
      requested: "auto",
      arch: "amd64",
      qemu,
      kvmDevice: join(dir, "kvm"),
      kernel: async () => kernel,
      cacheFile,
      limits: { totalMs: 10_000, quietMs: 300 },
      ...extra,
    });
    const saved = await readFile(cacheFile, "utf8").then(
      (text) => JSON.parse(text) as AccelCache,
      () => undefined,
    );
    return { choice, cacheFile, saved };
  };

  test("QEMU failing on KVM: remembered, and the warning says which file to remove to probe again", async () => {
    const { choice, cacheFile, saved } = await choose(
      "msr",
      "echo 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x0' >&2; exit 1",
    );
    assert.equal(choice.accel, "tcg");
    assert.equal(saved?.kvm, false);
    assert.ok(
      choice.warning?.endsWith(
        `it is probed again when QEMU or the host's kernel changes, or when ${cacheFile} is removed`,
      ),
      choice.warning,
    );
  });

  test("KVM busy (VirtualBox holds VT-x): TCG this time, not remembered", async () => {
    const { choice, saved } = await choose(
      "busy",
      "echo 'Could not access KVM kernel module: Device or resource busy' >&2; echo 'qemu-system-x86_64: failed to initialize kvm: Device or resource busy' >&2; exit 1",
    );
    assert.equal(choice.accel, "tcg");
    assert.equal(saved, undefined, "nothing remembered");
    assert.match(choice.warning ?? "", /resource busy.*it is probed again at the next start$/);
  });

  test("the probe's kernel gone (pruned while it booted): not remembered", async () => {
    const { choice, saved } = await choose(
      "pruned",
      `echo "qemu-system-x86_64: could not load kernel '${kernel}': No such file or directory" >&2; exit 1`,
    );
    assert.equal(choice.accel, "tcg");
    assert.equal(saved, undefined);
    assert.match(choice.warning ?? "", /probed again at the next start$/);
  });

  test("a hang: remembered for a day, and the warning names the file", async () => {
    const { choice, cacheFile, saved } = await choose("hangs", "exec sleep 60");
    assert.equal(saved?.hung, true);
    assert.ok(choice.warning?.endsWith(`it is probed again after a day, or when ${cacheFile} is removed`));
  });
});

/**
 * Beside the composition: a QEMU that hangs on its first boot and, with `thenWorks`, panics (KVM
 * works) on the next; it logs each kernel it boots. The composition is over (`running` false) once
 * `done` is asked.
 */
describe("a hang beside the composition is probed once more after it", () => {
  const linuxAmd64 = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-beside-"));
    await writeFile(join(dir, "kvm"), "");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const run = async (name: string, options: { thenWorks: boolean; composing: boolean }) => {
    const qemu = join(dir, name);
    await writeFile(
      qemu,
      `#!/bin/sh
n=$(cat "$0.count" 2>/dev/null || echo 0); echo $((n + 1)) > "$0.count"
while [ "$1" != -kernel ]; do shift; done; echo "$2" >> "$0.kernels"
if [ "$n" = 0 ] || [ ${options.thenWorks ? 0 : 1} = 1 ]; then exec sleep 60; fi
echo 'Kernel panic - not syncing: VFS: Unable to mount root fs'
`,
    );
    await chmod(qemu, 0o755);
    const cacheFile = join(dir, `${name}.json`);
    let composing = options.composing;
    const choice = await chooseAccel(linuxAmd64, {
      requested: "auto",
      arch: "amd64",
      qemu,
      kvmDevice: join(dir, "kvm"),
      kernel: async () => "/state/probe-kernel",
      cacheFile,
      limits: { totalMs: 10_000, quietMs: 300 },
      composition: {
        running: () => composing,
        done: async () => {
          composing = false;
          return "/images/new/kernel";
        },
      },
    });
    const kernels = (await readFile(`${qemu}.kernels`, "utf8")).trim().split("\n");
    const saved = JSON.parse(await readFile(cacheFile, "utf8")) as AccelCache;
    return { choice, kernels, saved };
  };

  test("it hung while composing, then works: KVM, and only the second verdict is remembered", async () => {
    const { choice, kernels, saved } = await run("then-works", { thenWorks: true, composing: true });
    assert.deepEqual(choice, { accel: "kvm" });
    assert.deepEqual(kernels, ["/state/probe-kernel", "/images/new/kernel"], "the image's kernel, after it");
    assert.equal(saved.kvm, true);
    assert.equal(saved.hung, false);
  });

  test("it hangs again once the machine is quiet: that hang is remembered (for a day)", async () => {
    const { choice, kernels, saved } = await run("hangs-twice", { thenWorks: false, composing: true });
    assert.equal(choice.accel, "tcg");
    assert.equal(kernels.length, 2);
    assert.equal(saved.hung, true);
  });

  test("no composition beside it: one probe, its hang remembered", async () => {
    const { choice, kernels, saved } = await run("quiet", { thenWorks: true, composing: false });
    assert.equal(choice.accel, "tcg");
    assert.deepEqual(kernels, ["/state/probe-kernel"]);
    assert.equal(saved.hung, true);
  });
});

test("transient failures: busy, or QEMU naming the kernel; a KVM error is not", () => {
  assert.equal(
    transientFailure("ioctl(KVM_CREATE_VM) failed: 16 Device or resource busy", "/k/kernel"),
    true,
  );
  assert.equal(transientFailure("failed to initialize kvm: EBUSY", "/k/kernel"), true);
  assert.equal(transientFailure("could not load kernel '/k/kernel': No such file", "/k/kernel"), true);
  assert.equal(transientFailure("error: failed to set MSR 0x10a to 0x0", "/k/kernel"), false);
});
