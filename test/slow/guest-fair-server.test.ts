/**
 * An idle guest wakes less for the kernel's fair server (guest/init.sh, slow_fair_server): after
 * READY every CPU's server keeps its 5 % over a 4 s period instead of 1 s, and the debugfs the init
 * mounted to set it is unmounted again. Root in the guest comes from the test's own boot archive.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Arch } from "../../src/image/guest/profile.js";
import { bootUntilReady, sshRun, testImage } from "../support/guest-vm.js";

/** The servers' periods, runtimes and the CPU count, read through a debugfs of the test's own. */
const READ_SERVERS = [
  "mount -t debugfs debugfs /sys/kernel/debug",
  "cd /sys/kernel/debug/sched/fair_server",
  'echo "cpus $(ls -d cpu* | wc -l) online $(grep -c ^processor /proc/cpuinfo)"',
  'for cpu in cpu*; do echo "$cpu $(cat $cpu/period) $(cat $cpu/runtime)"; done',
  "cd /",
  "umount /sys/kernel/debug",
].join(" && ");

/** Boots `arch` with root access and reads every CPU's server once the init has set them. */
async function serversSlowed(arch: Arch, readyTimeoutMs: number): Promise<void> {
  const guest = await bootUntilReady(await testImage(arch), { rootAccess: true }, readyTimeoutMs);
  try {
    // The init sets them just after READY: asked until they are set, for up to a minute (a read
    // that met the init's own debugfs mount on its way out fails, and is asked again).
    const deadline = Date.now() + 60_000;
    let servers = "";
    for (;;) {
      servers = await sshRun(guest, READ_SERVERS, 120_000, "root").catch((error: Error) => {
        if (Date.now() > deadline) throw error;
        return "";
      });
      if (/^cpu\d+ 4000000000 /m.test(servers) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const count = /^cpus (\d+) online (\d+)$/m.exec(servers);
    assert.ok(count && Number(count[1]) >= 1 && count[1] === count[2], `a server per CPU:\n${servers}`);
    const lines = servers.split("\n").filter((line) => /^cpu\d+ /.test(line));
    assert.equal(lines.length, Number(count[1]), servers);
    for (const line of lines) assert.match(line, /^cpu\d+ 4000000000 200000000$/, servers);
    assert.doesNotMatch(await sshRun(guest, "cat /proc/mounts", 60_000, "root"), /debugfs/);
  } finally {
    await guest.destroy();
  }
}

describe("each CPU's fair server runs on a 4 s period after READY, and debugfs is unmounted (slow)", {
  concurrency: false,
}, () => {
  test("amd64 (TCG)", { timeout: 20 * 60_000 }, async () => {
    await serversSlowed("amd64", 240_000);
  });

  test("arm64 (TCG, slower)", { timeout: 30 * 60_000 }, async () => {
    await serversSlowed("arm64", 900_000);
  });
});
