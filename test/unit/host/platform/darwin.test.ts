import assert from "node:assert/strict";
import { test } from "node:test";
import { darwin } from "../../../../src/host/platform/darwin.js";
import { nixDaemonRestartHint, platformOf } from "../../../../src/host/platform/platform.js";
import { fakeIo } from "./fake-io.js";

const PLIST = (label: string) => `/Library/LaunchDaemons/${label}.plist`;

test("macOS is the darwin host kind's platform", () => {
  assert.equal(platformOf("darwin"), darwin);
});

test("the official installer's launch daemon is kickstarted; Determinate's is left to the user, saying how", async () => {
  const official = await darwin.daemonRestart(fakeIo({ files: { [PLIST("org.nixos.nix-daemon")]: "" } }));
  assert.deepEqual(official, {
    kind: "command",
    argv: ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"],
  });
  const determinate = await darwin.daemonRestart(
    fakeIo({ files: { [PLIST("systems.determinate.nix-daemon")]: "" } }),
  );
  assert.deepEqual(determinate, {
    kind: "none",
    why: "the daemon is systems.determinate.nix-daemon: `sudo launchctl kickstart -k system/systems.determinate.nix-daemon`",
  });
  const both = await darwin.daemonRestart(
    fakeIo({ files: { [PLIST("org.nixos.nix-daemon")]: "", [PLIST("systems.determinate.nix-daemon")]: "" } }),
  );
  assert.equal(both.kind, "command");
  assert.deepEqual(await darwin.daemonRestart(fakeIo({})), {
    kind: "none",
    why: "no Nix launch daemon found; single-user Nix reads nix.conf on each run",
  });
});

test("the restart the messages tell the user to run", () => {
  assert.equal(nixDaemonRestartHint("darwin"), "sudo launchctl kickstart -k system/org.nixos.nix-daemon");
});

test("groups come from Directory Services, through dscl", async () => {
  const io = fakeIo({
    commands: {
      "dscl . -read /Groups/nixbld": { kind: "ran", stdout: "AppleMetaNodeLocation: /Local/Default\n" },
      "dscl . -read /Groups/nixbld PrimaryGroupID": { kind: "ran", stdout: "PrimaryGroupID: 350\n" },
      "dscl . -read /Groups/nogroup": { kind: "failed", message: "eDSRecordNotFound" },
    },
  });
  assert.equal(await darwin.groupExists("nixbld", io), true);
  assert.equal(await darwin.groupExists("nogroup", io), false);
  assert.equal(await darwin.groupId("nixbld", io), 350);
  assert.equal(await darwin.groupId("nogroup", io), undefined);
  assert.deepEqual(io.ran, [
    ["dscl", ".", "-read", "/Groups/nixbld"],
    ["dscl", ".", "-read", "/Groups/nogroup"],
    ["dscl", ".", "-read", "/Groups/nixbld", "PrimaryGroupID"],
    ["dscl", ".", "-read", "/Groups/nogroup", "PrimaryGroupID"],
  ]);
});

test("the version from sw_vers, Hypervisor.framework from sysctl", async () => {
  const io = fakeIo({
    commands: {
      "sw_vers -productVersion": { kind: "ran", stdout: "14.5\n" },
      "sysctl -n kern.hv_support": { kind: "ran", stdout: "1\n" },
    },
  });
  assert.deepEqual(await darwin.system({ os: "darwin" }, io), {
    platform: "darwin",
    swVers: { kind: "ran", stdout: "14.5\n" },
  });
  assert.equal(await darwin.hypervisorSupport(io), true);
  assert.deepEqual(io.ran, [
    ["sw_vers", "-productVersion"],
    ["sysctl", "-n", "kern.hv_support"],
  ]);
  const old = fakeIo({ commands: { "sysctl -n kern.hv_support": { kind: "ran", stdout: "0\n" } } });
  assert.equal(await darwin.hypervisorSupport(old), false);
  assert.equal(await darwin.hypervisorSupport(fakeIo({})), undefined);
});

test("~/Library, root's home, nix-darwin, the System keychain", async () => {
  assert.deepEqual(darwin.folders("/Users/u", { XDG_CONFIG_HOME: "/x" }), {
    cache: "/Users/u/Library/Caches/linux-builder",
    images: "/Users/u/Library/Application Support/linux-builder/images",
    state: "/Users/u/Library/Application Support/linux-builder/state",
    config: "/Users/u/Library/Application Support/linux-builder/config.json",
  });
  assert.equal(darwin.rootHome, "/var/root");
  assert.equal(await darwin.configManager(fakeIo({})), "nix-darwin");
  assert.deepEqual(darwin.caExport, {
    command: "/usr/bin/security",
    args: ["export", "-t", "certs", "-f", "pemseq", "-k", "/Library/Keychains/System.keychain"],
    source: "the System keychain",
  });
});

test("launchd manages the service on macOS, its daemons in /Library/LaunchDaemons", async () => {
  const io = fakeIo({});
  assert.deepEqual(await darwin.serviceManager(io), { kind: "launchd", dir: "/Library/LaunchDaemons" });
  assert.deepEqual(io.ran, []);
});
