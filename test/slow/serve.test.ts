/**
 * `linux-builder serve` under TCG, with the host's Nix building through exactly what install writes
 * (test/support/installed-builder.ts): one serve for all the scenarios, so the boots stay few.
 *
 *   1. VM off: a build boots it and succeeds; a second build started during that boot succeeds too.
 *   2. idle (0.1 min): after the last build (and install's ssh ControlPersist of 60 s) the VM powers
 *      off cleanly; a later build boots it again.
 *   3. a build longer than the idle time is not cut off.
 *   4. kill -9 of QEMU between builds: the next build boots a new VM; the guest's store verifies.
 *   5. SIGTERM: the VM powered off cleanly, no QEMU, nothing on the port, serve.sock gone.
 *
 * Run as the current user (root here), not linux-builder-test: installedBuilder installs as the
 * tests' user into folders it owns, and the host's nix-build runs as that user with the state
 * folder's key; serve must own that state folder.
 */
import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { poweredOff } from "../../src/guest/console-lines.js";
import { readConsoleSince } from "../../src/guest/console-log.js";
import { processAlive } from "../../src/process/process-alive.js";
import { derivation, type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";
import { type ServeProcess, startServe } from "../support/serve-process.js";

const SIZE = { cpus: 2, memoryMiB: 1024, diskGiB: 8 };

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Polls `check` every second until it holds; fails after `timeoutMs` with `what`. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

/** The port answers a connection (something listens). */
const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });

describe("serve: the builder on demand, idle power-off, crash recovery (slow)", () => {
  let builder: InstalledBuilder;
  let serve: ServeProcess | undefined;
  const seconds = { cold: [] as number[], warm: [] as number[] };

  before(async () => {
    builder = await installedBuilder({ name: "serve", ...SIZE });
    await builder.install();
    serve = await startServe(builder, SIZE, "--idle-minutes", "0.1");
  });

  after(async () => {
    await serve?.stop("SIGTERM");
    await builder?.cleanup();
    console.log(`serve: build with the VM off ${seconds.cold.map((s) => s.toFixed(1)).join(", ")} s;`);
    console.log(`serve: build with the VM up ${seconds.warm.map((s) => s.toFixed(1)).join(", ")} s`);
  });

  /** A nix-build of a new one-step derivation through the front door, timed; its output's text. */
  async function build(
    name: string,
    script = 'read r < /proc/sys/kernel/osrelease; echo "built on $r" > $out',
  ) {
    const began = Date.now();
    const { stdout } = await builder.nixBuild(derivation(name, script));
    return { text: await readFile(stdout.trim(), "utf8"), seconds: (Date.now() - began) / 1000 };
  }

  const status = async () => {
    const answer = await serve?.status();
    assert.ok(answer, "serve answers on serve.sock");
    return answer;
  };

  /** Waits for the idle power-off, and checks the guest powered off cleanly. */
  async function waitForIdlePowerOff(): Promise<void> {
    const offset = JSON.parse(await readFile(join(builder.stateDir, "instance.json"), "utf8")).consoleOffset;
    // Install's ssh keeps its connection 60 s after the last build; then 6 s idle; then the power-off.
    await until("the idle power-off", 180_000, async () => (await status()).vm.state === "off");
    assert.ok(poweredOff(await readConsoleSince(join(builder.stateDir, "console.log"), offset)));
    assert.match(await (serve as ServeProcess).log(), /stopping the builder \(pid \d+\): idle for 0\.1 min/);
  }

  test("a build with the VM off boots it; a second build during that boot works too", {
    timeout: 20 * 60_000,
  }, async () => {
    assert.equal((await status()).vm.state, "off");
    const first = build("lb-serve-cold");
    // The second arrives while the first one's connection waits for the boot.
    await until("the boot", 60_000, async () => (await status()).vm.state === "booting");
    const second = build("lb-serve-during-boot");
    const [one, two] = await Promise.all([first, second]);
    assert.match(one.text, /^built on 6\.\d+/);
    assert.match(two.text, /^built on 6\.\d+/);
    seconds.cold.push(one.seconds);
    const after = await status();
    assert.equal(after.vm.state, "up");
    assert.equal(after.totals.boots, 1);
    assert.ok(after.totals.connections >= 2);
    for (const name of ["lb-serve-warm-1", "lb-serve-warm-2", "lb-serve-warm-3"]) {
      seconds.warm.push((await build(name)).seconds);
    }
    assert.equal((await status()).totals.boots, 1);
  });

  test("idle: powered off cleanly after the last build; a later build boots it again", {
    timeout: 20 * 60_000,
  }, async () => {
    await waitForIdlePowerOff();
    const again = await build("lb-serve-after-idle");
    assert.match(again.text, /^built on 6\.\d+/);
    seconds.cold.push(again.seconds);
    assert.equal((await status()).totals.boots, 2);
  });

  test("a build longer than the idle time is not cut off", { timeout: 20 * 60_000 }, async () => {
    // The sandbox's shell is all there is (no sleep): 20 s by bash's own clock.
    const long = await build(
      "lb-serve-long",
      'while [ "$SECONDS" -lt 20 ]; do :; done; echo "slept through" > $out',
    );
    assert.ok(long.seconds >= 20);
    assert.equal(long.text, "slept through\n");
    assert.equal((await status()).totals.boots, 2);
  });

  test("kill -9 of QEMU between builds: the next build boots a new VM; the store verifies", {
    timeout: 20 * 60_000,
  }, async () => {
    const before = await status();
    assert.equal(before.vm.state, "up");
    const pid = before.vm.pid as number;
    process.kill(pid, "SIGKILL");
    await until("serve noticing the VM died", 30_000, async () => (await status()).vm.state === "off");
    assert.match(await (serve as ServeProcess).log(), new RegExp(`the builder \\(pid ${pid}\\) is gone`));
    const after = await build("lb-serve-after-kill");
    assert.match(after.text, /^built on 6\.\d+/);
    const now = await status();
    assert.equal(now.totals.boots, 3);
    assert.notEqual(now.vm.pid, pid);
    const verified = await builder.cli("ssh", "--", "nix-store", "--verify", "--check-contents");
    assert.doesNotMatch(verified.stderr, /corrupt|error/i);
  });

  test("SIGTERM: the VM powered off cleanly, no QEMU left, nothing on the port, serve.sock gone", {
    timeout: 10 * 60_000,
  }, async () => {
    const running = await status();
    const pid = running.vm.pid as number;
    const offset = JSON.parse(await readFile(join(builder.stateDir, "instance.json"), "utf8")).consoleOffset;
    assert.equal(await (serve as ServeProcess).stop("SIGTERM"), 0);
    serve = undefined;
    // QEMU exited: gone, or a zombie the host's init has not reaped yet (its command line is empty).
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    assert.ok(!processAlive(pid) || cmdline === "", `QEMU (pid ${pid}) still runs`);
    assert.ok(poweredOff(await readConsoleSince(join(builder.stateDir, "console.log"), offset)));
    assert.equal(await listening(builder.port), false);
    assert.equal(await exists(join(builder.stateDir, "serve.sock")), false);
  });
});
