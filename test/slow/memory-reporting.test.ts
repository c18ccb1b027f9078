/**
 * Memory back to the host, through the CLI under TCG: the guest (2 GiB) fills most of its memory,
 * QEMU's resident size grows by about as much; the guest frees it, and free page reporting
 * (virtio-balloon) gives it back: QEMU's resident size falls back by most of the rise within 60 s.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, testHome, testImage } from "../support/guest-vm.js";
import { tcgBuilderCli } from "../support/installed-builder.js";
import { FREE_COMMAND, fillCommand, mib, residentBytes, watchResident } from "../support/memory-reporting.js";

/** What the guest writes into its tmpfs: about 70 % of its 2048 MiB. */
const FILL_MIB = 1400;

describe("memory back to the host (slow)", () => {
  let stateDir: string;
  let cli: ReturnType<typeof tcgBuilderCli>;
  const ssh = async (command: string) => (await cli("ssh", "--", command)).stdout;

  before(async () => {
    await testImage("amd64");
    stateDir = await mkdtemp(join(tmpdir(), "lb-state-memory-"));
    cli = tcgBuilderCli({
      stateDir,
      port: await freePort(),
      cpus: 2,
      memoryMiB: 2048,
      diskGiB: 8,
      env: { ...process.env, LINUX_BUILDER_HOME: testHome() },
    });
  });

  after(async () => {
    await cli("stop").catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });

  test("after the guest touched most of its memory and freed it, QEMU's resident size falls back", {
    timeout: 20 * 60_000,
  }, async () => {
    await cli("start");
    const status = JSON.parse((await cli("status", "--json")).stdout);
    assert.equal(status.ready, true);
    const pid = status.pid as number;

    // The guest's driver is in (a late module: loaded in the background during the boot).
    let modules = "";
    for (let i = 0; i < 30 && !/^virtio_balloon /m.test(modules); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      modules = await ssh("cat /proc/modules");
    }
    assert.match(modules, /^virtio_balloon /m, "the guest loaded virtio_balloon");

    const beforeFill = await residentBytes(pid);
    await ssh(fillCommand(FILL_MIB));
    const peak = Math.max(await residentBytes(pid), beforeFill);
    const rise = peak - beforeFill;
    // The fill is real: QEMU touched about as much as the guest wrote (pages the guest had touched
    // before and kept are reused, hence not all of it).
    assert.ok(
      rise >= 1024 * 1024 ** 2,
      `QEMU's resident size rose by only ${mib(rise)} (${mib(beforeFill)} → ${mib(peak)}) for ${FILL_MIB} MiB written`,
    );

    await ssh(FREE_COMMAND);
    // The guest reports freed 2 MiB+ blocks in batches every 2 s: about 256 MiB a batch here.
    const target = peak - 0.7 * rise;
    const watch = await watchResident(pid, (bytes) => bytes <= target, 60_000, 1000);
    const last = watch.samples.at(-1);
    assert.ok(
      watch.reached,
      `QEMU's resident size did not fall to ${mib(target)} within 60 s: ${mib(beforeFill)} before, ${mib(peak)} at the peak, ${mib(last?.bytes ?? 0)} ${(last?.seconds ?? 0).toFixed(0)} s after the guest freed it (samples: ${watch.samples.map((s) => mib(s.bytes)).join(", ")})`,
    );
    // A note for whoever reads the test's output: the figures measured.
    process.stderr.write(
      `memory reporting: QEMU resident ${mib(beforeFill)} before, ${mib(peak)} after ${FILL_MIB} MiB written, ${mib(last?.bytes ?? 0)} ${(last?.seconds ?? 0).toFixed(1)} s after it was freed\n`,
    );

    // The builder is still itself afterwards: memory freed back is memory the guest can use again.
    assert.match(await ssh(`${fillCommand(256)} && ${FREE_COMMAND} && echo ok`), /^ok$/m);
    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
