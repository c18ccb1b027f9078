/**
 * install / uninstall against real files in a temporary /etc/nix: golden files for what install
 * writes (existing builders, comments, !include, CRLF, no final newline, a missing file), and
 * uninstall giving back every file byte for byte, with nothing left behind.
 */
import assert from "node:assert/strict";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LinuxBuilderError } from "../../src/errors.js";
import { applyPlan, chooseDaemonRestart, readHostState } from "../../src/host/host-files.js";
import {
  controlPathFits,
  describePlan,
  type InstallRequest,
  planInstall,
  planUninstall,
  sshIncludesDir,
} from "../../src/host/install-plan.js";

const FIXTURES = join("test", "fixtures", "install");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

// Fixed keys, so the golden files are stable.
const request = (port = 31022): InstallRequest => ({
  port,
  entry: {
    system: "x86_64-linux",
    maxJobs: 2,
    speedFactor: 1,
    supportedFeatures: ["benchmark", "big-parallel"],
    hostPublicKey:
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@linux-builder",
  },
  keys: {
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n",
    publicKey:
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHaBuilderKeyForTheGoldenFilesOnlyxxxxxxxxxxxx builder@linux-builder",
  },
});

const scratch: string[] = [];
after(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** A fresh host: the fixture's files as /etc/nix, an empty ssh_config.d. */
async function host(fixture: string) {
  const root = await mkdtemp(join(tmpdir(), "lb-install-"));
  scratch.push(root);
  const dirs = { nixConfDir: join(root, "nix"), sshConfigDir: join(root, "ssh_config.d") };
  await mkdir(dirs.nixConfDir);
  await mkdir(dirs.sshConfigDir);
  for (const name of await readdir(join(FIXTURES, fixture))) {
    if (name !== "expected") await cp(join(FIXTURES, fixture, name), join(dirs.nixConfDir, name));
  }
  return dirs;
}

/** Every file under a folder with its bytes and mode: what "byte-identical" compares. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath ?? entry.path, entry.name);
    if (entry.isDirectory()) out[path.slice(dir.length)] = "folder";
    if (!entry.isFile()) continue;
    const mode = ((await import("node:fs")).statSync(path).mode & 0o7777).toString(8);
    out[path.slice(dir.length)] = `${mode} ${(await readFile(path)).toString("base64")}`;
  }
  return out;
}

async function install(dirs: { nixConfDir: string; sshConfigDir: string }, port = 31022) {
  const plan = planInstall(await readHostState(dirs, port), request(port));
  await applyPlan(plan);
  return plan;
}

async function uninstall(dirs: { nixConfDir: string; sshConfigDir: string }, port = 31022) {
  const plan = planUninstall(await readHostState(dirs, port), port, request(port).keys.publicKey);
  await applyPlan(plan);
  return plan;
}

async function expectGolden(fixture: string, dirs: { nixConfDir: string; sshConfigDir: string }) {
  const expectedDir = join(FIXTURES, fixture, "expected");
  // The temporary folder stands in for /etc/nix; the goldens say /etc/nix.
  const read = async (path: string) => (await readFile(path, "utf8")).replaceAll(dirs.nixConfDir, "/etc/nix");
  const actual = {
    "nix.conf": await read(join(dirs.nixConfDir, "nix.conf")),
    machines: await read(join(dirs.nixConfDir, "machines")),
    "linux-builder.conf": await read(join(dirs.sshConfigDir, "linux-builder.conf")),
  };
  if (UPDATE) {
    await mkdir(expectedDir, { recursive: true });
    for (const [name, text] of Object.entries(actual)) await writeFile(join(expectedDir, name), text);
  }
  for (const [name, text] of Object.entries(actual)) {
    assert.equal(text, await readFile(join(expectedDir, name), "utf8"), `${fixture}/expected/${name}`);
  }
}

for (const fixture of [
  "missing",
  "comments-include",
  "crlf",
  "existing-builders",
  "no-final-newline",
  "builders-override",
]) {
  test(`install writes the golden files, uninstall gives every byte back: ${fixture}`, async () => {
    const dirs = await host(fixture);
    const before = await snapshot(join(dirs.nixConfDir, ".."));
    const plan = await install(dirs);
    await expectGolden(fixture, dirs);
    // The key: the private half 0600, the public half beside it.
    const key = join(dirs.nixConfDir, "builder_ed25519");
    assert.equal(await readFile(key, "utf8"), request().keys.privateKey);
    assert.equal((await import("node:fs")).statSync(key).mode & 0o777, 0o600);
    assert.ok(plan.steps.some((step) => step.kind === "write" && step.path === key && step.secret));
    // The folder for ssh's reuse sockets: root's alone.
    assert.equal(
      (await import("node:fs")).statSync(join(dirs.nixConfDir, "linux-builder-ssh")).mode & 0o777,
      0o700,
    );

    // Nix splits machines files on ";" too: a comment with one would be read as a builder.
    assert.doesNotMatch(await readFile(join(dirs.nixConfDir, "machines"), "utf8"), /;/);
    // Idempotent: a second install has nothing to do.
    assert.deepEqual((await install(dirs)).steps, []);

    await uninstall(dirs);
    assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
  });
}

test("the CRLF file keeps CRLF, the file without a final newline gets it back off", async () => {
  const crlf = await readFile(join(FIXTURES, "crlf", "expected", "nix.conf"), "utf8");
  assert.ok(
    crlf
      .split("\n")
      .slice(0, -1)
      .every((line) => line.endsWith("\r")),
    "every line ends in CRLF",
  );
  const noNewline = await readFile(join(FIXTURES, "no-final-newline", "expected", "nix.conf"), "utf8");
  assert.match(
    noNewline,
    /^experimental-features = nix-command flakes\n# BEGIN linux-builder \(a final newline/,
  );
});

test("a user's builders = setting that bypasses the machines file is pointed out", async () => {
  const dirs = await host("builders-override");
  const plan = planInstall(await readHostState(dirs, 31022), request());
  assert.ok(
    plan.notes.some(
      (note) => note.includes("builders = ssh://elsewhere") && note.includes(`@${dirs.nixConfDir}/machines`),
    ),
  );
  assert.ok(
    !planInstall(await readHostState(await host("comments-include"), 31022), request()).notes.some((n) =>
      n.includes("replaces"),
    ),
  );
});

test("a Nix folder whose path the machines file cannot hold: a clear error, nothing written", async () => {
  for (const folder of ["Nix Config", "nix;conf", "nix#1"]) {
    const root = await mkdtemp(join(tmpdir(), "lb-install-"));
    scratch.push(root);
    const dirs = { nixConfDir: join(root, folder), sshConfigDir: join(root, "ssh_config.d") };
    await mkdir(dirs.nixConfDir);
    await mkdir(dirs.sshConfigDir);
    const before = await snapshot(root);
    const state = await readHostState(dirs, 31022);
    assert.throws(
      () => planInstall(state, request()),
      (error: unknown) =>
        error instanceof LinuxBuilderError &&
        error.code === "install.path" &&
        error.message.includes(join(dirs.nixConfDir, "builder_ed25519")),
    );
    assert.deepEqual(await snapshot(root), before);
  }
});

test("a read-only nix.conf: a clear error, nothing written", async () => {
  const dirs = await host("comments-include");
  await chmod(join(dirs.nixConfDir, "nix.conf"), 0o444);
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const state = await readHostState(dirs, 31022);
  assert.throws(
    () => planInstall(state, request()),
    (error: Error & { code?: string; hint?: string }) => {
      assert.equal(error.code, "install.read-only");
      assert.match(error.message, /nix\.conf \(read-only\); nothing was changed/);
      assert.match(error.hint ?? "", /builders-use-substitutes = true/);
      return true;
    },
  );
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
});

test("a nix.conf linked into the Nix store (nix-darwin, NixOS) is not ours to write", async () => {
  const dirs = await host("missing");
  const target = join(dirs.nixConfDir, "..", "store-nix.conf");
  await writeFile(target, "trusted-users = root\n");
  await symlink(target, join(dirs.nixConfDir, "nix.conf"));
  const state = await readHostState(dirs, 31022);
  assert.throws(() => planInstall(state, request()), /nix\.conf \(a symlink to .*store-nix\.conf\)/);
});

test("install keeps a key it replaces and uninstall puts it back", async () => {
  const dirs = await host("missing");
  const key = join(dirs.nixConfDir, "builder_ed25519");
  await writeFile(key, "the darwin.builder key\n", { mode: 0o600 });
  await writeFile(`${key}.pub`, "ssh-ed25519 AAAAother nixpkgs\n");
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const plan = await install(dirs);
  assert.match(
    describePlan(plan),
    /the current one is kept as .*builder_ed25519\.backup-before-linux-builder/,
  );
  assert.equal(await readFile(`${key}.backup-before-linux-builder`, "utf8"), "the darwin.builder key\n");
  await uninstall(dirs);
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
});

test("two builders side by side: each its own line, alias and key; uninstalling one keeps the other", async () => {
  const dirs = await host("existing-builders");
  const original = await snapshot(join(dirs.nixConfDir, ".."));
  await install(dirs, 31022);
  await install(dirs, 31023);
  const machines = await readFile(join(dirs.nixConfDir, "machines"), "utf8");
  assert.match(machines, /^ssh-ng:\/\/builder@linux-builder x86_64-linux .*\/builder_ed25519 2 1 /m);
  assert.match(
    machines,
    /^ssh-ng:\/\/builder@linux-builder-31023 x86_64-linux .*\/linux-builder-31023_ed25519 2 1 /m,
  );
  assert.match(await readFile(join(dirs.sshConfigDir, "linux-builder-31023.conf"), "utf8"), /Port 31023/);
  await uninstall(dirs, 31022);
  assert.match(await readFile(join(dirs.nixConfDir, "nix.conf"), "utf8"), /builders-use-substitutes = true/);
  assert.doesNotMatch(await readFile(join(dirs.nixConfDir, "machines"), "utf8"), /builder@linux-builder /);
  await uninstall(dirs, 31023);
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), original);
});

test("a change the user made after install survives uninstall", async () => {
  const dirs = await host("comments-include");
  await install(dirs);
  const conf = join(dirs.nixConfDir, "nix.conf");
  await writeFile(conf, `${await readFile(conf, "utf8")}max-jobs = 8\n`);
  const plan = await uninstall(dirs);
  const original = await readFile(join(FIXTURES, "comments-include", "nix.conf"), "utf8");
  assert.equal(await readFile(conf, "utf8"), `${original}max-jobs = 8\n`);
  assert.ok(plan.notes.some((note) => note.includes("is kept")));
});

test("a file changed between planning and applying is not overwritten, and nothing is half-done", async () => {
  const dirs = await host("comments-include");
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const plan = planInstall(await readHostState(dirs, 31022), request());
  const conf = join(dirs.nixConfDir, "nix.conf");
  await writeFile(conf, "changed meanwhile\n");
  await assert.rejects(
    applyPlan(plan),
    /nix\.conf changed while linux-builder was working; nothing more was changed/,
  );
  const now = await snapshot(join(dirs.nixConfDir, ".."));
  assert.deepEqual(Object.keys(now).sort(), Object.keys(before).sort());
  assert.equal(await readFile(conf, "utf8"), "changed meanwhile\n");
});

test("--dry-run's account: diffs of the user's files, the key never shown, the daemon restart", async () => {
  const dirs = await host("comments-include");
  const state = { ...(await readHostState(dirs, 31022)), daemon: { kind: "launchctl" } as const };
  const text = describePlan(planInstall(state, request()));
  assert.match(text, /^write: .*\/builder_ed25519 \(mode 600.*a private key, not shown\)$/m);
  assert.doesNotMatch(text, /not-a-real-key/);
  assert.match(
    text,
    /^change: .*\/nix\.conf\n {2}\(the current one is kept as .*nix\.conf\.backup-before-linux-builder\)\n {2}\+ # BEGIN linux-builder\n/m,
  );
  assert.match(text, /^ {2}\+ builders-use-substitutes = true$/m);
  assert.match(text, /^create: .*\/linux-builder\.conf$/m);
  assert.match(text, /^run: launchctl kickstart -k system\/org\.nixos\.nix-daemon/m);
});

test("the daemon restart per platform", () => {
  assert.deepEqual(
    chooseDaemonRestart({
      platform: "darwin",
      launchDaemons: ["org.nixos.nix-daemon"],
      systemd: false,
      nixDaemonUnit: false,
    }),
    { kind: "launchctl" },
  );
  const determinate = chooseDaemonRestart({
    platform: "darwin",
    launchDaemons: ["systems.determinate.nix-daemon"],
    systemd: false,
    nixDaemonUnit: false,
  });
  assert.equal(determinate.kind, "none");
  assert.match(
    determinate.kind === "none" ? determinate.why : "",
    /launchctl kickstart -k system\/systems\.determinate\.nix-daemon/,
  );
  assert.deepEqual(
    chooseDaemonRestart({ platform: "linux", launchDaemons: [], systemd: true, nixDaemonUnit: true }),
    { kind: "systemd" },
  );
  assert.equal(
    chooseDaemonRestart({ platform: "linux", launchDaemons: [], systemd: false, nixDaemonUnit: false }).kind,
    "none",
  );
});

test("ssh reads our alias only where the system ssh_config includes its folder", () => {
  const debian = "Include /etc/ssh/ssh_config.d/*.conf\nHost *\n";
  const macos = "# comment\nInclude /etc/ssh/ssh_config.d/*\n";
  assert.ok(sshIncludesDir(debian, "/etc/ssh/ssh_config.d/linux-builder.conf"));
  assert.ok(sshIncludesDir(macos, "/etc/ssh/ssh_config.d/linux-builder.conf"));
  assert.ok(!sshIncludesDir("Host *\n", "/etc/ssh/ssh_config.d/linux-builder.conf"));
  assert.ok(!sshIncludesDir(debian, "/etc/ssh/ssh_config.d/sub/linux-builder.conf"));
  assert.ok(!sshIncludesDir(undefined, "/etc/ssh/ssh_config.d/linux-builder.conf"));
});

test("ssh's reuse socket path must fit: a long folder gets no ControlMaster, and a note", async () => {
  assert.ok(controlPathFits("/etc/nix/linux-builder-ssh"));
  assert.ok(!controlPathFits(`/tmp/${"x".repeat(60)}/linux-builder-ssh`));
  const dirs = await host("missing");
  const long = { ...dirs, nixConfDir: join(dirs.nixConfDir, "x".repeat(60)) };
  await mkdir(long.nixConfDir);
  const plan = planInstall(await readHostState(long, 31022), request());
  const sshConfig = plan.steps.find(
    (step) => step.kind === "write" && step.path.endsWith("linux-builder.conf"),
  );
  assert.ok(sshConfig?.kind === "write" && !sshConfig.content.includes("ControlMaster"));
  assert.ok(!plan.steps.some((step) => step.kind === "mkdir"));
  assert.ok(plan.notes.some((note) => note.includes("too long a path")));
});
