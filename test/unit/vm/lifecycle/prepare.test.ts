import assert from "node:assert/strict";
import { test } from "node:test";
import { bootEmulation } from "../../../../src/vm/lifecycle/prepare.js";

const image = (emulators?: ("x86_64-linux" | "aarch64-linux")[]) => ({
  id: "trixie-arm64-x",
  ...(emulators === undefined ? {} : { emulators }),
});

test("a boot emulates what the config asks for and the image carries", () => {
  assert.deepEqual(bootEmulation({ arch: "arm64" }, image(["x86_64-linux"])), {
    emulatedSystems: ["x86_64-linux"],
  });
  // Asking for none: nothing registered, nothing to say, whatever the image carries.
  assert.deepEqual(bootEmulation({ arch: "arm64", emulatedSystems: [] }, image()), { emulatedSystems: [] });
});

test("asked for a system the image has no interpreter of: none registered, and the warning names it", () => {
  const { emulatedSystems, warning } = bootEmulation({ arch: "arm64" }, image([]));
  assert.deepEqual(emulatedSystems, []);
  assert.match(
    warning ?? "",
    /^the image trixie-arm64-x carries no emulator for x86_64-linux: .*linux-builder image build/,
  );
});
