/**
 * The state folder's two JSON files, each read through its one zod schema: instance.json (what
 * `start` recorded) and accel.json (the KVM probe's verdict). Good content parses; corrupt or foreign
 * content never throws: an instance is then unknown, an accelerator verdict probed again.
 */
import assert from "node:assert/strict";
import { constants } from "node:fs";
import { access, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type InstanceInfo, parseInstance, readInstance, writeInstance } from "../../../src/vm/instance.js";
import { accelCacheKey, chooseAccel, parseAccelCache } from "../../../src/vm/qemu/accel.js";
import { stateLayout } from "../../../src/vm/state.js";

const good: InstanceInfo = {
  pid: 4242,
  port: 31022,
  accel: "tcg",
  arch: "amd64",
  imageId: "trixie-amd64-0123456789abcdef",
  startedAt: "2026-11-29T14:00:00.000Z",
  cpus: 2,
  memoryMiB: 1024,
  attached: false,
  consoleOffset: 1234,
};

/** The host the probe runs on (the test needs a real one: the probe boots the stand-in QEMU). */
const linuxAmd64 = { kind: "linux", os: "linux", arch: "amd64", cpuName: "x64" } as const;

const kvmUsable = await access("/dev/kvm", constants.R_OK | constants.W_OK).then(
  () => process.platform === "linux" && process.arch === "x64",
  () => false,
);

describe("instance.json", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-formats-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("what start writes reads back the same", async () => {
    const layout = stateLayout(join(dir, "written"));
    await mkdir(layout.dir);
    await writeInstance(layout, good);
    assert.deepEqual(await readInstance(layout), good);
    assert.deepEqual(parseInstance(await readFile(layout.instance, "utf8")), good);
  });

  test("an older record without the optional fields parses; a newer one's extra keys are dropped", () => {
    const { attached: _a, consoleOffset: _c, ...old } = good;
    assert.deepEqual(parseInstance(JSON.stringify(old)), old);
    assert.deepEqual(parseInstance(JSON.stringify({ ...good, somethingNew: [1, 2] })), good);
  });

  test("corrupt content is unknown, not a crash", () => {
    const text = JSON.stringify(good);
    for (const corrupt of ["", "{", text.slice(0, text.length / 2), "\u0000\u0000\u0000", "{}garbage"]) {
      assert.equal(parseInstance(corrupt), undefined, JSON.stringify(corrupt));
    }
  });

  test("foreign JSON, or a field of the wrong kind, is unknown", () => {
    const foreign: unknown[] = [
      null,
      42,
      "instance",
      [good],
      {},
      { name: "linux-builder", version: "0.1.0" },
      { ...good, pid: "4242" },
      { ...good, pid: -1 },
      { ...good, pid: 1.5 },
      { ...good, port: 70_000 },
      { ...good, accel: "xen" },
      { ...good, arch: "sparc" },
      { ...good, startedAt: "yesterday" },
      { ...good, consoleOffset: -5 },
      { ...good, attached: "yes" },
    ];
    for (const value of foreign)
      assert.equal(parseInstance(JSON.stringify(value)), undefined, JSON.stringify(value));
  });

  test("no file, or something that is not a file, is unknown", async () => {
    const layout = stateLayout(join(dir, "odd"));
    await mkdir(layout.dir);
    assert.equal(await readInstance(layout), undefined);
    await mkdir(layout.instance);
    assert.equal(await readInstance(layout), undefined);
  });
});

describe("accel.json", () => {
  const verdict = {
    key: "qemu-system-x86_64 (/usr/bin/qemu-system-x86_64 123 456) on Linux 6.1.0",
    kvm: false,
    reason: "the guest hung",
    hung: true,
    probedAt: 1_700_000_000_000,
  };

  test("a verdict parses; one from before hangs were told apart (no reason, hung or time) is a firm one", () => {
    assert.deepEqual(parseAccelCache(`${JSON.stringify(verdict)}\n`), verdict);
    assert.deepEqual(parseAccelCache(JSON.stringify({ key: "k", kvm: true })), {
      key: "k",
      kvm: true,
      reason: "",
      hung: false,
      probedAt: 0,
    });
    assert.deepEqual(parseAccelCache(JSON.stringify({ ...verdict, extra: 1 })), verdict);
  });

  test("corrupt or foreign content is no verdict (the probe runs again)", () => {
    for (const text of [
      "",
      "{",
      JSON.stringify(verdict).slice(0, 20),
      "null",
      "[]",
      '"kvm"',
      JSON.stringify({ key: "k", kvm: "yes" }),
      JSON.stringify({ kvm: true }),
      JSON.stringify({ key: 1, kvm: true }),
      JSON.stringify({ ...verdict, reason: 5 }),
      JSON.stringify({ ...verdict, hung: "no" }),
      JSON.stringify({ ...verdict, probedAt: "yesterday" }),
    ]) {
      assert.equal(parseAccelCache(text), undefined, text);
    }
  });

  test("chooseAccel probes again over a corrupt verdict, and keeps a good one", {
    skip: kvmUsable ? false : "needs a usable /dev/kvm on an x86_64 Linux host",
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-accel-"));
    try {
      // A stand-in for QEMU: a probe boot that "panics" at once (KVM works), and says it ran.
      const qemu = join(dir, "fake-qemu");
      const ran = join(dir, "probed");
      await writeFile(qemu, `#!/bin/sh\necho probed >> '${ran}'\necho 'Kernel panic - not syncing: VFS'\n`);
      await chmod(qemu, 0o755);
      const cacheFile = join(dir, "accel.json");
      const choose = () =>
        chooseAccel(linuxAmd64, {
          requested: "auto",
          arch: "amd64",
          qemu,
          kernel: async () => "/nonexistent",
          cacheFile,
        });
      const probes = async () =>
        (await readFile(ran, "utf8").catch(() => "")).split("\n").filter(Boolean).length;

      await writeFile(cacheFile, "{ this is not json");
      assert.deepEqual(await choose(), { accel: "kvm" });
      assert.equal(await probes(), 1, "a corrupt verdict: probed again");
      const { probedAt, ...remembered } = parseAccelCache(await readFile(cacheFile, "utf8")) ?? {};
      assert.deepEqual(remembered, { key: await accelCacheKey(qemu), kvm: true, reason: "", hung: false });
      assert.ok(typeof probedAt === "number" && probedAt > 0);

      assert.deepEqual(await choose(), { accel: "kvm" });
      assert.equal(await probes(), 1, "a good verdict for the same QEMU and host kernel: no probe");

      await writeFile(cacheFile, JSON.stringify({ key: await accelCacheKey(qemu), kvm: "maybe" }));
      assert.deepEqual(await choose(), { accel: "kvm" });
      assert.equal(await probes(), 2, "a foreign verdict: probed again");
      assert.equal((await stat(cacheFile)).mode & 0o777, 0o644);

      // Something that is not a file where the verdict goes: probed, used, not remembered.
      const elsewhere = join(dir, "accel-dir.json");
      await mkdir(elsewhere);
      const choice = await chooseAccel(linuxAmd64, {
        requested: "auto",
        arch: "amd64",
        qemu,
        kernel: async () => "/nonexistent",
        cacheFile: elsewhere,
      });
      assert.deepEqual(choice, { accel: "kvm" });
      assert.equal(await probes(), 3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
