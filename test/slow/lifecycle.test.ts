/**
 * The lifecycle through the CLI, under TCG, for each guest architecture (arm64 is Apple Silicon's
 * shape, emulated here on an x86_64 host): start → status --json says ready → the host's own Nix
 * (Debian's nix-bin) builds derivations for the guest's system with --max-jobs 0 through exactly the
 * machines line and ssh_config alias linux-builder writes → the output proves it ran in the guest →
 * stop → start → the output is still in the guest's store → stop. And a boot that fails (a /nix disk
 * that is not ext4) is reported, leaves the disk alone, and is stopped without waiting for a
 * power-down.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { emulatedSystemsOf } from "../../src/config/config.js";
import { ARCHITECTURES, type Arch } from "../../src/image/guest/profile.js";
import { builderNames } from "../../src/nix/builders.js";
import { builtOnTheGuestTwice, twoStageBuild } from "../support/derivations.js";
import { freePort, testHome, testImage } from "../support/guest-vm.js";

const run = promisify(execFile);
const env = () => ({ ...process.env, LINUX_BUILDER_HOME: testHome() });

interface TestBuilder {
  readonly arch: Arch;
  readonly stateDir: string;
  readonly port: number;
  readonly diskGiB: number;
}

/** `linux-builder COMMAND --arch … --state-dir … ARGS` for a builder of the test's, on its own port, under TCG. */
const cliFor =
  (builder: () => TestBuilder) =>
  (command: string, ...args: string[]) =>
    run(
      "node",
      [
        "bin/linux-builder.js",
        command,
        ...["--arch", builder().arch, "--state-dir", builder().stateDir, "--port", String(builder().port)],
        ...["--accel", "tcg", "--cpus", "2", "--memory", "1024", "--disk", String(builder().diskGiB)],
        ...args,
      ],
      { env: env(), timeout: 1_800_000 },
    );

/**
 * How long each architecture may take here. arm64 runs on an x86_64 host under TCG, translating
 * every instruction: its boot and builds take several times amd64's (and more when other VMs share
 * the machine's two cores).
 */
const SLOWNESS: Record<
  Arch,
  { readonly readySeconds: number; readonly buildMs: number; readonly testMs: number }
> = {
  amd64: { readySeconds: 600, buildMs: 600_000, testMs: 30 * 60_000 },
  arm64: { readySeconds: 1_200, buildMs: 1_800_000, testMs: 75 * 60_000 },
};

for (const arch of ["amd64", "arm64"] as const) {
  describe(`the builder's lifecycle, ${arch} guest (slow)`, () => {
    let stateDir: string;
    let port: number;
    const cli = cliFor(() => ({ arch, stateDir, port, diskGiB: 8 }));
    const { readySeconds, buildMs, testMs } = SLOWNESS[arch];
    const start = () => cli("start", "--timeout", String(readySeconds));

    before(async () => {
      await testImage(arch);
      stateDir = await mkdtemp(join(tmpdir(), `lb-state-${arch}-`));
      port = await freePort();
    });

    after(async () => {
      await cli("stop").catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    });

    test("start, build through Nix's builders, stop, start again, the output survives, stop", {
      timeout: testMs,
    }, async () => {
      const started = await start();
      assert.match(
        started.stderr,
        /Ready in [0-9.]+ s \(pid \d+, tcg; QEMU up at [0-9.]+ s, sshd up at [0-9.]+ s, Nix store answered at [0-9.]+ s\)/,
      );

      const status = JSON.parse((await cli("status", "--json")).stdout);
      assert.equal(status.running, true);
      assert.equal(status.ready, true);
      assert.equal(status.accel, "tcg");
      assert.equal(status.port, port);
      assert.match(status.image, new RegExp(`^trixie-${arch}-[0-9a-f]{16}$`));

      // start is idempotent: on a running, ready builder it says so and succeeds (it rejects otherwise).
      const again = await start();
      assert.match(
        again.stderr,
        /^The builder is already running and ready \(pid \d+(; waited [0-9.]+ s for it)?\)\.$/m,
      );
      assert.doesNotMatch(again.stderr, /Starting the /, "nothing is booted");

      // Exactly what `install` writes, into temporary folders standing in for /etc/nix and
      // /etc/ssh/ssh_config.d: Nix reads that machines file, ssh that alias.
      const nixConfDir = join(stateDir, "etc-nix");
      const sshConfigDir = join(stateDir, "ssh_config.d");
      await mkdir(nixConfDir);
      await mkdir(sshConfigDir);
      await cli("install", "--nix-conf-dir", nixConfDir, "--ssh-config-dir", sshConfigDir);
      const machines = join(nixConfDir, "machines");
      const sshConfig = join(sshConfigDir, builderNames(port).sshConfigFile);
      const system = ARCHITECTURES[arch].nixSystem;
      // The native system first, then the one it emulates (emulatedSystems' default).
      const other = emulatedSystemsOf({ arch }).join(",");
      assert.match(
        await readFile(machines, "utf8"),
        new RegExp(`^ssh-ng://builder@linux-builder(-\\d+)? ${system},${other} `, "m"),
      );

      // Two derivations for the guest's system (the second needs big-parallel, which the machines
      // line advertises): the host, x86_64 whatever the guest, can only hand them over.
      const nixEnv = { ...process.env, NIX_SSHOPTS: `-F ${sshConfig}` };
      const { stdout } = await run(
        "nix-build",
        [
          "--max-jobs",
          "0",
          "--builders",
          `@${machines}`,
          "--no-out-link",
          "-E",
          twoStageBuild("lb-lifecycle", arch),
        ],
        { env: nixEnv, timeout: buildMs },
      );
      const outPath = stdout.trim();
      assert.match(outPath, /^\/nix\/store\/[a-z0-9]{32}-lb-lifecycle-output$/);
      // The result came back to the host's store, and says both were built by the guest's kernel.
      assert.match(await readFile(outPath, "utf8"), builtOnTheGuestTwice(arch));

      const stopped = await cli("stop");
      assert.match(stopped.stderr, /Stopped: the guest powered off cleanly/);
      assert.equal(JSON.parse((await cli("status", "--json")).stdout).running, false);

      await start();
      const { stdout: inGuest } = await cli("ssh", "--", "cat", outPath);
      assert.match(inGuest, builtOnTheGuestTwice(arch));
      assert.match((await cli("stop")).stderr, /powered off cleanly/);
      // stop is idempotent too: a stopped builder is no error.
      assert.match((await cli("stop")).stderr, /^The builder is not running\.$/m);
    });
  });
}

describe("a builder whose boot fails (slow)", () => {
  before(async () => {
    await testImage("amd64");
  });

  test("a boot that fails says why, keeps the disk as it was, and stop quits it at once", {
    timeout: 15 * 60_000,
  }, async () => {
    const failedState = await mkdtemp(join(tmpdir(), "lb-state-failed-"));
    const failedPort = await freePort();
    const failedCli = cliFor(() => ({ arch: "amd64", stateDir: failedState, port: failedPort, diskGiB: 4 }));
    try {
      // A /nix disk that is neither blank nor ext4: maybe someone's only copy, never formatted over.
      const disk = join(failedState, "nix.img");
      const data = randomBytes(65_536);
      await writeFile(disk, data);
      await truncate(disk, 4 * 1024 ** 3);
      const started = await failedCli("start").catch((error) => error);
      assert.equal(started.code, 1);
      assert.match(started.stderr, /The builder failed to boot: the \/nix disk \/dev\/vda has errors/);
      // With a 600 s power-down deadline: only going straight to quit ends this within the test.
      const stopped = await failedCli("stop", "--timeout", "600");
      assert.match(stopped.stderr, /the guest's boot had failed .*QEMU was told to quit/);
      const handle = await open(disk, "r");
      const { buffer: after } = await handle.read(Buffer.alloc(data.length), 0, data.length, 0);
      await handle.close();
      assert.deepEqual(after, data, "the disk's first bytes are as they were");
    } finally {
      await failedCli("stop", "--timeout", "5").catch(() => undefined);
      await rm(failedState, { recursive: true, force: true });
    }
  });
});
