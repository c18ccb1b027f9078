import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import type { TarEntry } from "../../../../src/image/archive/tar.js";
import { guestModules, type KernelPackage } from "../../../../src/image/compose/guest-kernel.js";
import { fakeModule } from "../guest/fake-kernel-module.js";

const VERSION = "6.12.48+deb13-cloud-amd64";

function kernel(modules: Record<string, string[]>, builtin: string[] = []): KernelPackage {
  const moduleFiles = new Map<string, TarEntry>();
  for (const [path, depends] of Object.entries(modules)) {
    const name = /([^/]+)\.ko/.exec(path)?.[1]?.replaceAll("-", "_") ?? path;
    const ko = fakeModule([`name=${name}`, `depends=${depends.join(",")}`]);
    const body = path.endsWith(".gz") ? gzipSync(ko) : ko;
    moduleFiles.set(name, { path, type: "file", mode: 0o644, uid: 0, gid: 0, size: body.length, body });
  }
  return { version: VERSION, builtin: new Set(builtin), moduleFiles };
}

test("the wanted modules and their dependencies, decompressed, dependencies first; built-ins are left out", async () => {
  const modules = await guestModules(
    kernel(
      {
        "kernel/drivers/net/virtio_net.ko.gz": ["net_failover", "virtio"],
        "kernel/drivers/net/net_failover.ko.gz": ["failover"],
        "kernel/net/core/failover.ko": [],
        "kernel/drivers/block/virtio_blk.ko": [],
        "kernel/drivers/unwanted.ko": [],
      },
      ["virtio"],
    ),
    ["virtio_net", "virtio_blk"],
    new Set(),
    "linux-image-x",
  );
  assert.deepEqual(
    modules.files.map((file) => file.path),
    [
      "kernel/net/core/failover.ko",
      "kernel/drivers/net/net_failover.ko",
      "kernel/drivers/net/virtio_net.ko",
      "kernel/drivers/block/virtio_blk.ko",
    ],
  );
  assert.deepEqual(modules.names, ["failover", "net_failover", "virtio_net", "virtio_blk"]);
  assert.equal(modules.files[1]?.data.readUInt32BE(0), 0x7f454c46, "stored decompressed");
  assert.equal(modules.lateList.length, 0);
  assert.equal(
    modules.earlyList.toString(),
    modules.files.map((file) => `${VERSION}/${file.path}\n`).join(""),
  );
});

test("late modules load after the boot-critical ones, unless a boot-critical one depends on them", async () => {
  const modules = await guestModules(
    kernel({
      "kernel/a.ko": ["shared"],
      "kernel/shared.ko": [],
      "kernel/late.ko": ["shared", "late_only"],
      "kernel/late-only.ko": [],
    }),
    ["a", "late"],
    new Set(["late"]),
    "linux-image-x",
  );
  assert.equal(modules.earlyList.toString(), `${VERSION}/kernel/shared.ko\n${VERSION}/kernel/a.ko\n`);
  assert.equal(modules.lateList.toString(), `${VERSION}/kernel/late-only.ko\n${VERSION}/kernel/late.ko\n`);
});

test("a wanted module the kernel neither builds in nor ships is refused with the chain that wants it", async () => {
  await assert.rejects(guestModules(kernel({ "kernel/a.ko": ["b"] }), ["a"], new Set(), "linux-image-x"), {
    code: "kernel.module-missing",
    message: /a → b is neither built into linux-image-x/,
  });
});
