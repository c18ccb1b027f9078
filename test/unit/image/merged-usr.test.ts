import assert from "node:assert/strict";
import { test } from "node:test";
import { mergedUsrPath } from "../../../src/image/merged-usr.js";

test("merged-/usr: top-level bin, sbin and lib* move under usr/", () => {
  assert.equal(mergedUsrPath("bin/sh"), "usr/bin/sh");
  assert.equal(mergedUsrPath("lib64/ld-linux-x86-64.so.2"), "usr/lib64/ld-linux-x86-64.so.2");
  assert.equal(mergedUsrPath("sbin"), "usr/sbin");
  assert.equal(mergedUsrPath("binaries/x"), "binaries/x");
  assert.equal(mergedUsrPath("etc/bin/x"), "etc/bin/x");
});
