/**
 * install / uninstall through the CLI, into temporary folders standing in for /etc/nix and
 * /etc/ssh/ssh_config.d; and the privileged half as sudo would run it (sudo itself is not on
 * this machine: a stand-in records the exact argv and runs the rest).
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { applyWithSudo, sudoCommand } from "../../../../src/app/apply-host-plan.js";
import { parsePlan } from "../../../../src/app/parse-plan.js";
import { installedMessage } from "../../../../src/cli/commands/install.js";
import { LinuxBuilderError } from "../../../../src/errors.js";
import type { Plan } from "../../../../src/host/plan.js";

const run = promisify(execFile);

describe("install and uninstall through the CLI", () => {
  let root: string;
  let args: string[];
  const cli = (...extra: string[]) =>
    run("node", ["bin/linux-builder.js", ...extra, ...args], {
      env: { ...process.env, LINUX_BUILDER_HOME: join(root, "home") },
    });
  // status takes the builder's flags, not install's host folders.
  const status = (...extra: string[]) =>
    run("node", ["bin/linux-builder.js", "status", ...extra, ...args.slice(4)], {
      env: { ...process.env, LINUX_BUILDER_HOME: join(root, "home") },
    });
  const registry = () => join(root, "home", "installed-builders.json");
  const listing = async () =>
    (await readdir(root, { recursive: true }))
      .filter((p) => !p.startsWith("home") && !p.startsWith("state"))
      .sort();

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lb-install-cli-"));
    await mkdir(join(root, "nix"));
    await mkdir(join(root, "ssh"));
    await writeFile(join(root, "nix", "nix.conf"), "trusted-users = root\n");
    args = [
      "--nix-conf-dir",
      join(root, "nix"),
      "--ssh-config-dir",
      join(root, "ssh"),
      "--state-dir",
      join(root, "state"),
      "--arch",
      "amd64",
      "--port",
      "31044",
      "--cpus",
      "3",
    ];
  });
  after(() => rm(root, { recursive: true, force: true }));

  test("--dry-run shows the changes and makes none", async () => {
    const { stdout } = await cli("install", "--dry-run");
    assert.match(stdout, /^write: .*\/nix\/linux-builder-31044_ed25519 \(mode 600/m);
    assert.match(
      stdout,
      /^ {2}\+ ssh-ng:\/\/builder@linux-builder-31044 x86_64-linux,aarch64-linux .*\/nix\/linux-builder-31044_ed25519 3 1 benchmark,big-parallel,nixos-test - [A-Za-z0-9+/=]+$/m,
    );
    assert.match(stdout, /^change: .*\/nix\/nix\.conf$/m);
    assert.match(stdout, /^create: .*\/ssh\/linux-builder-31044\.conf$/m);
    assert.deepEqual(await listing(), ["nix", "nix/nix.conf", "ssh"]);
    await assert.rejects(readFile(registry(), "utf8"), { code: "ENOENT" });
    // The service (its unit where systemd runs, else the note saying how to run serve) runs serve
    // with the builder flags given here, the state folder absolute.
    assert.match(stdout, new RegExp(`serve --arch amd64 --cpus 3 --port 31044 --state-dir ${root}/state\\b`));
  });

  test("install writes the key with this install's public half, uninstall restores every file", async () => {
    // Never the real /etc/systemd/system (a CI machine may run systemd).
    const { stderr } = await cli("install", "--no-service");
    assert.match(stderr, /Installed: Nix hands Linux builds to the builder while `linux-builder serve`/);
    const publicKey = await readFile(join(root, "state", "keys", "builder_ed25519.pub"), "utf8");
    assert.equal(
      await readFile(join(root, "nix", "linux-builder-31044_ed25519.pub"), "utf8"),
      `${publicKey.trim()}\n`,
    );
    assert.equal(
      await readFile(join(root, "nix", "linux-builder-31044_ed25519"), "utf8"),
      await readFile(join(root, "state", "keys", "builder_ed25519"), "utf8"),
    );
    // The host key pinned in the machines line is this install's own.
    const hostKey = (await readFile(join(root, "state", "keys", "ssh_host_ed25519_key.pub"), "utf8"))
      .trim()
      .split(" ");
    const machines = await readFile(join(root, "nix", "machines"), "utf8");
    assert.ok(machines.includes(Buffer.from(`${hostKey[0]} ${hostKey[1]}`).toString("base64")));

    // Recorded for status and doctor: where, which port, which state folder, which systems.
    assert.deepEqual(JSON.parse(await readFile(registry(), "utf8")), {
      builders: [
        {
          nixConfDir: join(root, "nix"),
          sshConfigDir: join(root, "ssh"),
          port: 31044,
          stateDir: join(root, "state"),
          arch: "amd64",
          systems: ["x86_64-linux", "aarch64-linux"],
        },
      ],
    });
    const report = JSON.parse((await status("--json")).stdout);
    assert.deepEqual(
      report.builders.map((b: { port: number; selected: boolean; running: boolean }) => [
        b.port,
        b.selected,
        b.running,
      ]),
      [[31044, true, false]],
    );
    assert.deepEqual(report.systems, [
      { system: "x86_64-linux", emulated: false },
      { system: "aarch64-linux", emulated: true },
    ]);
    const text = (await status()).stdout;
    assert.match(
      text,
      /^Builders: 1 installed \(\* the one below\)\n\* 127\.0\.0\.1:31044 {2}amd64 {2}x86_64-linux,aarch64-linux {2}stopped {2}\//,
    );
    assert.match(
      text,
      /^Systems: {2}x86_64-linux \(native\), aarch64-linux \(emulated through qemu-user: several times slower\)$/m,
    );

    assert.match((await cli("install", "--no-service")).stdout, /Nothing to change/);
    assert.match((await cli("uninstall")).stderr, /Uninstalled/);
    assert.deepEqual(JSON.parse(await readFile(registry(), "utf8")), { builders: [] });
    assert.deepEqual(await listing(), ["nix", "nix/nix.conf", "ssh"]);
    assert.equal(await readFile(join(root, "nix", "nix.conf"), "utf8"), "trusted-users = root\n");
  });

  test("a corrupt record stops install before the host changes; status warns and lists no pool", async () => {
    await writeFile(registry(), "{oops");
    try {
      await assert.rejects(cli("install", "--no-service"), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(
          error.stderr,
          /installed-builders\.json, the record of installed builders, cannot be read: not JSON/,
        );
        return true;
      });
      assert.deepEqual(await listing(), ["nix", "nix/nix.conf", "ssh"]);
      const { stdout, stderr } = await status();
      assert.match(
        stderr,
        /warning: .*installed-builders\.json, the record of installed builders, cannot be read: not JSON .*; the other installed builders are not listed/,
      );
      assert.doesNotMatch(stdout, /^Builders:/m);
      assert.match(stdout, /^State: /m);
    } finally {
      await rm(registry(), { force: true });
    }
  });
});

test("the privileged half: the seed's `sudo --reset-timestamp`, the plan on stdin", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-sudo-"));
  try {
    // Records its argv, then runs the command as sudo would (here we already are root).
    const fakeSudo = join(dir, "sudo");
    await writeFile(fakeSudo, `#!/bin/sh\nprintf '%s\\n' "$@" > ${dir}/argv\nshift\nexec "$@"\n`);
    await chmod(fakeSudo, 0o755);
    const script = resolve("bin/linux-builder.js");
    const argv = sudoCommand(process.execPath, script);
    assert.deepEqual(argv, [
      "sudo",
      "--reset-timestamp",
      process.execPath,
      script,
      "apply-host-plan",
      "--json",
    ]);
    const target = join(dir, "machines");
    const plan: Plan = {
      steps: [
        { kind: "write", path: target, content: "line\n", mode: 0o644, before: undefined },
        { kind: "command", argv: ["false"], why: "a restart that fails" },
      ],
      notes: [],
    };
    const failed = await applyWithSudo(fakeSudo, argv.slice(1), plan);
    assert.equal(await readFile(join(dir, "argv"), "utf8"), `${argv.slice(1).join("\n")}\n`);
    assert.equal(await readFile(target, "utf8"), "line\n");
    assert.equal(failed.length, 1);
    assert.deepEqual(failed[0]?.argv, ["false"]);
    // A refused password (sudo exits 1 without running us) says so, and that nothing changed.
    await writeFile(fakeSudo, "#!/bin/sh\necho 'Sorry, try again.' >&2\nexit 1\n");
    await assert.rejects(applyWithSudo(fakeSudo, argv.slice(1), plan), (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "install.sudo-refused");
      assert.match(error.message, /did not run linux-builder's privileged step .*; nothing was changed$/);
      return true;
    });
    // Cancelled (Ctrl-c at the password prompt: sudo dies of SIGINT).
    await writeFile(fakeSudo, "#!/bin/sh\nkill -INT $$\nsleep 5\n");
    await assert.rejects(
      applyWithSudo(fakeSudo, argv.slice(1), plan),
      /cancelled \(SIGINT\); nothing was changed/,
    );
    // The root half's own error (a file changed meanwhile) comes back whole, code and hint.
    const stale: Plan = {
      steps: [{ kind: "write", path: target, content: "new\n", mode: 0o644, before: "not what is there\n" }],
      notes: [],
    };
    await writeFile(fakeSudo, '#!/bin/sh\nshift\nexec "$@"\n');
    await assert.rejects(applyWithSudo(fakeSudo, argv.slice(1), stale), (error: unknown) => {
      assert.ok(error instanceof LinuxBuilderError);
      assert.equal(error.code, "install.changed");
      assert.match(error.message, /machines changed since linux-builder looked at it; nothing was changed/);
      assert.match(error.hint ?? "", /Run the command again/);
      return true;
    });
    assert.equal(await readFile(target, "utf8"), "line\n");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

describe("parsePlan: the plan as apply-host-plan reads it", () => {
  test("every step kind install and uninstall make crosses the sudo boundary unchanged", () => {
    const plan: Plan = {
      steps: [
        { kind: "write", path: "/etc/nix/machines", content: "x\n", mode: 0o644, before: "", backup: "/b" },
        { kind: "remove", path: "/etc/nix/k", secret: true },
        { kind: "mkdir", path: "/etc/nix/linux-builder-ssh", mode: 0o700 },
        { kind: "rmdir", path: "/etc/nix/linux-builder-ssh" },
        { kind: "restore", path: "/etc/nix/nix.conf", from: "/etc/nix/nix.conf.backup-before-linux-builder" },
        { kind: "command", argv: ["systemctl", "restart", "nix-daemon"], why: "restart" },
      ],
      notes: ["a note"],
    };
    assert.deepEqual(parsePlan(JSON.stringify(plan)), plan);
  });

  test("what is not a plan is a user error that names what is wrong, never a crash", () => {
    assert.throws(
      () => parsePlan("hello"),
      (error: unknown) => {
        assert.ok(error instanceof LinuxBuilderError);
        assert.equal(error.code, "install.plan");
        assert.match(error.message, /not a plan \(not JSON\).*nothing was changed/);
        return true;
      },
    );
    assert.throws(
      () => parsePlan(JSON.stringify({ steps: [{ kind: "chmod", path: "/x" }], notes: [] })),
      /does not understand \(steps\.0\.kind: Invalid discriminator value.*\); nothing was changed/,
    );
    assert.throws(
      () => parsePlan(JSON.stringify({ steps: [{ kind: "remove", path: "relative" }], notes: [] })),
      /\(steps\.0\.path: an absolute path\)/,
    );
  });

  test("apply-host-plan given garbage on stdin exits 1 with a message, not 70 with a stack", async () => {
    const child = spawnSync("node", ["bin/linux-builder.js", "apply-host-plan"], { input: "{oops" });
    assert.equal(child.status, 1);
    assert.match(
      child.stderr.toString(),
      /^linux-builder: apply-host-plan read something that is not a plan/,
    );
    assert.doesNotMatch(child.stderr.toString(), /internal error|at .*\.js:\d+/);
  });
});

test("install says the builder boots on demand only when the service's commands all ran", () => {
  const service = {
    manager: "launchd",
    name: "local.linux-builder",
    file: "/Library/LaunchDaemons/local.linux-builder.plist",
  } as const;
  const bootstrap = ["launchctl", "bootstrap", "system", service.file];
  const restart = ["launchctl", "kickstart", "-k", "system/org.nixos.nix-daemon"];
  const plan: Plan = {
    steps: [
      { kind: "command", argv: bootstrap, why: "load serve's daemon", service: true },
      { kind: "command", argv: restart, why: "restart the Nix daemon" },
    ],
    notes: [],
  };
  const serve = "linux-builder serve --port 31022";
  const onDemand =
    "Installed: Nix's Linux builds now boot the builder on demand (service local.linux-builder).";
  assert.equal(installedMessage(plan, service, serve, []), onDemand);
  // The Nix daemon's restart failing is said above it; the service runs all the same.
  assert.equal(installedMessage(plan, service, serve, [{ argv: restart, message: "no" }]), onDemand);
  const failed = installedMessage(plan, service, serve, [
    { argv: bootstrap, message: "Bootstrap failed: 5: Input/output error" },
  ]);
  assert.doesNotMatch(failed, /boot the builder on demand/);
  assert.equal(
    failed,
    [
      `Installed, but the service local.linux-builder may not be running: \`${bootstrap.join(" ")}\` failed (said above).`,
      `  Once that is fixed, run \`linux-builder install\` again (it starts the service); meanwhile run \`${serve}\` in the background, or \`linux-builder start\` before builds.`,
    ].join("\n"),
  );
  assert.match(installedMessage(plan, undefined, serve, []), /^Installed: Nix hands Linux builds/);
});
