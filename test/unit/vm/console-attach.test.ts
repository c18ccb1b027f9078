import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LinuxBuilderError } from "../../../src/errors.js";
import { escapeKeyName, parseEscapeKey, splitAtEscape } from "../../../src/vm/console-attach.js";

describe("the console's escape key", () => {
  test("is written as ^X, ctrl-x or Ctrl+X, any case", () => {
    assert.equal(parseEscapeKey("^]"), 0x1d);
    assert.equal(parseEscapeKey("ctrl-]"), 0x1d);
    assert.equal(parseEscapeKey("Ctrl+A"), 0x01);
    assert.equal(parseEscapeKey("^a"), 0x01);
    assert.equal(parseEscapeKey(" ^_ "), 0x1f);
    assert.equal(parseEscapeKey("^@"), 0x00);
  });

  test("anything but a control key is a usage error that names the flag", () => {
    for (const bad of ["x", "]", "^", "^1", "ctrl-", "^]]", "alt-x", ""]) {
      assert.throws(
        () => parseEscapeKey(bad),
        (error: unknown) =>
          error instanceof LinuxBuilderError && /--escape must be a control key/.test(error.message),
        bad,
      );
    }
  });

  test("is shown as Ctrl-X", () => {
    assert.equal(escapeKeyName(0x1d), "Ctrl-]");
    assert.equal(escapeKeyName(0x01), "Ctrl-A");
  });

  test("input before it goes to the guest; it and what follows do not", () => {
    const escapeByte = 0x1d;
    assert.deepEqual(splitAtEscape(Buffer.from("ls\r"), escapeByte), {
      forward: Buffer.from("ls\r"),
      detach: false,
    });
    assert.deepEqual(splitAtEscape(Buffer.from("ab\x1dcd"), escapeByte), {
      forward: Buffer.from("ab"),
      detach: true,
    });
    assert.deepEqual(splitAtEscape(Buffer.from("\x1d"), escapeByte), {
      forward: Buffer.alloc(0),
      detach: true,
    });
    // Ctrl-c is the guest's, not a way out.
    assert.equal(splitAtEscape(Buffer.from("\x03"), escapeByte).detach, false);
  });
});
