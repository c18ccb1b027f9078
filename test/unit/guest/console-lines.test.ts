import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import {
  failureBeforeReady,
  GUEST_LINES,
  kernelCrash,
  poweredOff,
  reachedReady,
  registeredEmulators,
  scanConsole,
  uptimeAt,
} from "../../../src/guest/console-lines.js";

test("each line kind: SSHD, READY, FAILED with its reason, nothing yet", () => {
  assert.deepEqual(scanConsole("linux-builder: SSHD at 2.1s\r\n"), { kind: "sshd" });
  assert.deepEqual(
    scanConsole("[ 1.0] x\r\nlinux-builder: stage 2 at 1.9s\r\nlinux-builder: READY at 2.74s\r\n"),
    { kind: "ready" },
  );
  assert.deepEqual(scanConsole("linux-builder: FAILED: no data disk (/dev/vda) for /nix\r\nBusyBox"), {
    kind: "failed",
    reason: "no data disk (/dev/vda) for /nix",
  });
  assert.equal(scanConsole("[ 0.1] Linux version\nlinux-builder: stage 2 at 1.9s\n"), undefined);
  // A login prompt's own text is not one of /init's lines.
  assert.equal(scanConsole("READY at 2s\nFAILED: x\n"), undefined);
});

test("a partial line is not the line yet", () => {
  assert.equal(scanConsole("linux-builder: stage 2 at 1.9s\r\nlinux-builder: REA"), undefined);
  assert.equal(reachedReady("linux-builder: READY a"), false);
  assert.equal(uptimeAt("linux-builder: READY at 2.7", "ready"), undefined);
  assert.equal(poweredOff("linux-builder: powering of"), false);
});

test("FAILED over READY over SSHD", () => {
  assert.deepEqual(scanConsole("linux-builder: SSHD at 2.1s\nlinux-builder: READY at 2.3s\n"), {
    kind: "ready",
  });
  assert.deepEqual(scanConsole("linux-builder: SSHD at 2.1s\nlinux-builder: FAILED: x\n"), {
    kind: "failed",
    reason: "x",
  });
  assert.deepEqual(scanConsole("linux-builder: READY at 2.3s\nlinux-builder: FAILED: late \n"), {
    kind: "failed",
    reason: "late",
  });
});

test("a failure counts only before READY: after it, the console is a login", () => {
  assert.equal(
    failureBeforeReady("linux-builder: FAILED: cannot mount /dev/vda on /nix\n"),
    "cannot mount /dev/vda on /nix",
  );
  assert.equal(
    failureBeforeReady("linux-builder: READY at 3s\n$ echo linux-builder: FAILED: typed\n"),
    undefined,
  );
  assert.equal(failureBeforeReady("linux-builder: SSHD at 2s\n"), undefined);
});

test("READY, powering off, and the uptimes the lines carry", () => {
  const boot = [
    "linux-builder: stage 2 at 1.93s",
    "linux-builder: SSHD at 2.5s",
    "linux-builder: READY at 3.41s",
    "linux-builder: stopping",
    "linux-builder: powering off",
    "",
  ].join("\r\n");
  assert.equal(reachedReady(boot), true);
  assert.equal(poweredOff(boot), true);
  assert.equal(poweredOff("linux-builder: stopping\n"), false);
  assert.equal(uptimeAt(boot, "stage2"), 1.93);
  assert.equal(uptimeAt(boot, "sshd"), 2.5);
  assert.equal(uptimeAt(boot, "ready"), 3.41);
  assert.equal(uptimeAt("linux-builder: stage 2 at 1s\n", "ready"), undefined);
});

test("the kernel's last words when it crashed", () => {
  assert.equal(
    kernelCrash("[ 1.7] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\r\n[ 1.7] CPU: 1"),
    "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI",
  );
  assert.equal(
    kernelCrash("x\nKernel panic - not syncing: Fatal exception\n"),
    "Kernel panic - not syncing: Fatal exception",
  );
  assert.equal(kernelCrash("linux-builder: READY at 3.2s\n"), undefined);
});

test("guest/init.sh prints each line the host reads, through its log function", async () => {
  const init = await readFile(join(import.meta.dirname, "../../../guest/init.sh"), "utf8");
  assert.match(init, /^log\(\) \{ echo "linux-builder: \$\*"; \}$/m);
  assert.match(init, /^fail\(\) \{\n {2}echo "linux-builder: FAILED: \$\*"$/m);
  for (const [line, words] of Object.entries(GUEST_LINES)) {
    if (line === "failed") continue;
    assert.ok(init.includes(`log "${words}`), `init.sh no longer prints "${words}"`);
  }
});

test("the emulators the guest registered, by their binfmt_misc names; none said, none", () => {
  assert.deepEqual(
    registeredEmulators(
      "linux-builder: stage 2 at 1.9s\r\nlinux-builder: emulating with qemu-aarch64 (binfmt_misc)\r\nlinux-builder: READY at 2.7s\r\n",
    ),
    ["qemu-aarch64"],
  );
  assert.deepEqual(registeredEmulators("linux-builder: READY at 2.7s\r\n"), []);
  // Cut in the middle by a read: not said yet.
  assert.deepEqual(registeredEmulators("linux-builder: emulating with qemu-aarch64 (binf"), []);
});
