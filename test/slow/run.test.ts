/**
 * `run` and `console` through a real pseudo-terminal, under TCG: `run` prints the Nix configuration,
 * the guest's console login shows up in the terminal, other commands see the VM running and ready,
 * and Ctrl-a c + system_powerdown (the seed's way) powers it off cleanly with QEMU's status 0 and
 * nothing left behind. Then `start` detached, `console` attaches, keys reach the guest, Ctrl-]
 * detaches leaving the VM running, `stop`. And `run` as an unprivileged user in their own terminal,
 * with the real /etc/nix and /etc/ssh: it installs through one real sudo (the user sees the sudo
 * line), boots, powers off through the monitor; `uninstall` (sudo again) leaves /etc as it was.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_SUPPORTED_FEATURES } from "../../src/config/config.js";
import { builderNames } from "../../src/nix/builders.js";
import { stateLayout } from "../../src/vm/state.js";
import { freePort, run, testHome, testImage, withTimeout } from "../support/guest-vm.js";
import { type PtySession, spawnInPty } from "../support/pty.js";
import {
  differencesForPort,
  HOST_DIRS,
  prepareUserCli,
  prepareUserHome,
  snapshotTree,
  sudoLinePattern,
  TEST_USER,
  type TreeSnapshot,
  testUserCommand,
  testUserSkip,
  type UserCli,
  type UserHome,
  undoUserTest,
  userLinuxBuilder,
} from "../support/test-user.js";

const CTRL_A = "\x01";
const CTRL_RIGHT_BRACKET = "\x1d";

describe("run and console (slow)", () => {
  let stateDir: string;
  let port: number;
  const sessions: PtySession[] = [];
  const env = () => ({ ...process.env, LINUX_BUILDER_HOME: testHome() });
  /** This test's builder: its own state and port, under TCG. */
  const flags = () => [
    ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
    ...["--cpus", "2", "--memory", "1024", "--disk", "8"],
  ];
  const cli = (command: string, ...args: string[]) =>
    run("node", ["bin/linux-builder.js", command, ...flags(), ...args], { env: env(), timeout: 900_000 });
  const status = async () => JSON.parse((await cli("status", "--json")).stdout);
  const inPty = (command: string, ...args: string[]) => {
    const session = spawnInPty(["node", "bin/linux-builder.js", command, ...flags(), ...args], {
      env: env(),
    });
    sessions.push(session);
    return session;
  };

  before(async () => {
    await testImage("amd64");
    stateDir = await mkdtemp(join(tmpdir(), "lb-run-"));
    port = await freePort();
  });

  after(async () => {
    for (const session of sessions) await session.kill();
    await cli("stop").catch(() => undefined);
    await rm(stateDir, { recursive: true, force: true });
  });

  test("run: the Nix configuration, the console in the terminal, status elsewhere, Ctrl-a c system_powerdown", {
    timeout: 20 * 60_000,
  }, async () => {
    const layout = stateLayout(stateDir);
    const notRunning = await cli("console").catch((error) => error);
    assert.equal(notRunning.code, 1);
    assert.match(notRunning.stderr, /The builder is not running/);

    // run installs first, as the seed's install-credentials: here into folders standing in for
    // /etc/nix and /etc/ssh/ssh_config.d.
    const nixConfDir = join(stateDir, "etc-nix");
    const sshConfigDir = join(stateDir, "ssh_config.d");
    await mkdir(nixConfDir);
    await mkdir(sshConfigDir);
    const session = inPty("run", "--nix-conf-dir", nixConfDir, "--ssh-config-dir", sshConfigDir);
    const { alias, keyFile } = builderNames(port);
    const machines = await session.waitFor(
      new RegExp(
        `ssh-ng://builder@${alias} x86_64-linux,aarch64-linux ${nixConfDir}/${keyFile} 2 1 ${DEFAULT_SUPPORTED_FEATURES.join(",")} - (\\S+)`,
      ),
      600_000,
    );
    assert.match(session.output(), /through this configuration \(installed;/);
    assert.ok((await readFile(join(nixConfDir, "machines"), "utf8")).includes(machines[0] ?? "-"));
    assert.equal(
      await readFile(join(nixConfDir, keyFile), "utf8"),
      await readFile(layout.builderKey, "utf8"),
    );
    // The line pins this install's host key.
    const [type, blob] = (await readFile(layout.hostPublicKey, "utf8")).split(" ");
    assert.equal(Buffer.from(machines[1] ?? "", "base64").toString(), `${type} ${blob}`);
    const banner = session.output();
    assert.match(banner, /builders-use-substitutes = true/);
    assert.match(
      banner,
      new RegExp(`Host ${alias}\\r?\\n +HostName 127\\.0\\.0\\.1\\r?\\n +Port ${port}\\r?\\n`),
    );
    assert.match(banner, /Ctrl-a c, then `system_powerdown`/);
    assert.match(
      banner,
      /`linux-builder stop --state-dir \S+` or `linux-builder ssh --state-dir \S+ shutdown now`/,
    );

    const bootStarted = Date.now();
    await session.waitFor(/linux-builder login:/, 600_000);
    const loginSeconds = (Date.now() - bootStarted) / 1000;

    // Another terminal sees it, and its console is here, not on the socket.
    const running = await status();
    assert.equal(running.running, true);
    assert.equal(running.accel, "tcg");
    const attachedElsewhere = await cli("console").catch((error) => error);
    assert.equal(attachedElsewhere.code, 1);
    assert.match(attachedElsewhere.stderr, /runs attached to the terminal of `linux-builder run`/);
    const readyBy = Date.now() + 300_000;
    while (!(await status()).ready) {
      assert.ok(Date.now() < readyBy, "not ready within 300 s of the login prompt");
      await sleep(1000);
    }

    const beforeMonitor = session.output().length;
    session.write(`${CTRL_A}c`);
    await session.waitFor(/\(qemu\)/, 30_000, beforeMonitor);
    const poweringDown = Date.now();
    session.write("system_powerdown\r");
    const exit = await withTimeout(session.exited, 120_000, "run still running 120 s after system_powerdown");
    const downSeconds = (Date.now() - poweringDown) / 1000;
    assert.equal(exit.code, 0, session.output().slice(-2000));
    assert.match(session.output(), /The builder powered off cleanly after/);
    assert.match(await readFile(layout.consoleLog, "utf8"), /linux-builder: powering off/);

    const stopped = await status();
    assert.equal(stopped.running, false);
    for (const file of [layout.pidfile, layout.qmpSocket]) assert.equal(existsSync(file), false);
    process.stderr.write(
      `# run: login prompt after ${loginSeconds.toFixed(1)} s, powered off in ${downSeconds.toFixed(1)} s\n`,
    );
  });

  test("console: attach to a started builder, keys reach the guest, Ctrl-] detaches and the VM runs on", {
    timeout: 20 * 60_000,
  }, async () => {
    assert.match((await cli("start")).stderr, /Ready in [0-9.]+ s/);

    const first = inPty("console");
    await first.waitFor(/Ctrl-\] detaches/, 60_000);
    let mark = first.output().length;
    first.write("\r");
    await first.waitFor(/builder@linux-builder:~\$ /, 60_000, mark);
    mark = first.output().length;
    first.write("uname -r\r");
    await first.waitFor(/\d+\.\d+\.\d+\+deb\d+-cloud-amd64/, 60_000, mark);
    first.write(CTRL_RIGHT_BRACKET);
    const detached = await withTimeout(first.exited, 30_000, "console still attached 30 s after Ctrl-]");
    assert.equal(detached.code, 0);
    assert.match(first.output(), /Detached from the console; the builder keeps running/);
    assert.equal((await status()).running, true);

    // QEMU takes the next client once the first left.
    const second = inPty("console");
    await second.waitFor(/Ctrl-\] detaches/, 60_000);
    mark = second.output().length;
    second.write("echo console-$((6 * 7))\r");
    await second.waitFor(/console-42/, 60_000, mark);
    second.write(CTRL_RIGHT_BRACKET);
    assert.equal((await withTimeout(second.exited, 30_000, "second console still attached")).code, 0);

    assert.match((await cli("stop")).stderr, /powered off cleanly/);
    assert.equal((await status()).running, false);
  });
});

const skipAsUser = await testUserSkip();

describe(`run as ${TEST_USER} in their terminal, installing into the real /etc through sudo (slow)`, {
  skip: skipAsUser,
}, () => {
  let cli: UserCli | undefined;
  let home: UserHome | undefined;
  let original: TreeSnapshot | undefined;
  let session: PtySession | undefined;
  let stateDir: string;
  let port: number;
  const flags = () => [
    ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
    ...["--cpus", "2", "--memory", "1024", "--disk", "8"],
  ];
  const lb = userLinuxBuilder(() => ({ cli, home }), flags);

  before(async () => {
    const image = await testImage("amd64");
    port = await freePort();
    original = await snapshotTree(HOST_DIRS);
    cli = await prepareUserCli();
    home = await prepareUserHome(image);
    stateDir = home.stateDir("state");
  });

  after(async () => {
    await session?.kill();
    await undoUserTest(lb, { original, port, home, cli });
  });

  test("run installs through sudo, boots, Ctrl-a c system_powerdown; uninstall restores /etc", {
    timeout: 20 * 60_000,
  }, async () => {
    assert.ok(cli !== undefined && home !== undefined && original !== undefined);
    // The user's own terminal: `script` runs as the user (sudo -u … env -i …), as after a login.
    const { prefix, env, cwd } = testUserCommand({ LINUX_BUILDER_HOME: home.home, TERM: "vt100" });
    const current = spawnInPty([process.execPath, cli.script, "run", ...flags()], {
      runner: prefix,
      env,
      cwd,
    });
    session = current;
    const { alias, keyFile } = builderNames(port);

    // The root half goes through one real sudo, and the user sees the command.
    // The image is in the user's home already: nothing to compose before install.
    await current.waitFor(/^Root is needed to change \/etc\/nix[,/]/m, 120_000);
    await current.waitFor(sudoLinePattern(cli.script), 60_000);
    const machines = await current.waitFor(
      new RegExp(
        `ssh-ng://builder@${alias} x86_64-linux,aarch64-linux /etc/nix/${keyFile} 2 1 ${DEFAULT_SUPPORTED_FEATURES.join(",")} - (\\S+)`,
      ),
      120_000,
    );
    assert.match(current.output(), /through this configuration \(installed;/);
    const installed = await snapshotTree(HOST_DIRS);
    const machinesFile = installed.entries.find((e) => e.path === "/etc/nix/machines");
    assert.ok(
      Buffer.from(machinesFile?.content ?? "", "base64")
        .toString()
        .includes(machines[0]),
    );
    const key = installed.entries.find((e) => e.path === `/etc/nix/${keyFile}`);
    assert.deepEqual([key?.mode, key?.uid], [0o600, 0], "the key is root's, 0600");

    await current.waitFor(/linux-builder login:/, 600_000);
    const beforeMonitor = current.output().length;
    current.write(`${CTRL_A}c`);
    await current.waitFor(/\(qemu\)/, 30_000, beforeMonitor);
    current.write("system_powerdown\r");
    const exit = await withTimeout(current.exited, 120_000, "run still running 120 s after system_powerdown");
    assert.equal(exit.code, 0, current.output().slice(-2000));
    assert.match(current.output(), /The builder powered off cleanly after/);

    // uninstall as the user: through sudo again, and /etc is exactly as it was.
    const removed = await lb("uninstall");
    assert.match(removed.stderr, sudoLinePattern(cli.script));
    assert.match(removed.stderr, /Uninstalled: the host's files are as they were/);
    assert.deepEqual(
      differencesForPort(original, await snapshotTree(HOST_DIRS), port),
      [],
      "uninstall restored /etc",
    );
  });
});
