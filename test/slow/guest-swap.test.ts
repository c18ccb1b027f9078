/**
 * Swap, under TCG, through the host's Nix and exactly what install writes: in a 1024 MiB guest, a
 * build whose builder holds 1.5 GiB (more than the guest's RAM) succeeds, slower, instead of being
 * killed by the kernel's OOM killer; the guest swapped to get there; and the disk's file on the host,
 * which grew with what was swapped out, shrinks again once the build is gone (swap discards).
 */
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { derivation, type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";

const MEMORY_MIB = 1024;

describe("swap: a build needing more memory than the guest has (slow)", () => {
  let builder: InstalledBuilder;
  const swappedOut = async () => {
    const { stdout } = await builder.cli("ssh", "--", "cat", "/proc/vmstat");
    return Number(/^pswpout (\d+)$/m.exec(stdout)?.[1]);
  };

  before(async () => {
    builder = await installedBuilder({ name: "guest-swap", cpus: 2, memoryMiB: MEMORY_MIB, diskGiB: 8 });
  });

  after(async () => {
    await builder?.cleanup();
  });

  test("a builder holding 1.5 GiB in a 1 GiB guest succeeds", { timeout: 45 * 60_000 }, async () => {
    const { cli, nixBuild } = builder;
    await cli("start");
    await builder.install();

    // The swap file is on (made in the background after READY's disk check, so wait a little).
    let swaps = "";
    for (let i = 0; i < 60 && !/\/nix\/var\/linux-builder\/swap/.test(swaps); i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
      swaps = (await cli("ssh", "--", "cat", "/proc/swaps")).stdout;
    }
    const size = /^\/nix\/var\/linux-builder\/swap\s+file\s+(\d+)/m.exec(swaps);
    assert.ok(size, `the swap file is on:\n${swaps}`);
    // As large as the guest's memory (MemTotal, a little under MEMORY_MIB), under an eighth of the 8 GiB disk.
    const sizeMiB = Number(size[1]) / 1024;
    assert.ok(sizeMiB > MEMORY_MIB * 0.8 && sizeMiB <= 1024, `swap of ${sizeMiB} MiB`);
    const swappedBefore = await swappedOut();

    // 24 strings of 64 MiB, written (printf fills them) and read again (${#a[i]} walks each one),
    // all held at once by the builder (/bin/sh is bash-static in the sandbox).
    const script = [
      "i=0",
      "while [ $i -lt 24 ]; do printf -v \"a[$i]\" '%*s' 67108864 ''; i=$((i + 1)); done",
      "n=0; i=0",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell, not a template
      "while [ $i -lt 24 ]; do n=$((n + ${#a[$i]})); i=$((i + 1)); done",
      'echo "held $((n / 1048576)) MiB" > $out',
    ].join("\n");
    // The disk's file on the host: how much of it is allocated, sampled through the build.
    const allocatedMiB = async () =>
      ((await stat(join(builder.stateDir, "nix.img"))).blocks * 512) / 1024 ** 2;
    const allocatedBefore = await allocatedMiB();
    let allocatedPeak = allocatedBefore;
    const sampler = setInterval(() => {
      void allocatedMiB().then((mib) => {
        allocatedPeak = Math.max(allocatedPeak, mib);
      });
    }, 1000);
    const started = Date.now();
    const built = await nixBuild(derivation("lb-more-than-ram", script), { timeoutMs: 1_800_000 }).finally(
      () => clearInterval(sampler),
    );
    process.stdout.write(
      `# a builder holding 1536 MiB in a ${MEMORY_MIB} MiB guest took ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    assert.equal(await readFile(built.stdout.trim(), "utf8"), "held 1536 MiB\n");
    assert.ok((await swappedOut()) > swappedBefore, "the guest swapped to hold it");

    // The swap the build used is discarded as it is freed: the host gets the disk space back.
    const grew = allocatedPeak - allocatedBefore;
    assert.ok(grew > 256, `the disk's file grew by ${grew.toFixed(0)} MiB while the build swapped`);
    let allocatedAfter = await allocatedMiB();
    for (let i = 0; i < 60 && allocatedAfter - allocatedBefore > grew / 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      allocatedAfter = await allocatedMiB();
    }
    process.stdout.write(
      `# the disk's file: ${allocatedBefore.toFixed(0)} MiB allocated before, ${allocatedPeak.toFixed(0)} at most, ${allocatedAfter.toFixed(0)} after\n`,
    );
    assert.ok(
      allocatedAfter - allocatedBefore <= grew / 2,
      "the host got most of the swap's disk space back",
    );

    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
