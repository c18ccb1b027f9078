/**
 * install / uninstall against real files in a temporary /etc/nix: golden files for what install
 * writes (existing builders, comments, !include, CRLF, no final newline, a missing file), and
 * uninstall giving back every file byte for byte, with nothing left behind.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { LinuxBuilderError } from "../../../src/errors.js";
import { applyPlan } from "../../../src/host/apply-plan.js";
import { currentHost } from "../../../src/host/host.js";
import { type HostState, readHostState } from "../../../src/host/host-state.js";
import { type InstallRequest, planInstall, planUninstall } from "../../../src/host/install-plan.js";
import { controlPathFits } from "../../../src/host/installed-paths.js";
import { describePlan } from "../../../src/host/plan-description.js";
import { chooseLaunchdRestart } from "../../../src/host/platform/darwin.js";

/** The files are this user's, in temporary folders; the host is the one the tests run on. */
const HOST = currentHost();

const run = promisify(execFile);
const FIXTURES = join("test", "fixtures", "install");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

// Fixed keys, so the golden files are stable.
const request = (port = 31022): InstallRequest => ({
  port,
  entry: {
    systems: ["x86_64-linux"],
    maxJobs: 2,
    speedFactor: 1,
    supportedFeatures: ["benchmark", "big-parallel"],
    hostPublicKey:
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@linux-builder",
  },
  // Another port is another builder (another state folder), with its own key.
  keys: {
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key${port === 31022 ? "" : ` ${port}`}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKey: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHaBuilderKeyForTheGoldenFilesOnlyxxxxxxxxxxxx${port === 31022 ? "" : port} builder@linux-builder`,
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
  const dirs = {
    nixConfDir: join(root, "nix"),
    sshConfigDir: join(root, "ssh_config.d"),
    serviceDir: join(root, "services"),
  };
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
  const plan = planInstall(await readHostState(HOST, dirs, port), request(port));
  await applyPlan(HOST, plan);
  return plan;
}

async function uninstall(dirs: { nixConfDir: string; sshConfigDir: string }, port = 31022) {
  const plan = planUninstall(await readHostState(HOST, dirs, port), port, request(port).keys.publicKey);
  await applyPlan(HOST, plan);
  return plan;
}

async function expectGolden(fixture: string, dirs: { nixConfDir: string; sshConfigDir: string }) {
  const expectedDir = join(FIXTURES, fixture, "expected");
  // The temporary folder stands in for /etc/nix; the goldens say /etc/nix.
  const read = async (path: string) => (await readFile(path, "utf8")).replaceAll(dirs.nixConfDir, "/etc/nix");
  const custom = join(dirs.nixConfDir, "nix.custom.conf");
  const actual: Record<string, string> = {
    "nix.conf": await read(join(dirs.nixConfDir, "nix.conf")),
    machines: await read(join(dirs.nixConfDir, "machines")),
    "linux-builder.conf": await read(join(dirs.sshConfigDir, "linux-builder.conf")),
    ...(existsSync(custom) ? { "nix.custom.conf": await read(custom) } : {}),
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
  "determinate",
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

test("a user's builders = setting that bypasses the machines file: refused, naming the file and line", async () => {
  const dirs = await host("builders-override");
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const state = await readHostState(HOST, dirs, 31022);
  assert.throws(
    () => planInstall(state, request()),
    (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "install.builders-override");
      assert.match(
        error.message,
        /nix\.conf line 1, `builders = ssh:\/\/elsewhere x86_64-linux`, replaces Nix's default builders \(@.*\/machines\).*nothing was changed/,
      );
      assert.match(error.hint ?? "", /builders = @.*\/machines ; ssh:\/\/elsewhere x86_64-linux/);
      return true;
    },
  );
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
  // One that names our machines file is fine.
  await writeFile(
    join(dirs.nixConfDir, "nix.conf"),
    `builders = @${dirs.nixConfDir}/machines;ssh://elsewhere\n`,
  );
  assert.ok(planInstall(await readHostState(HOST, dirs, 31022), request()).steps.length > 0);
  // As Nix reads it: the last setting wins, and an included file counts.
  await writeFile(
    join(dirs.nixConfDir, "nix.conf"),
    `builders = ssh://old\nbuilders = @${dirs.nixConfDir}/machines\n`,
  );
  assert.ok(planInstall(await readHostState(HOST, dirs, 31022), request()).steps.length > 0);
  await writeFile(join(dirs.nixConfDir, "nix.conf"), "!include nix.custom.conf\n");
  await writeFile(join(dirs.nixConfDir, "nix.custom.conf"), "builders =\n");
  const included = await readHostState(HOST, dirs, 31022);
  assert.throws(() => planInstall(included, request()), /nix\.custom\.conf line 1, `builders = `/);
});

test("a block whose END line the user deleted: install refuses rather than add a second one", async () => {
  const dirs = await host("comments-include");
  const machines = join(dirs.nixConfDir, "machines");
  await install(dirs);
  const broken = (await readFile(machines, "utf8")).replace("# END linux-builder\n", "user's line\n");
  await writeFile(machines, broken);
  const state = await readHostState(HOST, dirs, 31022);
  const changed = { ...request(), entry: { ...request().entry, maxJobs: 9 } };
  assert.throws(
    () => planInstall(state, changed),
    (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "install.damaged-block");
      assert.match(error.message, /machines has a linux-builder block without its END line/);
      return true;
    },
  );
  assert.equal(await readFile(machines, "utf8"), broken);
});

test("a Nix folder whose path the machines file cannot hold: a clear error, nothing written", async () => {
  for (const folder of ["Nix Config", "nix;conf", "nix#1"]) {
    const root = await mkdtemp(join(tmpdir(), "lb-install-"));
    scratch.push(root);
    const dirs = {
      nixConfDir: join(root, folder),
      sshConfigDir: join(root, "ssh_config.d"),
      serviceDir: join(root, "services"),
    };
    await mkdir(dirs.nixConfDir);
    await mkdir(dirs.sshConfigDir);
    const before = await snapshot(root);
    const state = await readHostState(HOST, dirs, 31022);
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
  const state = await readHostState(HOST, dirs, 31022);
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
  const state = await readHostState(HOST, dirs, 31022);
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

test("a change the user made after install survives uninstall, and no backup is left", async () => {
  const dirs = await host("comments-include");
  await install(dirs);
  const conf = join(dirs.nixConfDir, "nix.conf");
  await writeFile(conf, `${await readFile(conf, "utf8")}max-jobs = 8\n`);
  await uninstall(dirs);
  const original = await readFile(join(FIXTURES, "comments-include", "nix.conf"), "utf8");
  assert.equal(await readFile(conf, "utf8"), `${original}max-jobs = 8\n`);
  assert.deepEqual(
    (await readdir(dirs.nixConfDir)).filter((name) => name.includes("backup")),
    [],
  );
});

test("a block the user broke (its END line deleted) is left alone, with the backup and a note", async () => {
  const dirs = await host("comments-include");
  await install(dirs);
  const conf = join(dirs.nixConfDir, "nix.conf");
  const broken = (await readFile(conf, "utf8")).replace("# END linux-builder\n", "");
  await writeFile(conf, broken);
  await uninstall(dirs);
  assert.equal(await readFile(conf, "utf8"), broken);
  assert.equal(
    await readFile(`${conf}.backup-before-linux-builder`, "utf8"),
    await readFile(join(FIXTURES, "comments-include", "nix.conf"), "utf8"),
  );
});

test("a file changed between planning and applying is not overwritten, and nothing is half-done", async () => {
  const dirs = await host("comments-include");
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const plan = planInstall(await readHostState(HOST, dirs, 31022), request());
  const conf = join(dirs.nixConfDir, "nix.conf");
  await writeFile(conf, "changed meanwhile\n");
  await assert.rejects(
    applyPlan(HOST, plan),
    /nix\.conf changed since linux-builder looked at it; nothing was changed/,
  );
  const now = await snapshot(join(dirs.nixConfDir, ".."));
  assert.deepEqual(Object.keys(now).sort(), Object.keys(before).sort());
  assert.equal(await readFile(conf, "utf8"), "changed meanwhile\n");
});

test("--dry-run's account: diffs of the user's files, the key never shown, the daemon restart", async () => {
  const dirs = await host("comments-include");
  const state = {
    ...(await readHostState(HOST, dirs, 31022)),
    daemon: chooseLaunchdRestart(["org.nixos.nix-daemon"]),
  };
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

test("ssh's reuse socket path must fit: a long folder gets no ControlMaster, and a note", async () => {
  assert.ok(controlPathFits("/etc/nix/linux-builder-ssh"));
  assert.ok(!controlPathFits(`/tmp/${"x".repeat(60)}/linux-builder-ssh`));
  const dirs = await host("missing");
  const long = { ...dirs, nixConfDir: join(dirs.nixConfDir, "x".repeat(60)) };
  await mkdir(long.nixConfDir);
  const plan = planInstall(await readHostState(HOST, long, 31022), request());
  const sshConfig = plan.steps.find(
    (step) => step.kind === "write" && step.path.endsWith("linux-builder.conf"),
  );
  assert.ok(sshConfig?.kind === "write" && !sshConfig.content.includes("ControlMaster"));
  assert.ok(!plan.steps.some((step) => step.kind === "mkdir"));
  assert.ok(plan.notes.some((note) => note.includes("too long a path")));
});

test("a missing /etc/nix (and ssh_config.d) is made, 0755, and uninstall removes it again", async () => {
  const root = await mkdtemp(join(tmpdir(), "lb-"));
  scratch.push(root);
  const dirs = {
    nixConfDir: join(root, "etc", "nix"),
    sshConfigDir: join(root, "etc", "ssh_config.d"),
    serviceDir: join(root, "services"),
  };
  await mkdir(join(root, "etc"));
  const before = await snapshot(root);
  const plan = await install(dirs);
  assert.match(describePlan(plan), /^create folder: .*\/etc\/nix \(mode 755\)$/m);
  const { statSync } = await import("node:fs");
  assert.equal(statSync(dirs.nixConfDir).mode & 0o777, 0o755);
  assert.equal(statSync(dirs.sshConfigDir).mode & 0o777, 0o755);
  assert.equal(statSync(join(dirs.nixConfDir, "linux-builder-ssh")).mode & 0o777, 0o700);
  assert.match(await readFile(join(dirs.nixConfDir, "nix.conf"), "utf8"), /builders-use-substitutes = true/);
  await uninstall(dirs);
  assert.deepEqual(await snapshot(root), before);
});

test("a folder install made that the user has since put a file in stays, without our marker", async () => {
  const root = await mkdtemp(join(tmpdir(), "lb-install-"));
  scratch.push(root);
  const dirs = {
    nixConfDir: join(root, "nix"),
    sshConfigDir: join(root, "ssh_config.d"),
    serviceDir: join(root, "services"),
  };
  await install(dirs);
  await writeFile(join(dirs.nixConfDir, "registry.json"), "{}\n");
  await uninstall(dirs);
  assert.deepEqual(await readdir(dirs.nixConfDir), ["registry.json"]);
  assert.deepEqual(await readdir(root), ["nix"]);
});

test("install with another port moves this builder: one uninstall removes it all", async () => {
  const dirs = await host("comments-include");
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  await install(dirs, 31022);
  // The same state folder (the same key), its port changed.
  const moved = { ...request(31022), port: 31030 };
  const plan = planInstall(await readHostState(HOST, dirs, 31030), moved);
  assert.ok(plan.steps.some((step) => step.kind === "remove" && step.path.endsWith("/builder_ed25519")));
  await applyPlan(HOST, plan);
  const machines = await readFile(join(dirs.nixConfDir, "machines"), "utf8");
  assert.doesNotMatch(machines, /builder@linux-builder /);
  assert.match(machines, /builder@linux-builder-31030 /);
  assert.deepEqual(await readdir(dirs.sshConfigDir), ["linux-builder-31030.conf"]);
  await applyPlan(HOST, planUninstall(await readHostState(HOST, dirs, 31030), 31030, moved.keys.publicKey));
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
});

test("Determinate Nix: our settings go to nix.custom.conf; its own nix.conf is never touched", async () => {
  const dirs = await host("determinate");
  const nixConf = await readFile(join(dirs.nixConfDir, "nix.conf"), "utf8");
  const plan = await install(dirs);
  assert.ok(!plan.steps.some((step) => "path" in step && step.path.endsWith("/nix.conf")));
  assert.equal(await readFile(join(dirs.nixConfDir, "nix.conf"), "utf8"), nixConf);
  assert.match(
    await readFile(join(dirs.nixConfDir, "nix.custom.conf"), "utf8"),
    /builders-use-substitutes = true/,
  );
});

test("Determinate installed after us: the block moves from nix.conf to nix.custom.conf", async () => {
  const dirs = await host("comments-include");
  await install(dirs);
  const conf = join(dirs.nixConfDir, "nix.conf");
  await writeFile(conf, `${await readFile(conf, "utf8")}!include nix.custom.conf\n`);
  await install(dirs);
  assert.doesNotMatch(await readFile(conf, "utf8"), /BEGIN linux-builder/);
  assert.match(await readFile(join(dirs.nixConfDir, "nix.custom.conf"), "utf8"), /BEGIN linux-builder/);
  await uninstall(dirs);
  assert.ok(!existsSync(join(dirs.nixConfDir, "nix.custom.conf")));
});

for (const manager of ["nix-darwin", "nixos"] as const) {
  test(`files linked by ${manager}: refused, with the exact configuration to add instead (golden)`, async () => {
    // The host as readHostState sees a nix-darwin or NixOS one: nix.conf a link into the store.
    const state: HostState = {
      nixConfDir: "/etc/nix",
      sshConfigDir: "/etc/ssh/ssh_config.d",
      files: {
        "/etc/nix/nix.conf": {
          exists: true,
          content: "trusted-users = root\n",
          readOnly: "a symlink to /nix/store/6xq3h4hx6wqk9gsm1y0qdzv4r8r0b4m2-nix.conf",
        },
      },
      folders: { "/etc/nix": ["nix.conf"], "/etc/ssh/ssh_config.d": [] },
      nixbldGroup: true,
      daemon: chooseLaunchdRestart(["org.nixos.nix-daemon"]),
      systemSshConfig: "Include /etc/ssh/ssh_config.d/*\n",
      manager,
      serviceManager: { kind: "none", why: "not this test's concern" },
      services: {},
    };
    const stateKeyFile = "/Users/alice/Library/Application Support/linux-builder/state/keys/builder_ed25519";
    const error = (() => {
      try {
        planInstall(state, { ...request(), stateKeyFile });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof LinuxBuilderError);
    assert.equal(error.code, "install.read-only");
    const text = `${error.message}\n${error.hint}\n`;
    const golden = join(FIXTURES, "managed", `${manager}.txt`);
    if (UPDATE) {
      await mkdir(join(FIXTURES, "managed"), { recursive: true });
      await writeFile(golden, text);
    }
    assert.equal(text, readFileSync(golden, "utf8"));
  });
}

test("a machines line Nix cannot read: refused, naming the file and line, nothing written", async () => {
  const dirs = await host("comments-include");
  await writeFile(
    join(dirs.nixConfDir, "machines"),
    "ssh://ok x86_64-linux\nssh://mac x86_64-linux /Users/me/My Key 4 1\n",
  );
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const state = await readHostState(HOST, dirs, 31022);
  assert.throws(
    () => planInstall(state, request()),
    (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "install.machines-line");
      assert.match(
        error.message,
        /machines line 2, `ssh:\/\/mac x86_64-linux \/Users\/me\/My Key 4 1`, is one Nix cannot read \(field 4/,
      );
      return true;
    },
  );
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
});

test("install, install again with other settings, uninstall: nothing left (no empty machines, no backup)", async () => {
  for (const fixture of ["missing", "comments-include", "existing-builders"]) {
    const dirs = await host(fixture);
    const before = await snapshot(join(dirs.nixConfDir, ".."));
    await install(dirs);
    const changed = { ...request(), entry: { ...request().entry, maxJobs: 7, supportedFeatures: ["kvm"] } };
    const plan = planInstall(await readHostState(HOST, dirs, 31022), changed);
    assert.ok(!plan.steps.some((step) => step.kind === "write" && step.backup !== undefined), fixture);
    await applyPlan(HOST, plan);
    assert.match(await readFile(join(dirs.nixConfDir, "machines"), "utf8"), / 7 1 kvm - /);
    await uninstall(dirs);
    assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before, fixture);
  }
});

test("what only older Nix refuses in the machines file is refused only for that Nix", async () => {
  const dirs = await host("comments-include");
  await writeFile(join(dirs.nixConfDir, "machines"), "ssh://fast x86_64-linux - 4 1.5\n");
  const state = await readHostState(HOST, dirs, 31022);
  assert.throws(() => planInstall({ ...state, nixVersion: [2, 8, 0] }, request()), /speed factor 1\.5/);
  assert.ok(planInstall({ ...state, nixVersion: [2, 29, 1] }, request()).steps.length > 0);
});

test("a read-only /etc/nix (a read-only file system): a clear error naming the file, nothing written", {
  skip: process.getuid?.() === 0 ? false : "needs root to mount a read-only folder",
}, async () => {
  const dirs = await host("comments-include");
  const before = await snapshot(join(dirs.nixConfDir, ".."));
  const plan = planInstall(await readHostState(HOST, dirs, 31022), request());
  // The folder itself read-only, as on a sealed system volume: even root gets EROFS.
  await run("mount", ["--bind", dirs.nixConfDir, dirs.nixConfDir]);
  try {
    await run("mount", ["-o", "remount,bind,ro", dirs.nixConfDir]);
    await assert.rejects(applyPlan(HOST, plan), (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "install.failed");
      assert.match(
        error.message,
        /^Cannot write .*\/nix\/builder_ed25519: .*read-only file system.*; nothing was changed$/,
      );
      assert.match(error.hint ?? "", /read-only file system: make it writable/);
      return true;
    });
  } finally {
    await run("umount", [dirs.nixConfDir]);
  }
  assert.deepEqual(await snapshot(join(dirs.nixConfDir, "..")), before);
});
