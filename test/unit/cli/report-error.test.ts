import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { userError, userErrorExitStatus } from "../../../src/cli/report-error.js";
import { LinuxBuilderError } from "../../../src/errors.js";

function errnoError(code: string, syscall: string, path: string): Error {
  return Object.assign(new Error(`${code}: ${syscall} ${path}`), { code, syscall, path });
}

describe("errors the user can act on", () => {
  test("a LinuxBuilderError as it is", () => {
    const error = new LinuxBuilderError("vm.stopped", "The builder is not running", { hint: "Start it." });
    assert.deepEqual(userError(error), {
      code: "vm.stopped",
      message: "The builder is not running",
      hint: "Start it.",
    });
  });

  test("a file system failure names the path, with an fs.<ERRNO> code", () => {
    assert.deepEqual(userError(errnoError("ENOSPC", "write", "/home/u/.cache/x")), {
      code: "fs.ENOSPC",
      message: "Cannot write /home/u/.cache/x: the disk is full (ENOSPC)",
      hint: "Free some space (linux-builder cache prune, image prune) and try again.",
    });
  });

  test("anything else is a bug: an unknown errno, no path, not an Error", () => {
    assert.equal(userError(errnoError("EBADF", "read", "/x")), undefined);
    assert.equal(userError(Object.assign(new Error("x"), { code: "ENOENT", syscall: "spawn" })), undefined);
    assert.equal(userError(new TypeError("x is undefined")), undefined);
    assert.equal(userError("a string"), undefined);
  });

  test("exit with 1, or 130 for a start cancelled with Ctrl-C", () => {
    assert.equal(userErrorExitStatus({ code: "vm.stopped", message: "", hint: undefined }), 1);
    assert.equal(userErrorExitStatus({ code: "vm.cancelled", message: "", hint: undefined }), 130);
  });
});
