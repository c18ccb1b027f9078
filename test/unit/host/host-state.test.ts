import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readHostState } from "../../../src/host/host-state.js";
import { fakeIo } from "./platform/fake-io.js";

const root = await mkdtemp(join(tmpdir(), "linux-builder-host-state-"));
after(() => rm(root, { recursive: true, force: true }));

async function dirs(name: string) {
  const nixConfDir = join(root, name, "nix");
  const sshConfigDir = join(root, name, "ssh_config.d");
  await mkdir(nixConfDir, { recursive: true });
  return { nixConfDir, sshConfigDir };
}

test("a Mac as install sees it: nixbld from dscl, the launch daemon to kickstart, nix-darwin, the Nix version", async () => {
  const folders = await dirs("mac");
  await writeFile(join(folders.nixConfDir, "machines"), "");
  const io = fakeIo({
    files: {
      "/Library/LaunchDaemons/org.nixos.nix-daemon.plist": "",
      "/etc/ssh/ssh_config": "Include /etc/ssh/ssh_config.d/*\n",
    },
    commands: {
      "nix --version": { kind: "ran", stdout: "nix (Nix) 2.24.10\n" },
      "dscl . -read /Groups/nixbld": { kind: "ran", stdout: "PrimaryGroupID: 350\n" },
    },
  });
  const serviceDir = join(root, "mac", "LaunchDaemons");
  const state = await readHostState({ kind: "darwin" }, { ...folders, serviceDir }, 31022, io);
  assert.equal(state.nixbldGroup, true);
  assert.deepEqual(state.daemon, {
    kind: "command",
    argv: ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"],
  });
  assert.equal(state.manager, "nix-darwin");
  assert.equal(state.systemSshConfig, "Include /etc/ssh/ssh_config.d/*\n");
  assert.deepEqual(state.nixVersion, [2, 24, 10]);
  assert.deepEqual(state.files[join(folders.nixConfDir, "machines")], { exists: true, content: "" });
  assert.deepEqual(state.folders[folders.sshConfigDir], undefined);
  assert.deepEqual(state.serviceManager, { kind: "launchd", dir: serviceDir });
  assert.deepEqual(state.files[join(serviceDir, "local.linux-builder.plist")], { exists: false });
  // No launchctl answers here: launchd's word on the daemon is unknown.
  assert.deepEqual(state.services, { "local.linux-builder": { state: "unknown" } });
  assert.deepEqual(io.ran, [
    ["launchctl", "print", "system/local.linux-builder"],
    ["nix", "--version"],
    ["dscl", ".", "-read", "/Groups/nixbld"],
  ]);
});

test("a NixOS host: no nixbld line, no systemd, /etc/NIXOS, nix.conf a link into the store", async () => {
  const folders = await dirs("nixos");
  const store = join(root, "nixos", "store-nix.conf");
  await writeFile(store, "trusted-users = root\n");
  await symlink(store, join(folders.nixConfDir, "nix.conf"));
  const state = await readHostState(
    { kind: "linux" },
    folders,
    31022,
    fakeIo({ files: { "/etc/NIXOS": "", "/etc/group": "root:x:0:\n" } }),
  );
  assert.equal(state.nixbldGroup, false);
  assert.equal(state.daemon.kind, "none");
  assert.equal(state.manager, "nixos");
  assert.deepEqual(state.serviceManager, {
    kind: "none",
    why: "systemd does not run here: no /run/systemd/system",
  });
  assert.equal(state.nixVersion, undefined);
  assert.match(state.files[join(folders.nixConfDir, "nix.conf")]?.readOnly ?? "", /^a symlink to /);
});
