/**
 * The service (`linux-builder serve`, the front door on 127.0.0.1:port): what booting on demand
 * costs a build, and what the front door costs a connection.
 *
 * - `linux-builder start` (VM off → ready) through the service, beside the same without a service.
 * - A trivial build through the installed configuration with the VM off (the connection boots it:
 *   connection → result), beside the same build right after, with the VM up. Both as installed
 *   (ssh connection reuse); the reuse connection is ended before each stop, as the service's stop
 *   closes it anyway.
 * - Per connection, with the VM up: `ssh … true` without reuse, and a raw TCP connect + sshd's
 *   banner, through the front door beside straight to QEMU's forward (the service's vm.forwardPort),
 *   interleaved so that both see the same machine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { serviceStatus } from "../src/service/control-client.js";
import type { ServiceStatus } from "../src/service/control-protocol.js";
import { sshArgs } from "../src/ssh/builder-ssh.js";
import type { VmShape } from "./baseline-vm.js";
import { nixBuild } from "./builds.js";
import { benchEnv, CLI, endReuse, type Installed, OurBuilder, shortTempDir } from "./ours.js";
import { BENCH_DIR, freePort, log, median, onInterrupt, runCommand, sleep, tail } from "./support.js";

/** The last run's serve.log. */
export const SERVE_LOG = join(BENCH_DIR, "service-serve.log");

export interface ServiceFigures {
  /** Seconds of `linux-builder start` (VM off → ready) through the service, and without one. */
  readonly startService: number[];
  readonly startDirect: number[];
  /** Seconds of each build with the VM off (boot included), and of the same build with it up. */
  readonly buildOff: number[];
  readonly buildUp: number[];
  /** Seconds of each `ssh … true`, through the front door and straight to the forward. */
  readonly sshFront: number[];
  readonly sshDirect: number[];
  /** Seconds from connect() to sshd's banner line, both ways. */
  readonly bannerFront: number[];
  readonly bannerDirect: number[];
  /** The service's counters at the end (connections carried, boots). */
  readonly totals: ServiceStatus["totals"] | null;
  readonly failures: string[];
}

/** Seconds from connect() to the first line sshd sends ("SSH-2.0-…"). */
function bannerSeconds(port: number, timeoutMs = 60_000): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no ssh banner on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (!received.includes("\n")) return;
      const seconds = (performance.now() - started) / 1000;
      clearTimeout(timer);
      socket.destroy();
      if (received.startsWith("SSH-")) resolve(seconds);
      else reject(new Error(`port ${port} answered ${JSON.stringify(received.slice(0, 40))}, not sshd`));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Polls the control socket until the service listens on its front door. */
async function serviceListening(socketPath: string, serve: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (serve.exitCode !== null) throw new Error(`serve exited (${serve.exitCode}) before it listened`);
    const status = await serviceStatus(socketPath).catch(() => undefined);
    if (status?.listening) return status;
    await sleep(200);
  }
  throw new Error(`serve did not listen within ${timeoutMs / 1000} s`);
}

/** SIGTERM: serve powers the VM off cleanly and exits; SIGKILL after `timeoutMs`. */
async function endServe(serve: ChildProcess, timeoutMs: number): Promise<void> {
  if (serve.exitCode !== null || serve.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => serve.once("exit", () => resolve()));
  serve.kill("SIGTERM");
  const timer = setTimeout(() => serve.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export async function serviceBench(options: {
  readonly shape: VmShape;
  readonly diskGiB: number;
  /** Cold/warm build pairs. */
  readonly builds: number;
  /** Connections each way, for each of ssh and the banner. */
  readonly connections: number;
}): Promise<ServiceFigures> {
  const dir = await shortTempDir();
  const builder = new OurBuilder(join(dir, "state"), await freePort(), options.shape, options.diskGiB);
  const figures = {
    startService: [] as number[],
    startDirect: [] as number[],
    buildOff: [] as number[],
    buildUp: [] as number[],
    sshFront: [] as number[],
    sshDirect: [] as number[],
    bannerFront: [] as number[],
    bannerDirect: [] as number[],
    failures: [] as string[],
  };
  let serve: ChildProcess | undefined;
  let installed: Installed | undefined;
  let serveStderr = "";
  const cleanup = async () => {
    if (installed) await endReuse(installed);
    if (serve) await endServe(serve, 120_000);
    await builder.stop().catch(() => undefined);
    // serve's log says when each boot began and was ready: kept for a person to read.
    await copyFile(builder.layout.serviceLog, SERVE_LOG).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanup);
  let totals: ServiceStatus["totals"] | null = null;
  try {
    // The first boot of a fresh state (keys, a blank disk) is not what is measured: done by hand.
    log("service: a first boot by hand, install, stop");
    await builder.startReady(120, figures.failures);
    installed = await builder.install(dir);
    await endReuse(installed);
    await builder.stop();
    log(`service: ${options.builds} later boots with \`start\`, no service`);
    for (let i = 0; i < options.builds; i++) {
      const started = await builder.start(120);
      if (started.ok && started.seconds !== null) figures.startDirect.push(started.seconds);
      else figures.failures.push(`start without the service: ${started.error}`);
      await builder.stop();
    }

    log("service: linux-builder serve");
    // Never powered off for idleness during the bench: each stop is the bench's own.
    serve = spawn(process.execPath, [CLI, "serve", ...builder.flags, "--idle-minutes", "0"], {
      env: benchEnv(),
      stdio: ["ignore", "ignore", "pipe"],
    });
    serve.stderr?.on("data", (chunk: Buffer) => {
      serveStderr += chunk.toString("utf8");
    });
    const socketPath = builder.layout.serviceSocket;
    await serviceListening(socketPath, serve, 60_000);

    const { machines, sshConfig } = installed;
    const asInstalled = `-F ${sshConfig}`;
    for (let i = 0; i < options.builds; i++) {
      await endReuse(installed);
      const stopped = await builder.run("stop", ["--timeout", "60"], 180_000);
      if (stopped.code !== 0) throw new Error(`stop through the service failed: ${tail(stopped.stderr, 3)}`);
      log(
        `service: build ${i + 1}/${options.builds} with the VM off, then with it up; then \`start\` through it`,
      );
      for (const [samples, label] of [
        [figures.buildOff, "off"],
        [figures.buildUp, "up"],
      ] as const) {
        const built = await nixBuild(machines, asInstalled);
        if (built.seconds === null) figures.failures.push(`build (VM ${label}): ${built.error}`);
        else samples.push(built.seconds);
      }
      await endReuse(installed);
      await builder.run("stop", ["--timeout", "60"], 180_000);
      const started = await builder.start(120);
      if (started.ok && started.seconds !== null) figures.startService.push(started.seconds);
      else figures.failures.push(`start through the service: ${started.error}`);
    }

    const status = await serviceStatus(socketPath);
    const forwardPort = status?.vm.forwardPort;
    if (status?.vm.state !== "up" || forwardPort == null) {
      throw new Error(`the VM is not up behind the service (${status?.vm.state ?? "no service"})`);
    }
    log(
      `service: ${options.connections} connections each way: front door :${builder.port}, forward :${forwardPort}`,
    );
    const ways = [
      [builder.port, figures.sshFront, figures.bannerFront],
      [forwardPort, figures.sshDirect, figures.bannerDirect],
    ] as const;
    for (let i = 0; i < options.connections; i++) {
      // ABBA: neither way always goes first.
      for (const [port, ssh, banner] of i % 2 === 0 ? ways : [...ways].reverse()) {
        const ran = await runCommand("ssh", [...sshArgs(builder.layout, port), "true"], {
          timeoutMs: 120_000,
        });
        if (ran.code === 0) ssh.push(ran.seconds);
        else figures.failures.push(`ssh true on :${port}: ${tail(ran.stderr, 2)}`);
        try {
          banner.push(await bannerSeconds(port));
        } catch (error) {
          figures.failures.push(`banner on :${port}: ${(error as Error).message}`);
        }
      }
    }
    totals = (await serviceStatus(socketPath))?.totals ?? null;
    log(
      `service: build off ${median(figures.buildOff)?.toFixed(2)} s, up ${median(figures.buildUp)?.toFixed(2)} s; ssh true ${median(figures.sshFront)?.toFixed(3)} s front, ${median(figures.sshDirect)?.toFixed(3)} s direct`,
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}${serveStderr ? `\nserve said:\n${tail(serveStderr, 8)}` : ""}`,
    );
  } finally {
    unregister();
    await cleanup();
  }
  return { ...figures, totals };
}
