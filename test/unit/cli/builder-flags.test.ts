import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BUILDER_FLAGS, type BuilderFlags, builderSettings } from "../../../src/cli/builder-flags.js";
import { LinuxBuilderError } from "../../../src/errors.js";

const none: BuilderFlags = Object.fromEntries(
  Object.keys(BUILDER_FLAGS).map((key) => [key, undefined]),
) as BuilderFlags;

describe("the builder flags as a layer of settings", () => {
  test("given ones become settings, numbers parsed; absent ones are left out", () => {
    assert.deepEqual(builderSettings(none), {});
    assert.deepEqual(
      builderSettings({
        ...none,
        arch: "arm64",
        cpus: "4",
        memory: "2048",
        disk: "60",
        port: "31023",
        maxJobs: "2",
      }),
      { arch: "arm64", cpus: 4, memoryMiB: 2048, diskGiB: 60, port: 31023, maxJobs: 2 },
    );
  });

  test("a bad value names the flag, or the flags as the layer", () => {
    assert.throws(
      () => builderSettings({ ...none, memory: "lots" }),
      (error: unknown) =>
        error instanceof LinuxBuilderError && /--memory must be a whole number/.test(error.message),
    );
    assert.throws(
      () => builderSettings({ ...none, memory: "100" }),
      (error: unknown) =>
        error instanceof LinuxBuilderError &&
        error.code === "config.invalid" &&
        /Invalid setting in the command-line flags: memoryMiB: at least 512/.test(error.message),
    );
  });
});
