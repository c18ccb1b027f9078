/**
 * The guest's /nix disk running out, under TCG, through the host's Nix and exactly what install
 * writes (a 4 GiB disk: min-free 1 GiB, max-free 2 GiB):
 * - a store filled with dead paths past min-free is collected, all of it, until max-free is free
 *   (the guest's collect-when-low: Nix's own collection at a build's start dies with the ssh-ng
 *   connection's daemon process, after one dead path of four here), and the next build succeeds;
 * - a build that fills the disk fails with Nix's own messages, the builder stays healthy (the
 *   daemon runs as root and keeps ext4's root reserve), the failed build's partial output is
 *   collected, and the next build succeeds.
 *
 * Cheaply: Nix hashes and scans every byte a build outputs, at ~8 MB/s under TCG (measured), so the
 * test does not make GiBs of real store paths. Most of the disk is taken by a preallocated file
 * outside the store (standing for live paths: the garbage collector must leave it), written into
 * the stopped guest's file system with e2fsprogs' debugfs; the dead paths (fallocate'd, 256 MiB)
 * then take free space below min-free.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gcThresholds } from "../../src/guest/nix-conf.js";
import { derivation, type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";
import { shellQuote } from "../support/pty.js";

const run = promisify(execFile);
const MIB = 1024 ** 2;
const DISK_GIB = 4;
const { minFree } = gcThresholds(DISK_GIB);
/** What the dead paths add up to: four of 64 MiB. */
const DEAD_BYTES = 4 * 64 * MIB;

/** Free space on an ext4 image for a user that is not root, as statvfs's f_bavail says it. */
async function imageAvailable(image: string): Promise<{ bytes: number; blockSize: number }> {
  const { stdout } = await run("dumpe2fs", ["-h", image]);
  const field = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+)$`, "m").exec(stdout);
    assert(match, `dumpe2fs -h ${image} has no "${name}"`);
    return Number(match[1]);
  };
  const blockSize = field("Block size");
  return { bytes: (field("Free blocks") - field("Reserved block count")) * blockSize, blockSize };
}

/** A preallocated file at the root of the stopped guest's /nix file system that leaves `leave` free. */
async function addBallast(image: string, leave: number, scratch: string): Promise<void> {
  const { bytes, blockSize } = await imageAvailable(image);
  const blocks = Math.floor((bytes - leave) / blockSize);
  assert(blocks > 0, `only ${bytes} bytes free on ${image}`);
  const empty = join(scratch, "empty");
  await writeFile(empty, "");
  // debugfs exits 0 even when a request fails: the free space is checked after.
  for (const request of [
    `write ${empty} lb-ballast`,
    `fallocate /lb-ballast 0 ${blocks - 1}`,
    `sif /lb-ballast size ${blocks * blockSize}`,
  ]) {
    await run("debugfs", ["-w", "-R", request, image]);
  }
  const left = (await imageAvailable(image)).bytes;
  assert(Math.abs(left - leave) < 16 * MIB, `the ballast left ${left} bytes free, not ${leave}`);
}

/** Retries `check` until it passes, for up to two minutes (a loaded machine under TCG is slow). */
async function eventually(check: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

describe("the guest's /nix disk full: garbage collection, a build that fills it (slow)", () => {
  let builder: InstalledBuilder;
  /** A shell command on the guest, as `builder`. */
  const guest = async (command: string) => (await builder.cli("ssh", "--", command)).stdout;
  /** The guest's free space on /nix for a build (a build user is not root: f_bavail). */
  const guestAvailable = async () => {
    const [blocks, blockSize] = (await guest("stat -f -c '%a %S' /nix")).trim().split(" ").map(Number);
    return Number(blocks) * Number(blockSize);
  };
  const started = Date.now();
  const mark = (what: string) =>
    process.stdout.write(`# ${((Date.now() - started) / 1000).toFixed(1)} s: ${what}\n`);

  before(async () => {
    await run("debugfs", ["-V"]).catch(() => {
      throw new Error(
        "This test writes into the guest's file system with e2fsprogs (debugfs, dumpe2fs): install them.",
      );
    });
    builder = await installedBuilder({
      name: "guest-disk",
      cpus: 2,
      memoryMiB: 1024,
      diskGiB: DISK_GIB,
      maxBuffer: 64 * MIB,
    });
  });

  after(async () => {
    await builder?.cleanup();
  });

  test("dead paths past min-free are collected to the end; a build that fills the disk fails cleanly", {
    timeout: 30 * 60_000,
  }, async () => {
    const { cli, nixBuild } = builder;
    // The guest formats its disk at the first boot; stopped, the disk gets its ballast.
    await cli("start");
    await cli("stop");
    await addBallast(join(builder.stateDir, "nix.img"), minFree + DEAD_BYTES / 2, builder.home);
    await cli("start");
    await builder.install();
    mark("booted with the ballast, installed");

    // Dead paths: built on the guest by its own Nix, no link kept, so nothing roots them.
    const dead = await guest(
      `nix-build --no-out-link -E ${shellQuote(`
        let bb = /usr/bin/busybox; in
        map (n: derivation {
          name = "lb-dead-\${toString n}"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "${Date.now()}";
          args = [ "-c" "(exec -a mkdir \${bb} $out) && (exec -a fallocate \${bb} -l 64M $out/blob)" ];
        }) [ 1 2 3 4 ]`)}`,
    );
    const deadPaths = dead.trim().split("\n");
    assert.equal(deadPaths.length, 4, dead);
    mark(
      `${deadPaths.length} dead paths made (${DEAD_BYTES / MIB} MiB past the ballast's min-free + ${DEAD_BYTES / 2 / MIB} MiB)`,
    );

    // Collected while the builder idles, all of them, until max-free is free (or nothing dead is
    // left): the guest says so on its console.
    await eventually(async () => {
      const store = await guest("ls /nix/store");
      const left = deadPaths.filter((path) => store.includes(path.slice("/nix/store/".length)));
      assert.deepEqual(left, [], "dead paths left");
      assert((await guestAvailable()) > minFree);
    });
    assert.match(
      await readFile(join(builder.stateDir, "console.log"), "utf8"),
      /linux-builder: \/nix has \d+ MiB free, less than min-free: collecting garbage/,
    );
    mark("collected");
    const next = await nixBuild(derivation("lb-after-dead-paths"));
    assert.match(next.stdout, /^\/nix\/store\/\w+-lb-after-dead-paths$/m);

    // A build that fills the disk, in its build folder and in its output.
    const busybox = join(builder.home, "busybox");
    const { stdout: binary } = await run(
      "node",
      [
        "bin/linux-builder.js",
        "ssh",
        "--state-dir",
        builder.stateDir,
        "--port",
        String(builder.port),
        "--",
        "cat /usr/bin/busybox",
      ],
      { env: builder.env, encoding: "buffer", maxBuffer: 64 * MIB },
    );
    await writeFile(busybox, binary, { mode: 0o755 });
    const fill = await nixBuild(
      `let bb = builtins.path { path = ${busybox}; name = "busybox"; }; in derivation {
        name = "lb-fill-disk"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "${Date.now()}";
        args = [ "-c" ''
          bb() { a=$1; shift; (exec -a "$a" \${bb} "$@"); }
          bb mkdir $out
          i=0
          while bb fallocate -l 64M "$([ $((i % 2)) = 0 ] && echo . || echo $out)/fill$i"; do i=$((i + 1)); done
          echo "the disk took $i times 64 MiB"
          exit 1
        '' ];
      }`,
    ).catch((error: { stderr?: string }) => error);
    const failure = String((fill as { stderr?: string }).stderr);
    assert.match(failure, /^\s*> fallocate: fallocate '.*fill\d+': No space left on device$/m);
    assert.match(failure, /builder for '\/nix\/store\/\w+-lb-fill-disk\.drv' failed with exit code 1/);
    assert.match(failure, /note: build failure may have been caused by lack of free disk space/);
    mark("the build that fills the disk failed");

    // Healthy: sshd and the Nix daemon answer, the failed build's folder is gone. Its partial output
    // is not a valid path: garbage, collected as the disk is low.
    assert.match(await guest("nix store info 2>&1"), /^Store URL: daemon$/m);
    assert.equal(await guest("ls -A /nix/var/nix/builds"), "");
    await eventually(async () => {
      assert.doesNotMatch(await guest("ls /nix/store"), /-lb-fill-disk$/m);
      assert((await guestAvailable()) > minFree);
    });

    // The next build succeeds.
    const recovered = await nixBuild(derivation("lb-after-full-disk"));
    assert.match(recovered.stdout, /^\/nix\/store\/\w+-lb-after-full-disk$/m);
    mark("the next build succeeded");

    assert.match((await cli("stop")).stderr, /powered off cleanly/);
  });
});
