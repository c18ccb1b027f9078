import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compareVersions, parseVersion, satisfies } from "../../../../src/image/debian/version.js";

// [a, b, expected sign of compareVersions(a, b)]
const TABLE: [string, string, -1 | 0 | 1][] = [
  ["1.0", "1.0", 0],
  ["1.0~rc1", "1.0", -1],
  ["1.0~rc1", "1.0~rc2", -1],
  ["1.0~~", "1.0~", -1],
  ["1.0~", "1.0", -1],
  ["1.0", "1.0+b1", -1],
  ["1.0-1", "1.0-1+b1", -1],
  ["1.0-1", "1.0-2", -1],
  ["1.0-9", "1.0-10", -1],
  ["2:1.0", "1:9", 1],
  ["1:1.0", "1.0", 1],
  ["0:1.0", "1.0", 0],
  ["1.0a", "1.0+", -1], // letters sort before non-letters
  ["1.0a", "1.0", 1],
  ["1.0", "1.0.1", -1],
  ["1.10", "1.9", 1],
  ["1.010", "1.10", 0],
  ["3.5.4-1~deb13u1", "3.5.4-1", -1],
  ["2.41-12+deb13u1", "2.41-12", 1],
  ["1.2-3-4", "1.2-3-3", 1], // the revision starts after the last hyphen
  ["a", "B", 1],
];

describe("compareVersions", () => {
  for (const [a, b, expected] of TABLE) {
    test(`${a} ${expected < 0 ? "<" : expected > 0 ? ">" : "="} ${b}`, () => {
      assert.equal(Math.sign(compareVersions(a, b)), expected);
      assert.equal(Math.sign(compareVersions(b, a)), -expected || 0);
    });
  }

  test("splits epoch, upstream and revision", () => {
    assert.deepEqual(parseVersion("1:2.3-4-5"), { epoch: 1, upstream: "2.3-4", revision: "5" });
    assert.deepEqual(parseVersion("2.3"), { epoch: 0, upstream: "2.3", revision: "" });
  });

  test("rejects a non-numeric epoch", () => {
    assert.throws(() => compareVersions("x:1.0", "1.0"), { code: "debian.version-invalid" });
  });
});

describe("satisfies", () => {
  test("evaluates each operator", () => {
    assert.equal(satisfies("1.0", "<<", "1.1"), true);
    assert.equal(satisfies("1.1", "<<", "1.1"), false);
    assert.equal(satisfies("1.1", "<=", "1.1"), true);
    assert.equal(satisfies("1.2", "<=", "1.1"), false);
    assert.equal(satisfies("1.1", "=", "1.1"), true);
    assert.equal(satisfies("1.1-1", "=", "1.1"), false);
    assert.equal(satisfies("3.5.1-1", ">=", "3.2"), true);
    assert.equal(satisfies("3.1", ">=", "3.2"), false);
    assert.equal(satisfies("1.1", ">>", "1.1"), false);
    assert.equal(satisfies("1.1+b1", ">>", "1.1"), true);
  });
});
