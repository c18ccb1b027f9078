import assert from "node:assert/strict";
import { test } from "node:test";
import { busyboxApplets } from "../../../../src/image/guest/busybox-applets.js";

const table = (names: string[]) => Buffer.from(`\x7fELF...junk\0${names.join("\0")}\0\0more`, "latin1");
const applets = ["[", "[[", "acpid", "ash", "cat", "cut", "ip", "mount", "sed", "sh", "sleep", "zcat"];

test("busybox's applet table, read from the binary", () => {
  assert.deepEqual(busyboxApplets(table(applets)), applets);
  // Not sorted, too short, or no sh: not the table; the guest installs the links itself.
  assert.equal(busyboxApplets(table([...applets].reverse())), undefined);
  assert.equal(busyboxApplets(table(["[", "[[", "sh"])), undefined);
  assert.equal(busyboxApplets(table(applets.filter((a) => a !== "sh"))), undefined);
  assert.equal(busyboxApplets(Buffer.from("no table here")), undefined);
});
