import assert from "node:assert/strict";
import { test } from "node:test";
import {
  blockIds,
  hasBlock,
  hasDamagedBlock,
  withBlock,
  withoutBlock,
} from "../../../src/nix/managed-block.js";

const comment = "managed";

test("a block is added at the end and removed to the exact bytes", () => {
  for (const original of ["", "a = 1\n", "a = 1", "a = 1\r\nb = 2\r\n", "a = 1\r\nb = 2", "\n\n"]) {
    const added = withBlock(original, "linux-builder", ["x = y"], comment);
    assert.ok(hasBlock(added, "linux-builder"));
    assert.ok(
      added.endsWith(original.includes("\r\n") ? "# END linux-builder\r\n" : "# END linux-builder\n"),
    );
    assert.equal(withoutBlock(added, "linux-builder"), original, JSON.stringify(original));
  }
});

test("replacing a block keeps it where it is and the user's text around it", () => {
  const text = `${withBlock("a\n", "linux-builder", ["old"], comment)}user = after\n`;
  const replaced = withBlock(text, "linux-builder", ["new"], comment);
  assert.equal(replaced, "a\n# BEGIN linux-builder\n# managed\nnew\n# END linux-builder\nuser = after\n");
  assert.equal(withoutBlock(replaced, "linux-builder"), "a\nuser = after\n");
});

test("a newline we added stays when the user has written after the block", () => {
  const text = `${withBlock("a", "linux-builder", ["x"], comment)}b\n`;
  assert.equal(withoutBlock(text, "linux-builder"), "a\nb\n");
  const replaced = withBlock(text, "linux-builder", ["y"], comment);
  assert.equal(withoutBlock(replaced, "linux-builder"), "a\nb\n");
});

test("ids are exact: linux-builder is not linux-builder-31023", () => {
  const two = withBlock(
    withBlock("", "linux-builder-31023", ["b"], comment),
    "linux-builder",
    ["a"],
    comment,
  );
  assert.deepEqual(blockIds(two, "linux-builder"), ["linux-builder-31023", "linux-builder"]);
  assert.equal(withoutBlock(two, "linux-builder"), withBlock("", "linux-builder-31023", ["b"], comment));
  // An unterminated block is not ours to remove.
  assert.equal(withoutBlock("# BEGIN linux-builder\nx\n", "linux-builder"), "# BEGIN linux-builder\nx\n");
});

test("a BEGIN that lost its END: the block is the one that ends, the user's lines between stay", () => {
  const orphan = "user1\n# BEGIN b\n# c\nLINE-A\nuser2\nuser3\n";
  assert.equal(hasDamagedBlock(orphan, "b"), true);
  const twice = withBlock(orphan, "b", ["LINE-B"], "c");
  assert.equal(withoutBlock(twice, "b"), orphan);
  assert.equal(hasDamagedBlock(withBlock("x\n", "b", ["L"], "c"), "b"), false);
});
