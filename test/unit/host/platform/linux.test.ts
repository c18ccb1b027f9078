import assert from "node:assert/strict";
import { test } from "node:test";
import { linux } from "../../../../src/host/platform/linux.js";
import { nixDaemonRestartHint, platformOf } from "../../../../src/host/platform/platform.js";
import { fakeIo } from "./fake-io.js";

const UNIT = "systemctl show --property=LoadState --value nix-daemon.service";

test("Linux is the linux host kind's platform", () => {
  assert.equal(platformOf("linux"), linux);
});

test("systemd's nix-daemon unit is restarted; without the unit or without systemd, the user is told why", async () => {
  const withUnit = fakeIo({
    files: { "/run/systemd/system": "" },
    commands: { [UNIT]: { kind: "ran", stdout: "loaded\n" } },
  });
  assert.deepEqual(await linux.daemonRestart(withUnit), {
    kind: "command",
    argv: ["systemctl", "restart", "nix-daemon"],
  });
  assert.deepEqual(withUnit.ran, [
    ["systemctl", "show", "--property=LoadState", "--value", "nix-daemon.service"],
  ]);
  const noUnit = fakeIo({
    files: { "/run/systemd/system": "" },
    commands: { [UNIT]: { kind: "ran", stdout: "not-found\n" } },
  });
  assert.deepEqual(await linux.daemonRestart(noUnit), {
    kind: "none",
    why: "systemd has no nix-daemon unit; single-user Nix reads nix.conf on each run",
  });
  const noSystemd = fakeIo({});
  assert.deepEqual(await linux.daemonRestart(noSystemd), {
    kind: "none",
    why: "systemd does not run here: restart nix-daemon however your system runs it",
  });
  assert.deepEqual(noSystemd.ran, []);
});

test("the restart the messages tell the user to run", () => {
  assert.equal(nixDaemonRestartHint("linux"), "sudo systemctl restart nix-daemon");
});

test("groups come from /etc/group", async () => {
  const io = fakeIo({ files: { "/etc/group": "root:x:0:\nnixbld:x:30000:nixbld1,nixbld2\nnixbldx:x:1:\n" } });
  assert.equal(await linux.groupExists("nixbld", io), true);
  assert.equal(await linux.groupId("nixbld", io), 30000);
  assert.equal(await linux.groupExists("nix", io), false);
  assert.equal(await linux.groupId("nix", io), undefined);
  assert.equal(await linux.groupExists("nixbld", fakeIo({})), false);
  assert.deepEqual(io.ran, []);
});

test("the kernel and os-release (or its /usr/lib fallback); another Unix is named as it is", async () => {
  const fallback = fakeIo({ files: { "/usr/lib/os-release": 'PRETTY_NAME="Debian"\n' }, kernel: "6.12.0" });
  assert.deepEqual(await linux.system({ os: "linux" }, fallback), {
    platform: "linux",
    kernel: "6.12.0",
    osRelease: 'PRETTY_NAME="Debian"\n',
  });
  const etc = fakeIo({ files: { "/etc/os-release": "NAME=NixOS\n", "/usr/lib/os-release": "NAME=other\n" } });
  assert.deepEqual(await linux.system({ os: "linux" }, etc), {
    platform: "linux",
    kernel: "6.1.0",
    osRelease: "NAME=NixOS\n",
  });
  assert.deepEqual(await linux.system({ os: "freebsd" }, fakeIo({})), { platform: "other", name: "freebsd" });
});

test("XDG folders, root's home, NixOS by /etc/NIXOS, no hypervisor question, no system CA export", async () => {
  assert.deepEqual(linux.folders("/home/u", { XDG_CACHE_HOME: "/c", XDG_STATE_HOME: "relative" }), {
    cache: "/c/linux-builder",
    images: "/home/u/.local/share/linux-builder/images",
    state: "/home/u/.local/state/linux-builder",
    config: "/home/u/.config/linux-builder/config.json",
  });
  assert.equal(linux.rootHome, "/root");
  assert.equal(await linux.configManager(fakeIo({ files: { "/etc/NIXOS": "" } })), "nixos");
  assert.equal(await linux.configManager(fakeIo({})), "unknown");
  assert.equal(await linux.hypervisorSupport(fakeIo({})), undefined);
  assert.equal(linux.caExport, undefined);
});

test("systemd manages the service only where it runs (/run/systemd/system, as sd_booted); else none, with why", async () => {
  const booted = fakeIo({ files: { "/run/systemd/system": "" } });
  assert.deepEqual(await linux.serviceManager(booted), { kind: "systemd", dir: "/etc/systemd/system" });
  assert.deepEqual(await linux.serviceManager(fakeIo({})), {
    kind: "none",
    why: "systemd does not run here: no /run/systemd/system",
  });
  assert.deepEqual(booted.ran, []);
});
