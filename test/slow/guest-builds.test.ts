/**
 * The guest as a real builder, under TCG, through the host's Nix and exactly what install writes:
 * a feature configured in `supportedFeatures` reaches both the machines line and the guest's
 * system-features (a build requiring it runs there; one requiring an absent feature is refused by
 * Nix before dispatch); a build writing more into its build folder than the guest's /tmp (a tmpfs of
 * half its RAM) could hold succeeds, since builds run on the /nix disk; garbage collection is sized
 * from the disk.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { builderNames } from "../../src/nix/builders.js";
import { freePort, testHome, testImage } from "../support/guest-vm.js";

const run = promisify(execFile);
const GIB = 1024 ** 3;

describe("the guest as a builder: features, big build folders, garbage collection (slow)", () => {
  let home: string;
  let port: number;
  const stateDir = () => join(home, "state");
  const cli = (command: string, ...args: string[]) =>
    run(
      "node",
      [
        "bin/linux-builder.js",
        command,
        ...["--state-dir", stateDir(), "--port", String(port), "--accel", "tcg"],
        ...["--cpus", "2", "--memory", "1024", "--disk", "8"],
        ...args,
      ],
      { env: { ...process.env, LINUX_BUILDER_HOME: home }, timeout: 900_000 },
    );
  /** nix-build through exactly the machines file and ssh alias install wrote. */
  const nixBuild = (expression: string) => {
    const nixConfDir = join(home, "etc-nix");
    const sshConfig = join(home, "ssh_config.d", builderNames(port).sshConfigFile);
    return run(
      "nix-build",
      ["--max-jobs", "0", "--builders", `@${nixConfDir}/machines`, "--no-out-link", "-E", expression],
      { env: { ...process.env, NIX_SSHOPTS: `-F ${sshConfig}` }, timeout: 900_000 },
    );
  };
  const derivation = (name: string, attributes: string, script: string) =>
    `derivation { name = "${name}"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "${Date.now()}"; ${attributes} args = [ "-c" ${JSON.stringify(script)} ]; }`;

  before(async () => {
    await testImage("amd64");
    // A home of its own for its config file, sharing the tests' package cache and images.
    home = await mkdtemp(join(tmpdir(), "lb-guest-builds-"));
    await symlink(join(testHome(), "cache"), join(home, "cache"));
    await symlink(join(testHome(), "images"), join(home, "images"));
    await writeFile(
      join(home, "config.json"),
      JSON.stringify({ supportedFeatures: ["benchmark", "big-parallel", "nixos-test", "lb-test-feature"] }),
    );
    port = await freePort();
    await mkdir(join(home, "etc-nix"));
    await mkdir(join(home, "ssh_config.d"));
  });

  after(async () => {
    await cli("stop").catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });

  test("features from the one setting, builds on the /nix disk, garbage collection from its size", {
    timeout: 30 * 60_000,
  }, async () => {
    await cli("start");
    await cli(
      "install",
      ...["--nix-conf-dir", join(home, "etc-nix"), "--ssh-config-dir", join(home, "ssh_config.d")],
    );
    assert.match(
      await readFile(join(home, "etc-nix", "machines"), "utf8"),
      / benchmark,big-parallel,nixos-test,lb-test-feature - /,
    );

    // The guest's Nix says the same features, and collects garbage by the disk's size (8 GiB:
    // the floors, 1 and 2 GiB).
    const { stdout: config } = await cli("ssh", "--", "nix", "config", "show");
    assert.match(config, /^system-features = benchmark big-parallel lb-test-feature nixos-test$/m);
    assert.match(config, new RegExp(`^min-free = ${GIB}$`, "m"));
    assert.match(config, new RegExp(`^max-free = ${2 * GIB}$`, "m"));

    // A build that needs the configured feature runs on the guest.
    const featured = await nixBuild(
      derivation(
        "lb-featured",
        'requiredSystemFeatures = [ "lb-test-feature" ];',
        'read r < /proc/sys/kernel/osrelease; echo "built on $r" > $out',
      ),
    );
    assert.match(
      await readFile(featured.stdout.trim(), "utf8"),
      /^built on 6\.\d+\.\d+\+deb\d+-cloud-amd64\n$/,
    );

    // One that needs a feature nobody offers is refused by Nix before any dispatch.
    const absent = await nixBuild(
      derivation("lb-unfeatured", 'requiredSystemFeatures = [ "lb-absent-feature" ];', "echo > $out"),
    ).catch((error: { stderr?: string }) => error);
    assert.match(String((absent as { stderr?: string }).stderr), /lb-absent-feature/);

    // 520 MiB in the build folder: more than the guest's /tmp (a tmpfs of half its 1 GiB) holds.
    const started = Date.now();
    const big = await nixBuild(
      derivation(
        "lb-big-build-folder",
        "",
        [
          's=$(printf "%*s" 1048576 "")',
          "i=0; while [ $i -lt 520 ]; do printf '%s' \"$s\" >> big; i=$((i+1)); done",
          'echo "wrote 520 MiB in the build folder" > $out',
        ].join("\n"),
      ),
    );
    process.stdout.write(
      `# 520 MiB in a build folder took ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    assert.equal(await readFile(big.stdout.trim(), "utf8"), "wrote 520 MiB in the build folder\n");
    const { stdout: tmp } = await cli("ssh", "--", "df", "-m", "/tmp");
    assert.match(tmp, /tmpfs\s+4\d\d\s/, "the guest's /tmp is the small tmpfs the build did not use");

    // Nothing roots these outputs in the guest: collecting now frees the 520 MiB build's output and the rest.
    const collected = await cli("gc");
    assert.match(
      collected.stderr,
      /^Collected the builder's garbage: [1-9]\d* store paths deleted, [0-9.]+ \w+ freed\.$/m,
    );

    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
