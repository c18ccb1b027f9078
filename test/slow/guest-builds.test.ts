/**
 * The guest as a real builder, under TCG, through the host's Nix and exactly what install writes:
 * a feature configured in `supportedFeatures` reaches both the machines line and the guest's
 * system-features (a build requiring it runs there; one requiring an absent feature is refused by
 * Nix before dispatch); a build writing more into its build folder than the guest's /tmp (a tmpfs of
 * half its RAM) could hold succeeds, since builds run on the /nix disk; garbage collection is sized
 * from the disk.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { derivation, type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";

const GIB = 1024 ** 3;

describe("the guest as a builder: features, big build folders, garbage collection (slow)", () => {
  let builder: InstalledBuilder;

  before(async () => {
    builder = await installedBuilder({
      name: "guest-builds",
      config: { supportedFeatures: ["benchmark", "big-parallel", "nixos-test", "lb-test-feature"] },
      cpus: 2,
      memoryMiB: 1024,
      diskGiB: 8,
    });
  });

  after(async () => {
    await builder?.cleanup();
  });

  test("features from the one setting, builds on the /nix disk, garbage collection from its size", {
    timeout: 30 * 60_000,
  }, async () => {
    const { cli, nixBuild } = builder;
    await cli("start");
    await builder.install();
    assert.match(
      await readFile(join(builder.nixConfDir, "machines"), "utf8"),
      / benchmark,big-parallel,nixos-test,lb-test-feature - /,
    );

    // The guest's Nix says the same features, and collects garbage by the disk's size (8 GiB:
    // the floors, 1 and 2 GiB).
    const { stdout: config } = await cli("ssh", "--", "nix", "config", "show");
    assert.match(config, /^system-features = benchmark big-parallel lb-test-feature nixos-test$/m);
    assert.match(config, new RegExp(`^min-free = ${GIB}$`, "m"));
    assert.match(config, new RegExp(`^max-free = ${2 * GIB}$`, "m"));

    // A build that needs the configured feature runs on the guest.
    const featured = await nixBuild(
      derivation(
        "lb-featured",
        'read r < /proc/sys/kernel/osrelease; echo "built on $r" > $out',
        'requiredSystemFeatures = [ "lb-test-feature" ];',
      ),
    );
    assert.match(
      await readFile(featured.stdout.trim(), "utf8"),
      /^built on 6\.\d+\.\d+\+deb\d+-cloud-amd64\n$/,
    );

    // One that needs a feature nobody offers is refused by Nix before any dispatch.
    const absent = await nixBuild(
      derivation("lb-unfeatured", "echo > $out", 'requiredSystemFeatures = [ "lb-absent-feature" ];'),
    ).catch((error: { stderr?: string }) => error);
    assert.match(String((absent as { stderr?: string }).stderr), /lb-absent-feature/);

    // 520 MiB in the build folder: more than the guest's /tmp (a tmpfs of half its 1 GiB) holds.
    const started = Date.now();
    const big = await nixBuild(
      derivation(
        "lb-big-build-folder",
        [
          's=$(printf "%*s" 1048576 "")',
          "i=0; while [ $i -lt 520 ]; do printf '%s' \"$s\" >> big; i=$((i+1)); done",
          'echo "wrote 520 MiB in the build folder" > $out',
        ].join("\n"),
      ),
    );
    process.stdout.write(
      `# 520 MiB in a build folder took ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    assert.equal(await readFile(big.stdout.trim(), "utf8"), "wrote 520 MiB in the build folder\n");
    const { stdout: tmp } = await cli("ssh", "--", "df", "-m", "/tmp");
    assert.match(tmp, /tmpfs\s+4\d\d\s/, "the guest's /tmp is the small tmpfs the build did not use");

    // Nothing roots these outputs in the guest: collecting now frees the 520 MiB build's output and the rest.
    const collected = await cli("gc");
    assert.match(
      collected.stderr,
      /^Collected the builder's garbage: [1-9]\d* store paths deleted, [0-9.]+ \w+ freed\.$/m,
    );

    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
