import assert from "node:assert/strict";
import { test } from "node:test";
import { declarativeSnippet } from "../../../src/nix/declarative-snippet.js";

const entry = {
  alias: "linux-builder",
  systems: ["aarch64-linux", "x86_64-linux"],
  identityFile: "/etc/nix/builder_ed25519",
  maxJobs: 4,
  speedFactor: 1,
  supportedFeatures: [],
  hostPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@x",
};

test("the snippet lists every system the builder serves, native first, as Nix strings", () => {
  for (const manager of ["nix-darwin", "nixos"] as const) {
    const text = declarativeSnippet({
      manager,
      entry,
      port: 31022,
      sshConfigPath: "/etc/ssh/ssh_config.d/x.conf",
    });
    assert.match(text, /^ {4}systems = \[ "aarch64-linux" "x86_64-linux" \];$/m);
    assert.doesNotMatch(text, /^ {4}system = /m);
  }
});
