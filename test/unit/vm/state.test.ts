import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureDisk, ensureKeys, stateLayout } from "../../../src/vm/state.js";

describe("per-install state", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "lb-state-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("keys are made once, private ones 0600, and ssh-keygen reads them", async () => {
    const layout = stateLayout(join(dir, "a"));
    const first = await ensureKeys(layout);
    assert.match(first.hostPublicKey, /^ssh-ed25519 \S+ root@linux-builder$/);
    assert.equal((await stat(layout.hostKey)).mode & 0o777, 0o600);
    assert.equal((await stat(layout.builderKey)).mode & 0o777, 0o600);
    await chmod(layout.builderKey, 0o644);
    const second = await ensureKeys(layout);
    assert.deepEqual(second, first, "the same keys on later calls");
    assert.equal((await stat(layout.builderKey)).mode & 0o777, 0o600, "a loosened key is made private again");
    const derived = execFileSync("ssh-keygen", ["-y", "-f", layout.hostKey], { encoding: "utf8" });
    assert.equal(
      derived.split(" ").slice(0, 2).join(" "),
      first.hostPublicKey.split(" ").slice(0, 2).join(" "),
    );
    // Another install gets another host key.
    assert.notEqual((await ensureKeys(stateLayout(join(dir, "b")))).hostPublicKey, first.hostPublicKey);
    assert.notEqual(await readFile(layout.hostKey, "utf8"), await readFile(layout.builderKey, "utf8"));
  });

  test("the disk is sparse, grows when raised and is never shrunk", async () => {
    const disk = join(dir, "nix.img");
    assert.deepEqual(await ensureDisk(disk, 4), { created: true });
    const info = await stat(disk);
    assert.equal(info.size, 4 * 1024 ** 3);
    assert.ok(info.blocks * 512 < 1024 * 1024, "sparse");
    assert.deepEqual(await ensureDisk(disk, 4), { created: false });
    assert.deepEqual(await ensureDisk(disk, 6), { created: false, grownFromGiB: 4 });
    assert.equal((await stat(disk)).size, 6 * 1024 ** 3);
    await assert.rejects(
      ensureDisk(disk, 5),
      /is 6 GiB; diskGiB 5 would shrink it, which loses the Nix store/,
    );
    assert.equal((await stat(disk)).size, 6 * 1024 ** 3);
  });
});
