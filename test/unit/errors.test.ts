import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ERROR_CODES,
  errorReport,
  errorReportSchema,
  isErrorCode,
  isLinuxBuilderError,
  LinuxBuilderError,
} from "../../src/errors.js";

describe("error codes", () => {
  test("are area.kind names, each with a one-line meaning", () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      assert.match(code, /^[a-z]+\.[A-Za-z-]+$/, code);
      assert.ok(meaning.length > 0 && !meaning.includes("\n"), code);
    }
    assert.ok(isErrorCode("vm.cancelled"));
    assert.ok(isErrorCode("fs.ENOSPC"));
    assert.ok(!isErrorCode("vm.nope"));
    assert.ok(!isErrorCode("toString"), "not an Object.prototype key");
  });

  test("a subclass keeps the code and hint, is a LinuxBuilderError, and is named after its class", () => {
    class ExampleError extends LinuxBuilderError {}
    const error = new ExampleError("vm.stopped", "The builder is not running", { hint: "Start it." });
    assert.ok(isLinuxBuilderError(error));
    assert.equal(error.name, "ExampleError");
    assert.equal(error.code, "vm.stopped");
    assert.equal(error.hint, "Start it.");
    assert.equal(new LinuxBuilderError("vm.gc", "x").name, "LinuxBuilderError");
  });

  test("the --json report has a null hint when there is none, and parses back", () => {
    const report = errorReport("image.none", "There is no arm64 image yet", undefined);
    assert.deepEqual(report, {
      error: { code: "image.none", message: "There is no arm64 image yet", hint: null },
    });
    assert.deepEqual(errorReportSchema.parse(report), report);
  });
});
