import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const script = new URL("../../../../guest/rootfs/usr/lib/linux-builder/builder-session", import.meta.url);

/** Runs builder-session as sshd would for `command`, with the daemon's socket and nc moved into `dir`. */
async function session(dir: string, command: string, withNc: boolean): Promise<string> {
  const text = (await readFile(script, "utf8"))
    .replaceAll("/nix/var/nix/daemon-socket/socket", join(dir, "socket"))
    .replaceAll("/usr/bin/nc.openbsd", join(dir, "nc.openbsd"));
  await writeFile(join(dir, "builder-session"), text);
  const fake = (what: string) => `#!/bin/sh\necho ${what} "$@"\n`;
  await writeFile(join(dir, "shell"), fake("shell"));
  await chmod(join(dir, "shell"), 0o755);
  await rm(join(dir, "nc.openbsd"), { force: true });
  if (withNc) {
    await writeFile(join(dir, "nc.openbsd"), fake("nc"));
    await chmod(join(dir, "nc.openbsd"), 0o755);
  }
  const { stdout } = await promisify(execFile)("sh", [join(dir, "builder-session")], {
    env: { PATH: process.env.PATH, SHELL: join(dir, "shell"), SSH_ORIGINAL_COMMAND: command },
  });
  return stdout.trim();
}

test("builder-session relays ssh-ng sessions to the daemon's socket, and falls back without nc.openbsd", async () => {
  const dir = await mkdtemp(join(tmpdir(), "builder-session-"));
  const server = createServer();
  try {
    // Before the daemon listens: the real nix-daemon --stdio.
    assert.equal(await session(dir, "nix-daemon --stdio", true), "shell -c nix-daemon --stdio");
    await new Promise<void>((resolve) => server.listen(join(dir, "socket"), resolve));
    assert.equal(await session(dir, "nix-daemon --stdio", true), `nc -N -U ${join(dir, "socket")}`);
    // An image composed from a lock without netcat-openbsd: the session must still be served.
    assert.equal(await session(dir, "nix-daemon --stdio", false), "shell -c nix-daemon --stdio");
    assert.equal(await session(dir, "uname -a", true), "shell -c uname -a");
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
