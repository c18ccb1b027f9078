import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { hostFieldMatches, knownHostsFor } from "../../../src/ssh/known-hosts.js";

const OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFkRLI6TWJpF+RL3h+ipWb+oR6eybVAsn2AmfsfmlIbS";

describe("known_hosts", () => {
  test("plain names, lists, wildcards, negation, and [host]:port", () => {
    assert.ok(hostFieldMatches("linux-builder-31023", "linux-builder-31023"));
    assert.ok(hostFieldMatches("a,linux-builder-31023", "linux-builder-31023"));
    assert.ok(hostFieldMatches("linux-builder-*", "linux-builder-31023"));
    assert.ok(!hostFieldMatches("linux-builder-*,!linux-builder-31023", "linux-builder-31023"));
    assert.ok(hostFieldMatches("[127.0.0.1]:31023", "[127.0.0.1]:31023"));
    assert.ok(!hostFieldMatches("127.0.0.1", "[127.0.0.1]:31023"));
    assert.ok(!hostFieldMatches("linux-builder", "linux-builder-31023"));
  });

  test("a hashed name (ssh-keygen -H, Debian's HashKnownHosts yes) matches only its host", () => {
    const hashed = "|1|pW9g6SFNjqb8LXsCe/A1OcI1eJc=|trjnQExNGhLK+Wm0e/r7DmhpMkw=";
    assert.ok(hostFieldMatches(hashed, "linux-builder-31023"));
    assert.ok(!hostFieldMatches(hashed, "linux-builder-31024"));
  });

  test("entries for the names, with their lines and markers", () => {
    const text = [
      "# comment",
      `github.com ${OTHER}`,
      `linux-builder-31023 ${OTHER} root@vm`,
      `@revoked linux-builder-31023 ${OTHER}`,
      `|1|pW9g6SFNjqb8LXsCe/A1OcI1eJc=|trjnQExNGhLK+Wm0e/r7DmhpMkw= ${OTHER}`,
      "",
    ].join("\n");
    assert.deepEqual(knownHostsFor(text, ["linux-builder-31023"]), [
      { line: 3, marker: undefined, key: OTHER },
      { line: 4, marker: "revoked", key: OTHER },
      { line: 5, marker: undefined, key: OTHER },
    ]);
    assert.deepEqual(knownHostsFor(text, ["elsewhere"]), []);
  });
});
