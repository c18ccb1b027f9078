import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeRunEnd, exitStatus, formatDuration } from "../../../src/cli/run-end.js";

describe("how run says it ended", () => {
  const base = { code: 0, signal: null, seconds: 12.34, consoleTail: "" } as const;

  test("a clean power-off, a panic, a quit, a failure, a signal", () => {
    const log = "/state/console.log";
    assert.equal(
      describeRunEnd({ ...base, consoleTail: "linux-builder: stopping\nlinux-builder: powering off\n" }, log),
      "The builder powered off cleanly after 12.3 s.",
    );
    assert.match(
      describeRunEnd({ ...base, consoleTail: "Kernel panic - not syncing: Attempted to kill init!" }, log),
      /kernel panicked after 12\.3 s; \/state\/console\.log/,
    );
    assert.match(describeRunEnd(base, log), /QEMU quit without the guest powering off/);
    assert.match(describeRunEnd({ ...base, code: 1 }, log), /QEMU exited with status 1 after 12\.3 s/);
    assert.equal(
      describeRunEnd({ ...base, code: null, signal: "SIGKILL", seconds: 125 }, log),
      "QEMU was stopped by SIGKILL after 2 min 5 s.",
    );
  });

  test("the exit status is QEMU's, or 128 + the signal's number", () => {
    assert.equal(exitStatus({ code: 0, signal: null }), 0);
    assert.equal(exitStatus({ code: 3, signal: null }), 3);
    assert.equal(exitStatus({ code: null, signal: "SIGKILL" }), 137);
    assert.equal(exitStatus({ code: null, signal: "SIGTERM" }), 143);
  });

  test("durations", () => {
    assert.equal(formatDuration(9.54), "9.5 s");
    assert.equal(formatDuration(61), "1 min 1 s");
    assert.equal(formatDuration(119.6), "2 min 0 s");
    assert.equal(formatDuration(3 * 3600 + 120), "3 h 2 min");
  });
});
