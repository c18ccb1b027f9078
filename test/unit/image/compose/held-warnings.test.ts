import assert from "node:assert/strict";
import { test } from "node:test";
import { holdWarningsDuringDownloads } from "../../../../src/image/compose/held-warnings.js";
import type { ComposeReporter } from "../../../../src/image/compose/reporter.js";

/** A reporter that writes down its calls, in order. */
function recordingReporter(withWarn: boolean): { reporter: ComposeReporter; calls: string[] } {
  const calls: string[] = [];
  const reporter: ComposeReporter = {
    step: (message) => calls.push(`step ${message}`),
    downloadStart: (totalBytes, files) => calls.push(`start ${totalBytes} ${files}`),
    downloadProgress: (bytes) => calls.push(`progress ${bytes}`),
    downloadEnd: () => calls.push("end"),
    ...(withWarn ? { warn: (message: string) => calls.push(`warn ${message}`) } : {}),
  };
  return { reporter, calls };
}

test("warnings given while the downloads run come after the bar ends; others at once", () => {
  const { reporter, calls } = recordingReporter(true);
  const held = holdWarningsDuringDownloads(reporter);
  held.warn("before");
  held.downloadStart(100, 2);
  held.downloadProgress(40);
  held.warn("no static emulator");
  held.step("a step");
  held.downloadProgress(60);
  held.warn("second");
  held.downloadEnd();
  held.warn("after");
  assert.deepEqual(calls, [
    "warn before",
    "start 100 2",
    "progress 40",
    "step a step",
    "progress 60",
    "end",
    "warn no static emulator",
    "warn second",
    "warn after",
  ]);
});

test("a reporter without warn gets the warnings as steps, also those held", () => {
  const { reporter, calls } = recordingReporter(false);
  const held = holdWarningsDuringDownloads(reporter);
  held.downloadStart(1, 1);
  held.warn("held");
  held.downloadEnd();
  assert.deepEqual(calls, ["start 1 1", "end", "step warning: held"]);
});
