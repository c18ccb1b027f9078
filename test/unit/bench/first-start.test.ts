import assert from "node:assert/strict";
import { test } from "node:test";
import { startProjected } from "../../../bench/first-start.js";

const READY =
  "Composing…\nReady in 7.9 s (pid 4242, tcg; QEMU up at 0.3 s, sshd up at 6.1 s, Nix store answered at 7.9 s). `linux-builder ssh` logs in.\n";

test("a first start projected with KVM/hvf keeps what came before QEMU and divides the guest's boot", () => {
  // 17.8 s in all, of which the boot said 7.9 s: 9.9 s before QEMU; then QEMU's 0.3 s as measured
  // and the guest's 7.6 s at a tenth of the time.
  const projected = startProjected(17.8, READY, 10);
  assert.ok(projected !== undefined);
  assert.ok(Math.abs(projected - (9.9 + 0.3 + 0.76)) < 1e-9, String(projected));
});

test("a start that did not say where its time went has no projection", () => {
  assert.equal(startProjected(17.8, "Composed in 9 s\n", 10), undefined);
  assert.equal(startProjected(17.8, "Ready in 7.9 s (pid 4242, tcg).\n", 10), undefined);
});
