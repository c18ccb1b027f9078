/**
 * The guest's clock follows the host's (guest/rootfs/usr/lib/linux-builder/follow-host-clock), under
 * TCG: set an hour back, it is right again within 30 s; and after QEMU was stopped for 40 s, as a
 * sleeping Mac stops it (the guest's clock stalls, the RTC does not), likewise. Root in the guest,
 * to set its clock, comes from the test's own boot archive (bootGuest's rootAccess).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Arch } from "../../src/image/guest/profile.js";
import { type BootedGuest, bootUntilReady, sshRun, testImage } from "../support/guest-vm.js";

/** How far off a clock may be and still be right: the follower steps on more than 1 s. */
const TOLERANCE_S = 2;
const CORRECTED_WITHIN_MS = 30_000;

/** Bounds on the guest's clock minus the host's, from one read of it over ssh. */
function offsetFrom(guestSeconds: number, hostBefore: number, hostAfter: number) {
  return { low: guestSeconds - hostAfter / 1000, high: guestSeconds - hostBefore / 1000 };
}

async function guestOffset(
  guest: BootedGuest,
  command = "echo $EPOCHREALTIME",
  user: "builder" | "root" = "builder",
) {
  const before = Date.now();
  const output = await sshRun(guest, command, 120_000, user);
  const seconds = Number(output.trim().split("\n").at(-1));
  assert.ok(Number.isFinite(seconds), `the guest's clock: ${output}`);
  return offsetFrom(seconds, before, Date.now());
}

const isRight = (offset: { low: number; high: number }) =>
  offset.low <= TOLERANCE_S && offset.high >= -TOLERANCE_S;

/** Polls the guest's clock until it is right; returns how long that took from `since`. */
async function waitUntilRight(guest: BootedGuest, since: number): Promise<number> {
  for (;;) {
    const offset = await guestOffset(guest);
    if (isRight(offset)) return Date.now() - since;
    assert.ok(
      Date.now() - since < CORRECTED_WITHIN_MS,
      `the guest's clock is still ${offset.low.toFixed(1)}..${offset.high.toFixed(1)} s off the host's`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const steps = async (guest: BootedGuest) =>
  [...(await guest.console()).matchAll(/clock stepped by (-?\d+)s/g)].map((m) => Number(m[1]));

async function followsTheHost(arch: Arch, readyTimeoutMs: number): Promise<void> {
  const guest = await bootUntilReady(await testImage(arch), { rootAccess: true }, readyTimeoutMs);
  try {
    assert.ok(
      isRight(await guestOffset(guest)),
      "the guest's clock is right after boot (the kernel reads the RTC)",
    );

    // Set an hour back, and read back in the same command (before the follower can step it).
    const setAt = Date.now();
    const back = await guestOffset(
      guest,
      'date -u -s "@$((EPOCHSECONDS - 3600))" >/dev/null && echo $EPOCHREALTIME',
      "root",
    );
    assert.ok(back.high < -3500, `the guest's clock was set an hour back: ${back.high.toFixed(1)} s`);
    const afterSet = await waitUntilRight(guest, setAt);
    process.stdout.write(
      `# ${arch}: an hour back, right again ${(afterSet / 1000).toFixed(1)} s after it was set\n`,
    );
    const [hourStep, ...others] = await steps(guest);
    assert.ok(
      hourStep !== undefined && Math.abs(hourStep - 3600) <= 2 && others.length === 0,
      `one step of an hour: ${await steps(guest)}`,
    );

    // The host's sleep: QEMU stopped for 40 s.
    const qmp = await guest.qmp();
    try {
      await qmp.execute("stop");
      await new Promise((resolve) => setTimeout(resolve, 40_000));
      await qmp.execute("cont");
    } finally {
      qmp.close();
    }
    const resumedAt = Date.now();
    const afterPause = await waitUntilRight(guest, resumedAt);
    process.stdout.write(
      `# ${arch}: stopped 40 s, right again ${(afterPause / 1000).toFixed(1)} s after cont\n`,
    );
    const [, pauseStep, ...more] = await steps(guest);
    assert.ok(
      pauseStep !== undefined && pauseStep >= 38 && pauseStep <= 45 && more.length === 0,
      `then one step of the pause: ${await steps(guest)}`,
    );
  } finally {
    await guest.destroy();
  }
}

describe("the guest's clock follows the host's (slow)", { concurrency: false }, () => {
  test("amd64 (TCG)", { timeout: 20 * 60_000 }, async () => {
    await followsTheHost("amd64", 240_000);
  });

  test("arm64 (TCG, slower)", { timeout: 30 * 60_000 }, async () => {
    await followsTheHost("arm64", 900_000);
  });
});
