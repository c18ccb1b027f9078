import assert from "node:assert/strict";
import { test } from "node:test";
import { gcThresholds, guestNixConf } from "../../../src/guest/nix-conf.js";

const GIB = 1024 ** 3;

test("gcThresholds: a tenth and a fifth of the disk, at least 1 and 2 GiB", () => {
  assert.deepEqual(gcThresholds(40), { minFree: 4 * GIB, maxFree: 8 * GIB });
  assert.deepEqual(gcThresholds(8), { minFree: GIB, maxFree: 2 * GIB });
  assert.deepEqual(gcThresholds(4), { minFree: GIB, maxFree: 2 * GIB });
});

test("guestNixConf: the machines line's features, garbage collection from the disk, the user's caches", () => {
  assert.equal(
    guestNixConf({
      supportedFeatures: ["benchmark", "big-parallel", "nixos-test", "foo"],
      diskGiB: 40,
      extraSubstituters: ["https://a.example", "https://b.example"],
      extraTrustedPublicKeys: ["a.example-1:AAAA"],
      extraPlatforms: ["aarch64-linux"],
    }),
    [
      "# Written by the host at each boot (linux-builder's settings); see /etc/nix/nix.conf.",
      "system-features = benchmark big-parallel nixos-test foo",
      `min-free = ${4 * GIB}`,
      `max-free = ${8 * GIB}`,
      "extra-substituters = https://a.example https://b.example",
      "extra-platforms = aarch64-linux",
      "extra-trusted-public-keys = a.example-1:AAAA",
      "",
    ].join("\n"),
  );
  // No caches of the user's and no emulated system: no lines for them (an empty extra- setting is
  // still a setting).
  assert.doesNotMatch(
    guestNixConf({
      supportedFeatures: [],
      diskGiB: 8,
      extraSubstituters: [],
      extraTrustedPublicKeys: [],
      extraPlatforms: [],
    }),
    /extra-/,
  );
});
