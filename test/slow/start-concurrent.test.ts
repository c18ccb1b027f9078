/**
 * `start` is idempotent and safe to run many times at once, under TCG through the CLI: ten starts
 * spawned together on one state folder boot exactly one QEMU and all succeed once it is ready; a
 * start after `start --no-wait` waits for that boot to be ready, and `run` on a running builder is
 * still an error; a foreign instance.json breaks nothing; `stop`, twice, succeeds twice.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, testHome, testImage } from "../support/guest-vm.js";

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The pids of the QEMU processes whose command line names `stateDir` (from /proc: Linux only). */
async function qemusFor(stateDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (argv[0]?.includes("qemu-system") && argv.some((arg) => arg.includes(stateDir)))
      pids.push(Number(name));
  }
  return pids;
}

describe("concurrent and repeated starts (slow)", {
  skip: process.platform !== "linux" && "reads /proc",
}, () => {
  let stateDir: string;
  let port: number;
  /** `linux-builder COMMAND …` for this test's builder; resolves with its exit status, never rejects. */
  const cli = (command: string, ...args: string[]): Promise<Ran> =>
    new Promise((resolve) => {
      execFile(
        "node",
        [
          "bin/linux-builder.js",
          command,
          ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
          ...["--cpus", "2", "--memory", "1024", "--disk", "8"],
          ...args,
        ],
        { env: { ...process.env, LINUX_BUILDER_HOME: testHome() }, timeout: 900_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const ok = (ran: Ran, what: string) =>
    assert.equal(ran.code, 0, `${what} exited ${ran.code}:\n${ran.stderr}${ran.stdout}`);

  before(async () => {
    await testImage("amd64");
    stateDir = await mkdtemp(join(tmpdir(), "lb-state-concurrent-"));
    port = await freePort();
  });

  after(async () => {
    await cli("stop", "--timeout", "5");
    await rm(stateDir, { recursive: true, force: true });
  });

  test("ten starts at once: one QEMU, all ten succeed once it is ready; stop, and stop again", {
    timeout: 20 * 60_000,
  }, async () => {
    const starts = await Promise.all(Array.from({ length: 10 }, () => cli("start")));
    starts.forEach((ran, index) => {
      ok(ran, `start #${index}`);
    });
    const booted = starts.filter((ran) => /^Ready in [0-9.]+ s \(pid \d+, tcg/m.test(ran.stderr));
    const found = starts.filter((ran) =>
      /^The builder is already running and ready \(pid \d+(; waited [0-9.]+ s for it)?\)\.$/m.test(
        ran.stderr,
      ),
    );
    assert.equal(booted.length, 1, "exactly one start booted it");
    assert.equal(found.length, 9, "the others found it running, and ready");
    // None of them booted a second one.
    for (const ran of found) assert.doesNotMatch(ran.stderr, /Starting the /);

    const pidfile = Number((await readFile(join(stateDir, "qemu.pid"), "utf8")).trim());
    assert.deepEqual(await qemusFor(stateDir), [pidfile], "exactly one QEMU for the state folder");
    for (const ran of [...booted, ...found]) assert.match(ran.stderr, new RegExp(`\\(pid ${pidfile}[,;)]`));
    const status = await cli("status", "--json");
    ok(status, "status");
    const report = JSON.parse(status.stdout);
    assert.equal(report.running, true);
    assert.equal(report.ready, true);
    assert.equal(report.pid, pidfile);

    const stopped = await cli("stop");
    ok(stopped, "stop");
    assert.match(stopped.stderr, /Stopped: the guest powered off cleanly/);
    assert.deepEqual(await qemusFor(stateDir), []);
    const again = await cli("stop");
    ok(again, "stop of a stopped builder");
    assert.match(again.stderr, /^The builder is not running\.$/m);
  });

  test("a start after start --no-wait waits for it to be ready; run on it is an error; a foreign instance.json breaks nothing", {
    timeout: 20 * 60_000,
  }, async () => {
    const first = await cli("start", "--no-wait");
    ok(first, "start --no-wait");
    const pid = /^Started \(pid (\d+), tcg\); not waiting for it to be ready\.$/m.exec(first.stderr)?.[1];
    assert.ok(pid, first.stderr);
    const second = await cli("start");
    ok(second, "start");
    assert.match(
      second.stderr,
      new RegExp(
        // It came while the guest was booting (a boot takes seconds under TCG): it waited.
        `^The builder is already running and ready \\(pid ${pid}; waited [0-9.]+ s for it\\)\\.$`,
        "m",
      ),
    );
    // run, attached, cannot take over a running builder: still an error, saying so.
    const attached = await cli("run", "--no-install");
    assert.equal(attached.code, 1, attached.stderr);
    assert.match(
      attached.stderr,
      new RegExp(`already running \\(pid ${pid}\\): \`run\` boots one in this terminal`),
    );
    // --no-wait on a running builder: at once, without a word about readiness.
    const third = await cli("start", "--no-wait");
    ok(third, "start --no-wait again");
    assert.match(
      third.stderr,
      new RegExp(`^The builder is already running \\(pid ${pid}\\); not waiting`, "m"),
    );
    assert.deepEqual(await qemusFor(stateDir), [Number(pid)]);

    // A foreign instance.json is unknown, never a crash: the builder is still found, asked and reached.
    await writeFile(join(stateDir, "instance.json"), '{"name": "something else"}\n');
    const status = await cli("status", "--json");
    ok(status, "status over a foreign instance.json");
    assert.deepEqual(
      (({ running, pid, ready, accel }) => ({ running, pid, ready, accel }))(JSON.parse(status.stdout)),
      { running: true, pid: Number(pid), ready: true, accel: null },
    );
    const fourth = await cli("start");
    ok(fourth, "start over a foreign instance.json");
    assert.match(fourth.stderr, new RegExp(`already running and ready \\(pid ${pid}`));
    const ssh = await cli("ssh", "--", "echo", "reached");
    ok(ssh, "ssh over a foreign instance.json");
    assert.equal(ssh.stdout, "reached\n");
    const stopped = await cli("stop");
    ok(stopped, "stop");
    assert.match(stopped.stderr, /Stopped: the guest powered off cleanly/);
  });
});
