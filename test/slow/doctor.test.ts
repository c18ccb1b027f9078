/**
 * `doctor` against a real builder, under TCG: start it through the CLI and `install` it (a temporary
 * --nix-conf-dir; the ssh alias goes where root's ssh reads it, /etc/ssh/ssh_config.d, as a file of
 * its own named by the test's port, removed afterwards). Nix then runs without a daemon here (root):
 * doctor's check build reads exactly the installed machines file and ssh alias, as the daemon would.
 *
 * - a deliberately wrong pin in the machines file: the "machines line" check fails naming the file
 *   and line, and the check build fails with ssh's host key refusal, pointed at that file;
 * - `install` again puts the pin right: every check passes, the check build runs on the guest;
 * - another key for the alias in /etc/ssh/ssh_known_hosts: a warning naming that file, and the
 *   build still works (ssh accepts the host when any entry matches: Nix's own pin does);
 * - that key @revoked there: the "known hosts" check fails naming the file, and so does the build;
 * - stopped: the builder is "not running" and no build is tried.
 *
 * Then as an unprivileged user (test/support/test-user.ts) with a Nix daemon of the test's own (its
 * own socket and Nix folder, so the host's daemon and /etc/nix stay as they are): install goes
 * through real sudo, doctor says "cannot read (root only)" for root's known_hosts instead of failing,
 * and its check build goes through the daemon, root's ssh and the installed files; a wrong pin fails
 * "machines line" naming the file, and the check build points at it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { sshIncludesDir } from "../../src/host/config-includes.js";
import type { Check } from "../../src/host/doctor/check.js";
import { installedPaths } from "../../src/host/installed-paths.js";
import { pinnedHostKey } from "../../src/nix/builders.js";
import { generateEd25519KeyPair } from "../../src/ssh/openssh-key.js";
import { stateLayout } from "../../src/vm/state.js";
import { freePort, testHome, testImage } from "../support/guest-vm.js";
import { socketAnswers } from "../support/nix-daemon.js";
import {
  prepareUserCli,
  prepareUserHome,
  TEST_USER,
  testUserSkip,
  type UserCli,
  type UserHome,
  userLinuxBuilder,
} from "../support/test-user.js";

const run = promisify(execFile);

const SSH_CONFIG_DIR = "/etc/ssh/ssh_config.d";
const GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts";

/** Root's ssh reads SSH_CONFIG_DIR: the test can put the alias where the daemon's ssh looks. */
async function canUseRootSsh(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "needs root (Nix without a daemon, root's ssh reading /etc/ssh)";
  const system = await readFile("/etc/ssh/ssh_config", "utf8").catch(() => undefined);
  if (!sshIncludesDir(system, join(SSH_CONFIG_DIR, "linux-builder-1.conf"))) {
    return `/etc/ssh/ssh_config does not include ${SSH_CONFIG_DIR}/*.conf`;
  }
  return undefined;
}

describe("doctor (slow)", () => {
  let stateDir: string;
  let nixConfDir: string;
  let port: number;
  let knownHostsBefore: string | undefined;
  const flags = () => ["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"];
  const dirs = () => ["--nix-conf-dir", nixConfDir, "--ssh-config-dir", SSH_CONFIG_DIR];
  const cli = (command: string, ...args: string[]) =>
    run("node", ["bin/linux-builder.js", command, ...flags(), ...args], {
      env: { ...process.env, LINUX_BUILDER_HOME: testHome() },
      timeout: 300_000,
    });
  /** doctor --json's checks by name (it exits 1 when one fails; the checks are on stdout either way). */
  const doctor = async (...args: string[]) => {
    const { stdout } = await cli("doctor", "--json", ...dirs(), ...args).catch(
      (error: { stdout?: string }) => ({
        stdout: error.stdout ?? "",
      }),
    );
    const report = JSON.parse(stdout) as { ok: boolean; checks: Check[] };
    return new Map(report.checks.map((c) => [c.name, c]));
  };
  const expect = (checks: Map<string, Check>, name: string, status: string, detail: RegExp) => {
    const found = checks.get(name);
    assert.equal(found?.status, status, `${name}: ${JSON.stringify(found)}`);
    assert.match(found.detail, detail, name);
  };
  /** Ends ssh's reused connection, so the next build checks the host key afresh. */
  const dropConnection = (alias: string) => run("ssh", ["-O", "exit", alias]).catch(() => undefined);

  before(async () => {
    await testImage("amd64");
    stateDir = await mkdtemp(join(tmpdir(), "lb-doctor-state-"));
    nixConfDir = await mkdtemp(join(tmpdir(), "lb-doctor-nix-"));
    port = await freePort();
    knownHostsBefore = await readFile(GLOBAL_KNOWN_HOSTS, "utf8").catch(() => undefined);
  });

  after(async () => {
    const paths = installedPaths({ nixConfDir, sshConfigDir: SSH_CONFIG_DIR }, port);
    await dropConnection(paths.alias);
    await cli("stop").catch(() => undefined);
    await cli("uninstall", ...dirs()).catch(() => undefined);
    await rm(paths.sshConfig, { force: true });
    if (knownHostsBefore === undefined) await rm(GLOBAL_KNOWN_HOSTS, { force: true });
    else await writeFile(GLOBAL_KNOWN_HOSTS, knownHostsBefore);
    await rm(stateDir, { recursive: true, force: true });
    await rm(nixConfDir, { recursive: true, force: true });
  });

  test("a wrong pin and a revoked key fail naming their files; the right install passes and builds on the guest", {
    timeout: 10 * 60_000,
  }, async (t) => {
    const cannot = await canUseRootSsh();
    if (cannot !== undefined) {
      t.skip(cannot);
      return;
    }
    await cli("start", "--cpus", "2", "--memory", "1024", "--disk", "8");
    await cli("install", ...dirs());
    const paths = installedPaths({ nixConfDir, sshConfigDir: SSH_CONFIG_DIR }, port);
    const layout = stateLayout(stateDir);
    const hostKey = (await readFile(layout.hostPublicKey, "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");

    // 1. The machines line pins another host key than the guest's.
    const { installed, wrong } = await pinAnotherHostKey(paths.machines, layout.hostPublicKey);
    const lineNumber =
      installed.split("\n").findIndex((l) => l.startsWith(`ssh-ng://builder@${paths.alias} `)) + 1;
    assert.ok(lineNumber > 0, installed);
    await dropConnection(paths.alias);
    const pinned = await doctor();
    expect(
      pinned,
      "machines line",
      "fail",
      new RegExp(
        `^line ${lineNumber} of ${paths.machines} pins a host key that is not this builder's \\(${layout.hostPublicKey}\\)`,
      ),
    );
    assert.match(pinned.get("machines line")?.fix ?? "", /Run `linux-builder install` again/);
    expect(
      pinned,
      "check build",
      "fail",
      new RegExp(
        `the key pinned in ${paths.machines} is not the one the builder has \\(.*Host key verification failed`,
      ),
    );
    assert.match(
      pinned.get("check build")?.fix ?? "",
      /^See the failing machines line check above\. Run `linux-builder install` again\.$/,
    );

    // 2. install again puts it right: everything the daemon uses checks out, and a build runs there.
    await cli("install", ...dirs());
    await dropConnection(paths.alias);
    const good = await doctor();
    expect(good, `port ${port}`, "ok", /^held by the running builder \(pid \d+\)$/);
    expect(good, "builder keys", "ok", /private keys 0600 and yours/);
    expect(good, "installed key", "ok", /matches this builder's key/);
    expect(
      good,
      "machines file",
      "ok",
      new RegExp(`^${paths.machines}: 1 builder, every line readable by Nix$`),
    );
    expect(good, "builders setting", "ok", new RegExp(`^Nix's default, @${paths.machines}$`));
    expect(good, "machines line", "ok", /pins this builder's host key$/);
    expect(
      good,
      "ssh alias",
      "ok",
      new RegExp(`^${paths.alias} → 127\\.0\\.0\\.1:${port}, HostKeyAlias ${paths.alias}, user builder`),
    );
    expect(good, "builder", "ok", /^running \(pid \d+, tcg, 127\.0\.0\.1:\d+\), ready$/);
    expect(good, "qemu", "ok", /^qemu-system-x86_64 \d+\.\d+/);
    expect(
      good,
      "check build",
      "ok",
      /^built on the builder \(kernel 6\.\d+\.\d+\+deb\d+-cloud-amd64\) in [0-9.]+ s$/,
    );
    assert.ok(["ok", "warn"].includes(good.get("accelerator")?.status ?? ""));
    assert.ok(["ok", "warn"].includes(good.get("known hosts")?.status ?? ""));

    // 3. Another key for the alias in the global known_hosts: named, and harmless to Nix's builds.
    const base = knownHostsBefore === undefined ? "" : `${knownHostsBefore.replace(/\n?$/, "\n")}`;
    await writeFile(GLOBAL_KNOWN_HOSTS, `${base}${paths.alias} ${wrong}\n`);
    await dropConnection(paths.alias);
    const stale = await doctor();
    expect(
      stale,
      "known hosts",
      "warn",
      new RegExp(`${GLOBAL_KNOWN_HOSTS} line \\d+ holds another key for ${paths.alias}`),
    );
    assert.match(
      stale.get("known hosts")?.fix ?? "",
      new RegExp(`ssh-keygen -R '${paths.alias}' -f ${GLOBAL_KNOWN_HOSTS}`),
    );
    expect(stale, "check build", "ok", /^built on the builder/);

    // 4. The guest's key @revoked there: ssh refuses it whatever Nix pins.
    await writeFile(GLOBAL_KNOWN_HOSTS, `${base}@revoked ${paths.alias} ${hostKey}\n`);
    await dropConnection(paths.alias);
    const revoked = await doctor();
    expect(
      revoked,
      "known hosts",
      "fail",
      new RegExp(`^${GLOBAL_KNOWN_HOSTS} line \\d+ marks the builder's host key @revoked`),
    );
    expect(revoked, "check build", "fail", /@revoked/);
    if (knownHostsBefore === undefined) await rm(GLOBAL_KNOWN_HOSTS, { force: true });
    else await writeFile(GLOBAL_KNOWN_HOSTS, knownHostsBefore);

    // 5. Stopped: not running, no build tried.
    await dropConnection(paths.alias);
    await cli("stop");
    const stopped = await doctor("--no-build");
    expect(stopped, "builder", "warn", /^not running$/);
    assert.equal(stopped.has("check build"), false);
    expect(stopped, `port ${port}`, "ok", /^free on 127\.0\.0\.1$/);
  });
});

/**
 * Makes the machines file pin another host key than the guest's (what a stale install leaves).
 * Returns the file as install wrote it and the other key ("type blob").
 */
async function pinAnotherHostKey(machines: string, hostPublicKeyFile: string) {
  const installed = await readFile(machines, "utf8");
  const ours = await readFile(hostPublicKeyFile, "utf8");
  const wrong = generateEd25519KeyPair("root@elsewhere").publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
  await writeFile(machines, installed.replace(pinnedHostKey(ours), pinnedHostKey(wrong)));
  return { installed, wrong };
}

const userSkip = await testUserSkip();
const rootSshSkip = await canUseRootSsh();

describe(`doctor as ${TEST_USER}, through a Nix daemon (slow)`, {
  skip: userSkip || rootSshSkip || false,
}, () => {
  let cli: UserCli | undefined;
  let home: UserHome | undefined;
  let daemon: ChildProcess | undefined;
  let daemonLog = "";
  let stateDir: string;
  let nixConfDir: string;
  let socketDir: string;
  let port: number;
  const socket = () => join(socketDir, "socket");
  /** `linux-builder COMMAND` as the test user, its Nix going through the test's daemon. */
  const lb = userLinuxBuilder(
    () => ({ cli, home }),
    (command) => [
      ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
      ...(["install", "uninstall", "doctor"].includes(command)
        ? ["--nix-conf-dir", nixConfDir, "--ssh-config-dir", SSH_CONFIG_DIR]
        : []),
    ],
    { env: () => ({ NIX_REMOTE: "daemon", NIX_DAEMON_SOCKET_PATH: socket() }), timeout: 600_000 },
  );
  const doctor = async () => {
    const { stdout } = await lb("doctor", "--json").catch((error: { stdout?: string }) => ({
      stdout: error.stdout ?? "",
    }));
    return new Map((JSON.parse(stdout) as { checks: Check[] }).checks.map((c) => [c.name, c]));
  };
  const expect = (checks: Map<string, Check>, name: string, status: string, detail: RegExp) => {
    const found = checks.get(name);
    assert.equal(found?.status, status, `${name}: ${JSON.stringify(found)}`);
    assert.match(found.detail, detail, name);
  };

  before(async () => {
    const image = await testImage("amd64");
    port = await freePort();
    cli = await prepareUserCli();
    home = await prepareUserHome(image);
    stateDir = home.stateDir("state");
    // Folders the user can read, as /etc/nix is.
    nixConfDir = await mkdtemp(join(tmpdir(), "lb-doctor-daemon-nix-"));
    socketDir = await mkdtemp(join(tmpdir(), "lb-doctor-daemon-socket-"));
    await chmod(nixConfDir, 0o755);
    await chmod(socketDir, 0o755);
    // The daemon as root, reading this Nix folder (its machines file at each build).
    daemon = spawn("nix-daemon", [], {
      env: { ...process.env, NIX_CONF_DIR: nixConfDir, NIX_DAEMON_SOCKET_PATH: socket() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const collect = (chunk: Buffer) => {
      daemonLog += chunk.toString("utf8");
    };
    daemon.stdout?.on("data", collect);
    daemon.stderr?.on("data", collect);
    for (let i = 0; i < 100 && !(await socketAnswers(socket())); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(await socketAnswers(socket()), `the test's nix-daemon does not answer: ${daemonLog}`);
  });

  after(async () => {
    const paths = installedPaths({ nixConfDir, sshConfigDir: SSH_CONFIG_DIR }, port);
    await run("ssh", ["-O", "exit", paths.alias]).catch(() => undefined);
    await lb("stop").catch(() => undefined);
    await lb("uninstall").catch(() => undefined);
    await rm(paths.sshConfig, { force: true });
    if (daemon !== undefined && daemon.exitCode === null) {
      const exited = new Promise((resolve) => daemon?.once("exit", resolve));
      daemon.kill("SIGTERM");
      await exited;
    }
    await rm(nixConfDir, { recursive: true, force: true });
    await rm(socketDir, { recursive: true, force: true });
    await home?.remove();
    await cli?.remove();
  });

  test("root-only files are said, not failed; the daemon's build passes, and fails on a wrong pin naming the machines file", {
    timeout: 10 * 60_000,
  }, async () => {
    await lb("start", "--cpus", "2", "--memory", "1024", "--disk", "8");
    await lb("install");
    const paths = installedPaths({ nixConfDir, sshConfigDir: SSH_CONFIG_DIR }, port);

    const good = await doctor();
    expect(
      good,
      "trusted user",
      "warn",
      /is not a trusted Nix user .* Builds still reach the builder through the daemon's own builders/,
    );
    expect(good, "installed key", "ok", /0600, matches this builder's key/);
    expect(good, "machines line", "ok", /pins this builder's host key$/);
    expect(good, "ssh alias", "ok", new RegExp(`^${paths.alias} → 127\\.0\\.0\\.1:${port}`));
    expect(
      good,
      "known hosts",
      "ok",
      /\/root\/\.ssh\/known_hosts(, \/root\/\.ssh\/known_hosts2)?: cannot read \(root only\)/,
    );
    expect(
      good,
      "check build",
      "ok",
      /^built on the builder \(kernel 6\.\d+\.\d+\+deb\d+-cloud-amd64\) in [0-9.]+ s$/,
    );

    // A wrong pin: the daemon's ssh refuses the builder; its message goes to the daemon's log.
    await pinAnotherHostKey(paths.machines, stateLayout(stateDir).hostPublicKey);
    await run("ssh", ["-O", "exit", paths.alias]).catch(() => undefined);
    const pinned = await doctor();
    expect(
      pinned,
      "machines line",
      "fail",
      new RegExp(`of ${paths.machines} pins a host key that is not this builder's`),
    );
    expect(pinned, "check build", "fail", new RegExp(`Nix could not connect to builder@${paths.alias}`));
    assert.equal(
      pinned.get("check build")?.fix,
      "See the failing machines line check above: it names the file to fix.",
    );
    assert.match(daemonLog, /Host key verification failed/);
  });
});
