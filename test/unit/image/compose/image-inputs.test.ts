import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { composerKey } from "../../../../src/image/compose/image-inputs.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

test("the composer key follows our guest files' content, executable bit and symlinks, and the architecture", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-composer-key-"));
  dirs.push(dir);
  await writeFile(join(dir, "init.sh"), "#!/bin/sh\n");
  await mkdir(join(dir, "rootfs", "etc"), { recursive: true });
  await writeFile(join(dir, "rootfs", "etc", "motd"), "hello\n");
  const keys = new Set<string>();
  const key = async () => {
    const value = await composerKey(dir, "amd64");
    assert.equal(await composerKey(dir, "amd64"), value, "the same files give the same key");
    keys.add(value);
    return value;
  };
  const first = await key();
  assert.match(first, /^[0-9a-f]{64}$/);
  assert.notEqual(await composerKey(dir, "arm64"), first);

  await writeFile(join(dir, "rootfs", "etc", "motd"), "hello!\n");
  await key();
  await chmod(join(dir, "init.sh"), 0o755);
  await key();
  await symlink("motd", join(dir, "rootfs", "etc", "issue"));
  await key();
  assert.equal(keys.size, 4, "each change makes a new key");
});
