import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  clientHello,
  daemonAnswers,
  daemonAnswersAt,
  parseDaemonHello,
} from "../../../src/nix/daemon-handshake.js";

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
