import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AvailableModule,
  moduleDepends,
  moduleName,
  parseModinfo,
  planModuleLoadOrder,
} from "../../../../src/image/guest/kernel-modules.js";

/** A minimal ELF64 little-endian object with a .modinfo section, as a kernel module has. */
function fakeModule(modinfo: string[]): Buffer {
  const info = Buffer.from(`${modinfo.join("\0")}\0`, "latin1");
  const names = Buffer.from("\0.modinfo\0.shstrtab\0", "latin1");
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  const infoOffset = 64;
  const namesOffset = infoOffset + info.length;
  const sectionTable = namesOffset + names.length;
  header.writeBigUInt64LE(BigInt(sectionTable), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(2, 0x3e);
  const section = (name: number, offset: number, size: number) => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(name, 0);
    s.writeBigUInt64LE(BigInt(offset), 0x18);
    s.writeBigUInt64LE(BigInt(size), 0x20);
    return s;
  };
  return Buffer.concat([
    header,
    info,
    names,
    section(0, 0, 0),
    section(1, infoOffset, info.length),
    section(10, namesOffset, names.length),
  ]);
}

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
