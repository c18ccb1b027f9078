import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkInstalledKey, checkStateKeys } from "../../../../src/host/doctor/keys.js";

describe("keys", () => {
  const dir = "/state/keys";

  const file = (name: string, mode: number, uid = 501) => ({ path: `${dir}/${name}`, stat: { mode, uid } });

  // stat's mode carries the file type: 0o100000 is a regular file.
  const good = {
    dir,
    privateKeys: [file("builder_ed25519", 0o100600), file("ssh_host_ed25519_key", 0o100600)],
    publicKeys: [file("builder_ed25519.pub", 0o100644), file("ssh_host_ed25519_key.pub", 0o100644)],
    uid: 501,
  };

  const publicKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb builder@linux-builder";

  const installed = {
    key: { path: "/etc/nix/builder_ed25519", stat: { mode: 0o100600, uid: 0 } },
    installedPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb other-comment\n",
    statePublicKey: `${publicKey}\n`,
  };

  test("all there, private ones 0600 and the user's", () => {
    assert.equal(checkStateKeys(good).status, "ok");
  });

  test("a private key readable by others, or someone else's, fails with the command that fixes it", () => {
    const loose = checkStateKeys({
      ...good,
      privateKeys: [file("builder_ed25519", 0o100644), file("ssh_host_ed25519_key", 0o100600, 0)],
    });
    assert.equal(loose.status, "fail");
    assert.match(loose.detail, /builder_ed25519 is mode 0644, not 0600/);
    assert.match(loose.detail, /ssh_host_ed25519_key belongs to uid 0, not you \(uid 501\)/);
    assert.match(loose.fix ?? "", /chmod 600 \/state\/keys\/builder_ed25519/);
  });

  test("none yet is a warning (start makes them); some missing fails", () => {
    const none = checkStateKeys({
      ...good,
      privateKeys: good.privateKeys.map((f) => ({ ...f, stat: undefined })),
      publicKeys: good.publicKeys.map((f) => ({ ...f, stat: undefined })),
    });
    assert.equal(none.status, "warn");
    assert.match(none.fix ?? "", /linux-builder start/);
    const some = checkStateKeys({
      ...good,
      publicKeys: [{ path: `${dir}/builder_ed25519.pub`, stat: undefined }],
    });
    assert.equal(some.status, "fail");
    assert.match(some.detail, /missing: \/state\/keys\/builder_ed25519\.pub/);
  });

  test("the installed key: there, 0600, this builder's (the comment aside)", () => {
    assert.deepEqual(checkInstalledKey(installed), {
      name: "installed key",
      status: "ok",
      detail: "/etc/nix/builder_ed25519, 0600, matches this builder's key",
    });
  });

  test("the installed key missing, loose, or another builder's", () => {
    const missing = checkInstalledKey({
      ...installed,
      key: { path: "/etc/nix/builder_ed25519", stat: undefined },
    });
    assert.equal(missing.status, "warn");
    assert.equal(missing.detail, "not installed (/etc/nix/builder_ed25519)");
    assert.equal(missing.fix, "Run `linux-builder install`.");
    const loose = checkInstalledKey({
      ...installed,
      key: { ...installed.key, stat: { mode: 0o100644, uid: 0 } },
    });
    assert.equal(loose.status, "fail");
    assert.equal(loose.fix, "sudo chmod 600 /etc/nix/builder_ed25519");
    const other = checkInstalledKey({ ...installed, installedPublicKey: "ssh-ed25519 AAAAother x\n" });
    assert.equal(other.status, "fail");
    assert.match(other.detail, /not this builder's key/);
    assert.equal(checkInstalledKey({ ...installed, installedPublicKey: undefined }).status, "warn");
    assert.equal(checkInstalledKey({ ...installed, statePublicKey: undefined }).status, "warn");
  });
});
