import assert from "node:assert/strict";
import { test } from "node:test";
import { includesCustomConf, sshIncludesDir } from "../../../src/host/config-includes.js";

test("ssh reads our alias only where the system ssh_config includes its folder", () => {
  const debian = "Include /etc/ssh/ssh_config.d/*.conf\nHost *\n";
  const macos = "# comment\nInclude /etc/ssh/ssh_config.d/*\n";
  assert.ok(sshIncludesDir(debian, "/etc/ssh/ssh_config.d/linux-builder.conf"));
  assert.ok(sshIncludesDir(macos, "/etc/ssh/ssh_config.d/linux-builder.conf"));
  assert.ok(!sshIncludesDir("Host *\n", "/etc/ssh/ssh_config.d/linux-builder.conf"));
  assert.ok(!sshIncludesDir(debian, "/etc/ssh/ssh_config.d/sub/linux-builder.conf"));
  assert.ok(!sshIncludesDir(undefined, "/etc/ssh/ssh_config.d/linux-builder.conf"));
});

test("Determinate's nix.conf includes nix.custom.conf; a mention in a comment or another file's name does not count", () => {
  assert.ok(includesCustomConf("build-users-group = nixbld\n!include nix.custom.conf\n"));
  assert.ok(includesCustomConf("include /etc/nix/nix.custom.conf\r\n"));
  assert.ok(!includesCustomConf("# !include nix.custom.conf\n"));
  assert.ok(!includesCustomConf("!include nix.custom.conf.bak\n"));
  assert.ok(!includesCustomConf(undefined));
});
