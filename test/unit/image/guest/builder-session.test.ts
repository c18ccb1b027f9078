import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const rootfs = new URL("../../../../guest/rootfs/", import.meta.url);
const SCRIPT = "/usr/lib/linux-builder/builder-session";

/** The command sshd forces for `builder`: the rest of the ForceCommand line, as sshd takes it. */
async function forcedCommand(): Promise<string> {
  const config = await readFile(new URL("etc/ssh/sshd_config", rootfs), "utf8");
  const command = /^\s*ForceCommand\s+(.+)$/m.exec(config)?.[1];
  assert.ok(command, "sshd_config forces no command");
  return command;
}

/**
 * Runs the forced command as sshd would for `command` (the user's shell with -c, the client's
 * command in SSH_ORIGINAL_COMMAND), with the daemon's socket, nc and builder-session moved into
 * `dir`; the shell it hands commands to is a fake that says what it was asked.
 */
async function session(dir: string, command: string | undefined, withNc: boolean): Promise<string> {
  const moved = (text: string) =>
    text
      .replaceAll("/nix/var/nix/daemon-socket/socket", join(dir, "socket"))
      .replaceAll("/usr/bin/nc.openbsd", join(dir, "nc.openbsd"))
      .replaceAll(SCRIPT, join(dir, "builder-session"));
  await writeFile(join(dir, "builder-session"), moved(await readFile(new URL(`.${SCRIPT}`, rootfs), "utf8")));
  await chmod(join(dir, "builder-session"), 0o755);
  const fake = (what: string) => `#!/bin/sh\necho ${what} "$@"\n`;
  await writeFile(join(dir, "shell"), fake("shell"));
  await chmod(join(dir, "shell"), 0o755);
  await rm(join(dir, "nc.openbsd"), { force: true });
  if (withNc) {
    await writeFile(join(dir, "nc.openbsd"), fake("nc"));
    await chmod(join(dir, "nc.openbsd"), 0o755);
  }
  const { stdout } = await promisify(execFile)("sh", ["-c", moved(await forcedCommand())], {
    env: {
      PATH: process.env.PATH,
      SHELL: join(dir, "shell"),
      ...(command === undefined ? {} : { SSH_ORIGINAL_COMMAND: command }),
    },
  });
  return stdout.trim();
}

test("builder's forced command relays ssh-ng sessions to the daemon's socket, and falls back without nc.openbsd", async () => {
  const dir = await mkdtemp(join(tmpdir(), "builder-session-"));
  const server = createServer();
  try {
    // Before the daemon listens: the real nix-daemon --stdio.
    assert.equal(await session(dir, "nix-daemon --stdio", true), "shell -c nix-daemon --stdio");
    await new Promise<void>((resolve) => server.listen(join(dir, "socket"), resolve));
    assert.equal(await session(dir, "nix-daemon --stdio", true), `nc -N -U ${join(dir, "socket")}`);
    // An image composed from a lock without netcat-openbsd: the session must still be served.
    assert.equal(await session(dir, "nix-daemon --stdio", false), "shell -c nix-daemon --stdio");
    // Only that exact command goes to the socket; the rest as asked, no command a login shell.
    assert.equal(
      await session(dir, "nix-daemon --stdio --version", true),
      "shell -c nix-daemon --stdio --version",
    );
    assert.equal(await session(dir, "uname -a", true), "shell -c uname -a");
    assert.equal(await session(dir, "", true), "shell -c");
    assert.equal(await session(dir, undefined, true), "shell -l");
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
