import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AvailableModule,
  moduleDepends,
  moduleName,
  parseModinfo,
  planModuleLoadOrder,
} from "../../../../src/image/guest/kernel-modules.js";
import { fakeModule } from "./fake-kernel-module.js";

test("module names treat - and _ alike and drop the suffix", () => {
  assert.equal(moduleName("kernel/drivers/char/hw_random/virtio-rng.ko.xz"), "virtio_rng");
  assert.equal(moduleName("crc32c-intel"), "crc32c_intel");
});

test("depends= is read from the .modinfo section", () => {
  const ko = fakeModule(["license=GPL", "depends=failover,virtio-ring", "name=net_failover", "alias=x"]);
  const info = parseModinfo(ko, "net_failover.ko");
  assert.deepEqual(info.get("name"), ["net_failover"]);
  assert.deepEqual(moduleDepends(info), ["failover", "virtio_ring"]);
  assert.deepEqual(moduleDepends(parseModinfo(fakeModule(["depends="]), "x.ko")), []);
});

test("a file that is not an ELF module is refused with its name", () => {
  assert.throws(() => parseModinfo(Buffer.alloc(100), "broken.ko"), /broken\.ko: not an ELF file/);
});

test("load order puts dependencies first, skips built-ins, and is reproducible", () => {
  const available = new Map<string, AvailableModule>([
    ["virtio_net", { path: "kernel/drivers/net/virtio_net.ko", depends: ["net_failover"] }],
    ["net_failover", { path: "kernel/drivers/net/net_failover.ko", depends: ["failover"] }],
    ["failover", { path: "kernel/net/core/failover.ko", depends: [] }],
    ["virtio_blk", { path: "kernel/drivers/block/virtio_blk.ko", depends: ["virtio"] }],
  ]);
  const order = planModuleLoadOrder(
    ["virtio_net", "virtio_blk", "ext4"],
    available,
    new Set(["virtio", "ext4"]),
    "k",
  );
  assert.deepEqual(
    order.map((m) => m.path),
    [
      "kernel/net/core/failover.ko",
      "kernel/drivers/net/net_failover.ko",
      "kernel/drivers/net/virtio_net.ko",
      "kernel/drivers/block/virtio_blk.ko",
    ],
  );
});

test("a module neither built in nor shipped is an error naming who wanted it", () => {
  const available = new Map<string, AvailableModule>([["a", { path: "a.ko", depends: ["b"] }]]);
  assert.throws(
    () => planModuleLoadOrder(["a"], available, new Set(), "linux-image-x"),
    /a → b is neither built into linux-image-x/,
  );
});
