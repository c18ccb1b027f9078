import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatGroup, parseRelations } from "../../../../src/image/debian/relations.js";

describe("parseRelations", () => {
  test("parses AND groups of OR alternatives with versions", () => {
    assert.deepEqual(
      parseRelations("libc6 (>= 2.36), libssl3t64 (>= 3.2.0) | libssl3, debconf (>= 0.5) | debconf-2.0"),
      [
        [{ name: "libc6", op: ">=", version: "2.36" }],
        [{ name: "libssl3t64", op: ">=", version: "3.2.0" }, { name: "libssl3" }],
        [{ name: "debconf", op: ">=", version: "0.5" }, { name: "debconf-2.0" }],
      ],
    );
  });

  test("handles :any, every operator, odd spacing and multi-line values", () => {
    assert.deepEqual(
      parseRelations("python3:any,\n perl:any(>=5.36)  ,a(<<1:2~b),b (<= 1),c (= 1-1),d (>> 0)"),
      [
        [{ name: "python3", archQualifier: "any" }],
        [{ name: "perl", archQualifier: "any", op: ">=", version: "5.36" }],
        [{ name: "a", op: "<<", version: "1:2~b" }],
        [{ name: "b", op: "<=", version: "1" }],
        [{ name: "c", op: "=", version: "1-1" }],
        [{ name: "d", op: ">>", version: "0" }],
      ],
    );
  });

  test('maps the deprecated "<" and ">" to "<=" and ">="', () => {
    assert.deepEqual(parseRelations("a (< 1), b (> 2)"), [
      [{ name: "a", op: "<=", version: "1" }],
      [{ name: "b", op: ">=", version: "2" }],
    ]);
  });

  test("evaluates [arch] restrictions against the target and ignores <profiles>", () => {
    const field =
      "a [amd64], b [!amd64] | c, d [linux-any] <!nocheck>, e <!stage1> <!nocheck>, f [i386 arm64]";
    assert.deepEqual(parseRelations(field, { arch: "amd64" }), [
      [{ name: "a" }],
      [{ name: "c" }],
      [{ name: "d" }],
      [{ name: "e" }],
    ]);
    assert.deepEqual(parseRelations(field, { arch: "arm64" }), [
      [{ name: "b" }, { name: "c" }],
      [{ name: "d" }],
      [{ name: "e" }],
      [{ name: "f" }],
    ]);
  });

  test("parses Provides with versions", () => {
    assert.deepEqual(parseRelations("libssl3 (= 3.5.1-1), awk"), [
      [{ name: "libssl3", op: "=", version: "3.5.1-1" }],
      [{ name: "awk" }],
    ]);
  });

  test("returns nothing for an empty field and rejects garbage", () => {
    assert.deepEqual(parseRelations(" "), []);
    assert.throws(() => parseRelations("foo (>= )", { source: "Depends of x" }), {
      code: "debian.relation-invalid",
      message: /Depends of x/,
    });
    assert.throws(() => parseRelations("Foo"), { code: "debian.relation-invalid" });
    assert.throws(() => parseRelations("a (~ 1)"), { code: "debian.relation-invalid" });
  });

  test("formats a group back", () => {
    const group = parseRelations("a:any (>= 1) | b")[0] ?? [];
    assert.equal(formatGroup(group), "a:any (>= 1) | b");
  });
});
