import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compareVersions, parseVersion } from "../../src/dotted-version.js";

describe("versions", () => {
  test("the first dotted number, compared part by part, a missing part as 0", () => {
    assert.deepEqual(
      parseVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"),
      [7, 2, 22],
    );
    assert.deepEqual(parseVersion("nix (Nix) 2.8.0"), [2, 8, 0]);
    assert.equal(parseVersion("no digits"), undefined);
    assert.equal(compareVersions([12, 4], [12, 4, 0]), 0);
    assert.equal(compareVersions([12, 3, 1], [12, 4]), -1);
    assert.equal(compareVersions([26, 0], [12, 4]), 1);
    assert.equal(compareVersions([12, 10], [12, 4]), 1);
  });
});
