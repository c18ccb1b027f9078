/**
 * A current Nix on the host (slow, under TCG): Debian 12's nix-bin (2.8) is the only host-side Nix
 * the other tests use, but users run 2.2x–2.3x, so this test drives the builder with trixie's nix-bin
 * (2.26: the guest's own version) from a root of its own (test/support/current-nix.ts), with its own
 * /nix, leaving the host's alone.
 *
 * The test user starts a builder, and installs it (through real sudo) into two root-owned folders
 * standing in for /etc/nix and /etc/ssh/ssh_config.d. Those folders are what the 2.26 daemon (root,
 * inside the root) sees at /etc/nix and /etc/ssh/ssh_config.d; the Nix folder is also seen at its own
 * path, because install names the key (machines line) and the ControlPath folder (ssh alias) by the
 * path it was given. So the daemon reads exactly the machines line, nix.conf block, key and ssh alias
 * install wrote: no --builders, no NIX_SSHOPTS. The test user's nix-build (2.26, unprivileged, a client
 * of that daemon) builds a two-derivation job with --max-jobs 0; both derivations must have run in the
 * guest (its kernel's release). Then uninstall leaves the two folders exactly as they were, and stop.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { builderNames } from "../../src/nix/builders.js";
import {
  type CurrentNix,
  currentNixRoot,
  currentNixUnavailable,
  type NixUser,
  startCurrentNix,
} from "../support/current-nix.js";
import { BUILT_ON_THE_GUEST_TWICE, twoStageBuild } from "../support/derivations.js";
import { freePort, testImage } from "../support/guest-vm.js";
import {
  prepareUserCli,
  prepareUserHome,
  snapshotTree,
  TEST_USER,
  type TreeSnapshot,
  testUserAccount,
  testUserSkip,
  treeDifferences,
  type UserCli,
  type UserHome,
  userLinuxBuilder,
} from "../support/test-user.js";

const unavailable = await currentNixUnavailable();
if (unavailable !== undefined && process.env.CI === "true") {
  // CI must never pass by skipping it: .ci/run installs mmdebstrap.
  throw new Error(`CI must run the current-Nix test, which ${unavailable}`);
}
const skip = unavailable ?? (await testUserSkip());
const say = (line: string) => process.stderr.write(`# current Nix: ${line}\n`);

describe(`trixie's Nix 2.26 on the host builds on the builder through what install wrote, as ${TEST_USER} (slow)`, {
  skip,
}, () => {
  let cli: UserCli | undefined;
  let home: UserHome | undefined;
  let nix: CurrentNix | undefined;
  let etc: string;
  let nixConfDir: string;
  let sshConfigDir: string;
  let stateDir: string;
  let port: number;
  let user: NixUser;
  let original: TreeSnapshot;

  /** `linux-builder COMMAND` as the test user: its home, its state, this test's port, TCG. */
  const lb = userLinuxBuilder(
    () => ({ cli, home }),
    () => [
      ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
      ...["--cpus", "2", "--memory", "1024", "--disk", "8"],
    ],
  );
  const hostDirs = () => ["--nix-conf-dir", nixConfDir, "--ssh-config-dir", sshConfigDir];

  before(async () => {
    const started = performance.now();
    const root = await currentNixRoot();
    say(
      root.builtSeconds === undefined
        ? `the trixie root was cached (${root.tarball})`
        : `made the trixie root with mmdebstrap in ${root.builtSeconds.toFixed(1)} s (cached from now on)`,
    );
    const image = await testImage("amd64");
    cli = await prepareUserCli();
    home = await prepareUserHome(image);
    stateDir = home.stateDir("state");
    port = await freePort();
    const account = await testUserAccount();
    user = { uid: account.uid, gid: account.gid };
    // Root's folders, as /etc/nix and /etc/ssh/ssh_config.d are: the user reads them, sudo writes them.
    // Short: the ControlPath folder is inside the Nix one, and a socket path has ~100 bytes.
    etc = await mkdtemp(join(tmpdir(), "lb-cn-"));
    nixConfDir = join(etc, "nix");
    sshConfigDir = join(etc, "ssh_config.d");
    await chmod(etc, 0o755);
    await mkdir(nixConfDir, { mode: 0o755 });
    await mkdir(sshConfigDir, { mode: 0o755 });
    original = await snapshotTree([nixConfDir, sshConfigDir]);
    say(`set up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    await nix?.stop().catch((error) => say(`after: stopping the daemon failed: ${error.message}`));
    if (cli !== undefined && home !== undefined) {
      await lb("uninstall", ...hostDirs()).catch((error) => say(`after: uninstall failed: ${error.message}`));
      await lb("stop").catch(() => undefined);
    }
    if (etc !== undefined) await rm(etc, { recursive: true, force: true });
    await home?.remove();
    await cli?.remove();
  });

  test("start, install, a 2.26 client and daemon build on the builder, uninstall, stop", {
    timeout: 20 * 60_000,
  }, async () => {
    const timings: string[] = [];
    const timed = async <T>(what: string, action: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await action();
      timings.push(`${what} ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return result;
    };

    const started = await timed("start", () => lb("start"));
    assert.match(started.stderr, /Ready in [0-9.]+ s \(pid \d+, tcg;/);

    const installed = await timed("install", () => lb("install", ...hostDirs()));
    assert.match(installed.stderr, /^\+ sudo --reset-timestamp \S+ \S+ apply-host-plan\b/m);
    assert.match(installed.stderr, /Installed: Nix hands Linux builds to the builder/);
    const { alias, keyFile, sshConfigFile } = builderNames(port);
    const machines = await readFile(join(nixConfDir, "machines"), "utf8");
    // The key is named by the folder install was given: the root must show it at that path too.
    assert.match(
      machines,
      new RegExp(
        `^ssh-ng://builder@${alias} x86_64-linux,aarch64-linux ${join(nixConfDir, keyFile)} \\d+ \\d+ \\S*big-parallel\\S* - \\S+$`,
        "m",
      ),
    );
    assert.match(
      await readFile(join(sshConfigDir, sshConfigFile), "utf8"),
      new RegExp(`^Host ${alias}$`, "m"),
    );

    // Started after install, as a restarted daemon would: it reads the new nix.conf and machines.
    nix = await timed("the 2.26 daemon up", () => startCurrentNix({ nixConfDir, sshConfigDir }));
    const current = nix;

    const version = await current.run(["nix", "--version"], { user });
    assert.match(version.stdout, /^nix \(Nix\) 2\.26\.\d+\n$/);
    // The client talks to the 2.26 daemon, as an untrusted user (as on a multi-user install).
    const info = await current.run(["nix", "--extra-experimental-features", "nix-command", "store", "info"], {
      user,
    });
    const infoText = info.stdout + info.stderr;
    assert.match(infoText, /^Store URL: daemon$/m);
    assert.match(infoText, /^Version: 2\.26\.\d+$/m);
    assert.match(infoText, /^Trusted: 0$/m);

    const expression = twoStageBuild("lb-current");
    const built = await timed("the build", () =>
      current
        .run(["nix-build", "--max-jobs", "0", "--no-out-link", "-E", expression], {
          user,
          timeoutMs: 600_000,
        })
        .catch((error) => {
          throw new Error(`${error.message}\n--- the 2.26 daemon's log ---\n${current.daemonLog()}`);
        }),
    );
    if (process.env.LINUX_BUILDER_TEST_VERBOSE === "1") {
      say(`nix-build's stderr:\n${built.stderr}\n--- the daemon's log ---\n${current.daemonLog()}`);
    }
    const outPath = built.stdout.trim();
    assert.match(outPath, /^\/nix\/store\/[a-z0-9]{32}-lb-current-output$/);
    for (const name of ["lb-current-input", "lb-current-output"]) {
      assert.match(
        built.stderr,
        new RegExp(`building '/nix/store/[a-z0-9]{32}-${name}\\.drv' on 'ssh-ng://builder@${alias}'`),
      );
    }
    assert.match(await readFile(current.hostPath(outPath), "utf8"), BUILT_ON_THE_GUEST_TWICE);
    assert.equal(existsSync(outPath), false, "the output is in the current Nix's store, not the host's");
    await timed("the 2.26 daemon down", () => current.stop());

    const removed = await timed("uninstall", () => lb("uninstall", ...hostDirs()));
    assert.match(removed.stderr, /Uninstalled: the host's files are as they were/);
    assert.deepEqual(
      treeDifferences(original, await snapshotTree([nixConfDir, sshConfigDir])),
      [],
      "uninstall left the two folders as they were (no ssh control socket left either)",
    );
    assert.match((await timed("stop", () => lb("stop"))).stderr, /Stopped: the guest powered off cleanly/);
    say(timings.join(", "));
  });
});
