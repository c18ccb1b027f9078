import assert from "node:assert/strict";
import { test } from "node:test";
import { rootOwnedMode } from "../../../src/image/root-owned-mode.js";

test("setuid and setgid survive only where root already owned the file", () => {
  assert.equal(rootOwnedMode({ mode: 0o4755, uid: 0, gid: 0 }), 0o4755);
  assert.equal(rootOwnedMode({ mode: 0o2755, uid: 0, gid: 42 }), 0o0755, "unix_chkpwd is root:shadow 2755");
  assert.equal(rootOwnedMode({ mode: 0o6755, uid: 1, gid: 0 }), 0o2755);
  assert.equal(
    rootOwnedMode({ mode: 0o1777, uid: 1, gid: 1 }),
    0o1777,
    "the sticky bit is no one's privilege",
  );
});
