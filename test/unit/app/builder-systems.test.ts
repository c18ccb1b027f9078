import assert from "node:assert/strict";
import { test } from "node:test";
import { builderSystems, describeSystems, servedSystems } from "../../../src/app/builder-systems.js";

test("by default a builder serves its native system, then the other one emulated", () => {
  assert.deepEqual(builderSystems({ arch: "amd64" }), ["x86_64-linux", "aarch64-linux"]);
  assert.deepEqual(builderSystems({ arch: "arm64" }), ["aarch64-linux", "x86_64-linux"]);
});

test("emulatedSystems [] (or only the native one): one system, as before emulation", () => {
  assert.deepEqual(builderSystems({ arch: "amd64", emulatedSystems: [] }), ["x86_64-linux"]);
  assert.deepEqual(builderSystems({ arch: "arm64", emulatedSystems: ["aarch64-linux"] }), ["aarch64-linux"]);
});

test("status says which systems are emulated, and that they are slower", () => {
  assert.equal(
    describeSystems(servedSystems({ arch: "amd64" })),
    "x86_64-linux (native), aarch64-linux (emulated through qemu-user: several times slower)",
  );
  assert.equal(
    describeSystems(servedSystems({ arch: "arm64", emulatedSystems: [] })),
    "aarch64-linux (native)",
  );
});
