import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { LinuxBuilderError } from "../../../src/errors.js";
import { askService, serviceStatus } from "../../../src/service/control-client.js";
import { pickFreePort } from "../../../src/service/lifecycle-control.js";
import { type RunningService, startService } from "../../../src/service/serve.js";
import { stateLayout } from "../../../src/vm/state.js";
import { fakeControl } from "./fake-service.js";

const run = promisify(execFile);

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function withService(
  run: (context: { dir: string; port: number; service: RunningService; log: string[] }) => Promise<void>,
) {
  const dir = await mkdtemp(join(tmpdir(), "lb-serve-"));
  const port = await pickFreePort();
  const log: string[] = [];
  const control = { ...fakeControl(), adopt: async () => undefined };
  const service = await startService({
    layout: stateLayout(dir),
    port,
    idleMinutes: 10,
    control,
    log: (line) => log.push(line),
    portRetryMs: 50,
  });
  try {
    await run({ dir, port, service, log });
  } finally {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe("serve", () => {
  test("answers status on serve.sock, listening on its port with the VM off; one serve per state folder", async () => {
    await withService(async ({ dir, port }) => {
      const status = await serviceStatus(join(dir, "serve.sock"));
      assert.equal(status?.port, port);
      assert.equal(status?.listening, true);
      assert.equal(status?.vm.state, "off");
      assert.equal(status?.pid, process.pid);
      await assert.rejects(
        startService({
          layout: stateLayout(dir),
          port,
          idleMinutes: 10,
          control: { ...fakeControl(), adopt: async () => undefined },
          log: () => {},
        }),
        (error) => error instanceof LinuxBuilderError && error.code === "service.running",
      );
    });
  });

  test("closing removes serve.sock and frees the port", async () => {
    let where: { dir: string; port: number } | undefined;
    await withService(async ({ dir, port }) => {
      where = { dir, port };
    });
    assert.ok(where);
    assert.equal(await exists(join(where.dir, "serve.sock")), false);
    const again = createServer();
    await new Promise<void>((resolve) => again.listen(where?.port, "127.0.0.1", resolve));
    await new Promise((resolve) => again.close(resolve));
  });

  test("a port held by another process: not listening (and said so) until it is free", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-serve-"));
    const port = await pickFreePort();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    const log: string[] = [];
    const service = await startService({
      layout: stateLayout(dir),
      port,
      idleMinutes: 10,
      control: { ...fakeControl(), adopt: async () => undefined },
      log: (line) => log.push(line),
      portRetryMs: 50,
    });
    try {
      const socket = join(dir, "serve.sock");
      assert.equal((await askService(socket, { op: "status" }, 5_000))?.status.listening, false);
      assert.ok(log.some((line) => line.includes("is taken")));
      await new Promise((resolve) => holder.close(resolve));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal((await serviceStatus(socket))?.listening, true);
    } finally {
      await service.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("something of another version answering on serve.sock is left alone, and refuses this serve", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-serve-"));
    const socket = join(dir, "serve.sock");
    const other = createServer((connection) => connection.end("not this protocol\n"));
    await new Promise<void>((resolve) => other.listen(socket, resolve));
    try {
      await assert.rejects(
        startService({
          layout: stateLayout(dir),
          port: await pickFreePort(),
          idleMinutes: 10,
          control: { ...fakeControl(), adopt: async () => undefined },
          log: () => {},
        }),
        (error) =>
          error instanceof LinuxBuilderError &&
          error.code === "service.running" &&
          error.message.includes("not as this version's service"),
      );
      assert.equal(await exists(socket), true);
      assert.equal(await exists(join(dir, "serve.lock")), false);
    } finally {
      other.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("serve.lock: a live holder refuses this serve, naming its pid; a dead one's is taken over and removed on close", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lb-serve-"));
    const lock = join(dir, "serve.lock");
    const start = async () =>
      startService({
        layout: stateLayout(dir),
        port: await pickFreePort(),
        idleMinutes: 10,
        control: { ...fakeControl(), adopt: async () => undefined },
        log: () => {},
      });
    try {
      // The test runner: alive, and not this process.
      await writeFile(lock, `${process.ppid}\n`);
      await assert.rejects(
        start(),
        (error) =>
          error instanceof LinuxBuilderError &&
          error.code === "service.running" &&
          error.message.includes(`pid ${process.ppid}`),
      );
      assert.equal(await readFile(lock, "utf8"), `${process.ppid}\n`);
      // Dated before the host's boot (as a clock stepped forward after serve started makes it look):
      // its holder lives, so it still refuses.
      await utimes(lock, new Date(0), new Date(0));
      await assert.rejects(
        start(),
        (error) => error instanceof LinuxBuilderError && error.code === "service.running",
      );
      assert.equal(await readFile(lock, "utf8"), `${process.ppid}\n`);
      // Above Linux's pid_max and macOS's: no such process.
      await writeFile(lock, "99999999\n");
      const service = await start();
      assert.equal(await readFile(lock, "utf8"), `${process.pid}\n`);
      await service.close();
      assert.equal(await exists(lock), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("--idle-minutes is checked and named", async () => {
    for (const [value, said] of [
      ["soon", '--idle-minutes must be a number of minutes, not "soon"'],
      ["20000", "--idle-minutes 20000 is more than a week"],
    ]) {
      const failed = await run("node", [
        "bin/linux-builder.js",
        "serve",
        "--idle-minutes",
        String(value),
      ]).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      assert.ok(failed && failed.code !== 0);
      assert.ok(failed.stderr.includes(String(said)), failed.stderr);
    }
  });
});
