import assert from "node:assert/strict";
import { test } from "node:test";
import { machinesLine, sshConfigBlock } from "../../../src/nix/builders.js";

const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@nixos";

test("the machines line has the seed's shape, its systems comma-separated, with the host key pinned", () => {
  const line = machinesLine({
    alias: "linux-builder",
    systems: ["aarch64-linux", "x86_64-linux"],
    identityFile: "/etc/nix/builder_ed25519",
    maxJobs: 4,
    speedFactor: 1,
    supportedFeatures: ["benchmark", "big-parallel"],
    hostPublicKey: hostKey,
  });
  assert.equal(
    line,
    "ssh-ng://builder@linux-builder aarch64-linux,x86_64-linux /etc/nix/builder_ed25519 4 1 benchmark,big-parallel - " +
      Buffer.from(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb",
      ).toString("base64"),
  );
  const noFeatures = machinesLine({
    alias: "b",
    systems: ["x86_64-linux"],
    identityFile: "/k",
    maxJobs: 1,
    speedFactor: 2,
    supportedFeatures: [],
    hostPublicKey: hostKey,
  });
  assert.match(noFeatures, /^ssh-ng:\/\/builder@b x86_64-linux \/k 1 2 - - [A-Za-z0-9+/=]+$/);
});

test("the ssh_config alias points at loopback with the alias as HostKeyAlias", () => {
  assert.equal(
    sshConfigBlock({ alias: "linux-builder", port: 31022, identityFile: "/etc/nix/builder_ed25519" }),
    "Host linux-builder\n  HostName 127.0.0.1\n  Port 31022\n  HostKeyAlias linux-builder\n  User builder\n" +
      "  IdentityFile /etc/nix/builder_ed25519\n  IdentitiesOnly yes\n",
  );
});
