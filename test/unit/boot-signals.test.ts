import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  clientHello,
  daemonAnswers,
  daemonAnswersAt,
  parseDaemonHello,
} from "../../src/nix/daemon-handshake.js";
import { consoleOffset, kernelCrash, scanConsole, waitForGuestSignal } from "../../src/vm/console-watch.js";

test("the guest's READY and FAILED lines", () => {
  assert.deepEqual(
    scanConsole("[ 1.0] x\r\nlinux-builder: stage 2 at 1.9s\r\nlinux-builder: READY at 2.74s\r\n"),
    {
      kind: "ready",
    },
  );
  assert.deepEqual(scanConsole("linux-builder: FAILED: no data disk (/dev/vda) for /nix\r\nBusyBox"), {
    kind: "failed",
    reason: "no data disk (/dev/vda) for /nix",
  });
  assert.equal(scanConsole("linux-builder: stage 2 at 1.9s\r\nlinux-builder: REA"), undefined);
  // sshd listens before the rest is up: the host may start its handshake.
  assert.deepEqual(scanConsole("linux-builder: SSHD at 2.1s\r\n"), { kind: "sshd" });
  assert.deepEqual(scanConsole("linux-builder: SSHD at 2.1s\nlinux-builder: READY at 2.3s\n"), {
    kind: "ready",
  });
  assert.deepEqual(scanConsole("linux-builder: SSHD at 2.1s\nlinux-builder: FAILED: x\n"), {
    kind: "failed",
    reason: "x",
  });
});

test("watching the console log: only this boot's part counts, a line split across reads is found", async () => {
  const dir = await mkdtemp(join(tmpdir(), "lb-console-"));
  try {
    const log = join(dir, "console.log");
    await writeFile(log, "linux-builder: READY at 3.1s\n"); // the previous boot's
    const offset = await consoleOffset(log);
    const deadline = Date.now() + 5000;
    const waiting = waitForGuestSignal(log, offset, { deadline, alive: async () => true, intervalMs: 5 });
    await appendFile(log, "linux-builder: stage 2 at 1.9s\nlinux-builder: RE");
    await new Promise((resolve) => setTimeout(resolve, 30));
    await appendFile(log, "ADY at 2.7s\n");
    assert.deepEqual(await waiting, { kind: "ready" });
    // A VM that is gone, and a deadline that passes.
    const end = await consoleOffset(log);
    assert.equal(await waitForGuestSignal(log, end, { deadline, alive: async () => false }), "gone");
    assert.equal(
      await waitForGuestSignal(log, end, { deadline: Date.now() + 50, alive: async () => true }),
      undefined,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the Nix daemon's hello: magic and protocol version", async () => {
  const answer = Buffer.alloc(16);
  answer.writeBigUInt64LE(0x6478696fn, 0);
  answer.writeBigUInt64LE(BigInt((1 << 8) | 37), 8);
  assert.deepEqual(parseDaemonHello(answer), { protocol: "1.37" });
  assert.equal(parseDaemonHello(Buffer.alloc(16)), undefined);
  assert.equal(parseDaemonHello(answer.subarray(0, 8)), undefined);
  assert.equal(clientHello().readBigUInt64LE(0), 0x6e697863n);
  // Against the real daemon protocol, over a pipe instead of ssh: Debian's nix-daemon --stdio.
  const local = await daemonAnswers("nix-daemon", ["--stdio"], 10_000);
  assert.match(local?.protocol ?? "none", /^1\.\d+$/);
  assert.equal(await daemonAnswers("sh", ["-c", "cat >/dev/null"], 300), undefined);
  assert.equal(await daemonAnswers("/nonexistent/ssh", [], 1000), undefined);
});

test("the Nix daemon's hello over a unix socket, as the ssh forward gives it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "lb-daemon-socket-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // Behind the socket, the real protocol: Debian's nix-daemon --stdio, one per connection.
  const relay = createServer((connection) => {
    const daemon = spawn("nix-daemon", ["--stdio"], { stdio: ["pipe", "pipe", "ignore"] });
    connection.pipe(daemon.stdin);
    daemon.stdout.pipe(connection);
    connection.on("close", () => daemon.kill());
    connection.on("error", () => daemon.kill());
  });
  const daemonPath = join(dir, "nix.sock");
  await new Promise<void>((resolve) => relay.listen(daemonPath, resolve));
  t.after(() => relay.close());
  const answered = await daemonAnswersAt(daemonPath, 10_000);
  assert.match(answered.hello?.protocol ?? "none", /^1\.\d+$/);
  assert.equal(answered.connected, true);

  // A socket whose other end closes without a word (the forward, before the guest's daemon is up).
  const silent = createServer((connection) => connection.end());
  const silentPath = join(dir, "silent.sock");
  await new Promise<void>((resolve) => silent.listen(silentPath, resolve));
  t.after(() => silent.close());
  assert.deepEqual(await daemonAnswersAt(silentPath, 5_000), { connected: true });
  // Nothing there, and a stale socket file nobody listens on: not even connected.
  assert.deepEqual(await daemonAnswersAt(join(dir, "missing.sock"), 1_000), { connected: false });
  const stale = join(dir, "stale.sock");
  await writeFile(stale, "");
  assert.deepEqual(await daemonAnswersAt(stale, 1_000), { connected: false });
});

test("the kernel's last words when it crashed", () => {
  assert.equal(
    kernelCrash("[ 1.7] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\r\n[ 1.7] CPU: 1"),
    "Oops: int3: 0000 [#1] PREEMPT SMP NOPTI",
  );
  assert.equal(
    kernelCrash("x\nKernel panic - not syncing: Fatal exception\n"),
    "Kernel panic - not syncing: Fatal exception",
  );
  assert.equal(kernelCrash("linux-builder: READY at 3.2s\n"), undefined);
});
