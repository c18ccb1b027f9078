/**
 * install on the real host, the way a user lives it (slow, under TCG): an unprivileged account
 * (test/support/test-user.ts) starts its builder, runs `install` with the default /etc/nix and
 * /etc/ssh/ssh_config.d, which goes through one real `sudo --reset-timestamp … apply-host-plan`;
 * the host's Nix daemon (restarted, as install says) builds a two-derivation job for that user with
 * --max-jobs 0 through exactly the files install wrote (no --builders, no NIX_SSHOPTS: root's ssh
 * reads /etc/ssh/ssh_config, which includes ssh_config.d); the outputs prove they ran in the guest;
 * `install` again changes nothing; `uninstall` (through sudo again) leaves /etc/nix and /etc/ssh
 * byte for byte, mode for mode, owner for owner as they were (and /etc/nix absent if it was).
 * Whatever fails, `after` uninstalls, stops the builder and the daemon, and puts /etc back.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DEFAULT_SUPPORTED_FEATURES } from "../../src/config/config.js";
import { builderNames } from "../../src/nix/builders.js";
import { BUILT_ON_THE_GUEST_TWICE, twoStageBuild } from "../support/derivations.js";
import { freePort, testImage } from "../support/guest-vm.js";
import { type NixDaemon, nixDaemonBusy, startNixDaemon } from "../support/nix-daemon.js";
import {
  asTestUser,
  differencesForPort,
  HOST_DIRS,
  prepareUserCli,
  prepareUserHome,
  snapshotTree,
  sudoLinePattern,
  TEST_USER,
  type TreeEntry,
  type TreeSnapshot,
  testUserSkip,
  type UserCli,
  type UserHome,
  undoUserTest,
  userLinuxBuilder,
} from "../support/test-user.js";

// Another daemon (the system's) would be restarted under its owner's feet: skipped, except under CI.
const skip = (await testUserSkip()) || (process.env.CI === "true" ? false : await nixDaemonBusy());

describe(`install on the real /etc as ${TEST_USER}, through real sudo (slow)`, { skip }, () => {
  let cli: UserCli | undefined;
  let home: UserHome | undefined;
  let daemon: NixDaemon | undefined;
  let original: TreeSnapshot | undefined;
  let stateDir: string;
  let port: number;
  const names = () => builderNames(port);
  /** `linux-builder COMMAND` as the test user: its home, its state, this test's port, TCG. */
  const lb = userLinuxBuilder(
    () => ({ cli, home }),
    () => [
      ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
      ...["--cpus", "2", "--memory", "1024", "--disk", "8"],
    ],
  );
  const entry = (snapshot: TreeSnapshot, path: string): TreeEntry | undefined =>
    snapshot.entries.find((e) => e.path === path);
  const text = (e: TreeEntry | undefined) => Buffer.from(e?.content ?? "", "base64").toString("utf8");

  before(async () => {
    const image = await testImage("amd64");
    port = await freePort();
    original = await snapshotTree(HOST_DIRS);
    cli = await prepareUserCli();
    home = await prepareUserHome(image);
    stateDir = home.stateDir("state");
    daemon = await startNixDaemon();
  });

  after(async () => {
    await undoUserTest(lb, { original, port, home, cli });
    await daemon?.stop();
  });

  test("start, install through sudo, a Nix build on the builder, install again, uninstall, stop", {
    timeout: 30 * 60_000,
  }, async () => {
    assert.ok(original !== undefined && cli !== undefined && daemon !== undefined);
    const started = await lb("start");
    assert.match(started.stderr, /Ready in [0-9.]+ s \(pid \d+, tcg;/);
    assert.doesNotMatch(started.stderr, /compos/i, "the user's home already holds the tests' image");

    // install: the user's half plans, one real sudo applies it as root.
    const installed = await lb("install");
    const { alias, keyFile, sshConfigFile } = names();
    assert.match(installed.stderr, sudoLinePattern(cli.script));
    assert.match(installed.stderr, /^Root is needed to change \/etc\/nix[,/]/m);
    assert.match(installed.stderr, /Installed: Nix hands Linux builds to the builder/);
    // Without systemd (here) install says to restart the daemon; with a nix-daemon unit it restarts it.
    assert.match(installed.stderr, /note: Restart the Nix daemon yourself|ran systemctl restart nix-daemon/);

    // What is on the host now, as root sees it: root's files, the key root-only.
    const now = await snapshotTree(HOST_DIRS);
    const nixDir = entry(now, "/etc/nix");
    assert.deepEqual([nixDir?.type, nixDir?.uid, nixDir?.gid], ["dir", 0, 0]);
    if (!original.roots.find((r) => r.path === "/etc/nix")?.exists) assert.equal(nixDir?.mode, 0o755);
    const key = entry(now, `/etc/nix/${keyFile}`);
    assert.deepEqual([key?.mode, key?.uid], [0o600, 0], "the key is root's, 0600");
    const publicKey = entry(now, `/etc/nix/${keyFile}.pub`);
    assert.deepEqual([publicKey?.mode, publicKey?.uid], [0o644, 0]);
    const controlDir = entry(now, "/etc/nix/linux-builder-ssh");
    assert.deepEqual([controlDir?.type, controlDir?.mode, controlDir?.uid], ["dir", 0o700, 0]);
    assert.match(
      text(entry(now, "/etc/nix/machines")),
      new RegExp(
        `^ssh-ng://builder@${alias} x86_64-linux,aarch64-linux /etc/nix/${keyFile} 2 1 ${DEFAULT_SUPPORTED_FEATURES.join(",")} - \\S+$`,
        "m",
      ),
    );
    assert.match(text(entry(now, "/etc/nix/nix.conf")), /^builders-use-substitutes = true$/m);
    const sshConfig = entry(now, `/etc/ssh/ssh_config.d/${sshConfigFile}`);
    assert.deepEqual([sshConfig?.mode, sshConfig?.uid], [0o644, 0]);
    assert.match(
      text(sshConfig),
      new RegExp(`^Host ${alias}\\n  HostName 127\\.0\\.0\\.1\\n  Port ${port}\\n`, "m"),
    );

    // No systemd here: install said to restart the daemon; it reads nix.conf when it starts.
    await daemon.restart();

    const expression = twoStageBuild("lb-host");
    const buildStarted = Date.now();
    const built = await asTestUser(["nix-build", "--max-jobs", "0", "--no-out-link", "-E", expression], {
      timeout: 600_000,
    });
    const buildSeconds = (Date.now() - buildStarted) / 1000;
    const outPath = built.stdout.trim();
    assert.match(outPath, /^\/nix\/store\/[a-z0-9]{32}-lb-host-output$/);
    for (const name of ["lb-host-input", "lb-host-output"]) {
      assert.match(
        built.stderr,
        new RegExp(`building '/nix/store/[a-z0-9]{32}-${name}\\.drv' on 'ssh-ng://builder@${alias}'`),
      );
    }
    const output = await asTestUser(["cat", outPath]);
    assert.match(output.stdout, BUILT_ON_THE_GUEST_TWICE);

    // install again: everything is in place, so no sudo at all. (Compared with /etc after the
    // build: ssh's connection-reuse socket is in linux-builder-ssh/ now.)
    const afterBuild = await snapshotTree(HOST_DIRS);
    const again = await lb("install");
    assert.match(again.stdout, /Nothing to change/);
    assert.doesNotMatch(again.stderr, /sudo/);
    assert.deepEqual(
      differencesForPort(afterBuild, await snapshotTree(HOST_DIRS), port),
      [],
      "install again changed nothing",
    );

    // uninstall: through sudo again, and /etc is exactly as it was before install.
    const removed = await lb("uninstall");
    assert.match(removed.stderr, sudoLinePattern(cli.script));
    assert.match(removed.stderr, /Uninstalled: the host's files are as they were/);
    assert.deepEqual(
      differencesForPort(original, await snapshotTree(HOST_DIRS), port),
      [],
      "uninstall restored /etc",
    );
    assert.match((await lb("uninstall")).stdout, /Nothing to change/);

    assert.match((await lb("stop")).stderr, /Stopped: the guest powered off cleanly/);
    process.stderr.write(`# host install: the two-derivation build took ${buildSeconds.toFixed(1)} s\n`);
  });
});
