/**
 * Per-build overhead: N sequential trivial builds handed to the builder by the host's own Nix
 * (`nix-build --max-jobs 0`), through exactly the machines line and ssh_config alias `install`
 * writes. Once as installed (ssh connection reuse: ControlMaster), once with reuse turned off on
 * ssh's command line, and once as installed but through the guest's real `nix-daemon --stdio`
 * (the machines line's store URI with `?remote-program=`: what an ssh-ng:// session ran before the
 * guest routed it straight to the daemon's socket); interleaved, so that all see the same machine.
 * Then where a build's time goes, as far as it shows from outside: the ssh session alone (`ssh
 * ALIAS true`) and the ssh-ng session's handshake alone (`nix store ping`), each beside the same
 * through the real `nix-daemon --stdio` or on the baseline. Then a builder online: another of
 * ours with an HTTPS cache it reaches as an extra substituter, which the guest asks about every
 * build's outputs (see onlineBuilds). Optionally the systemd baseline too, through the same kind of
 * machines line and an alias without reuse, as a conventional builder is set up.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machinesLine, sshConfigBlock } from "../src/nix/builders.js";
import { makeServerCert, makeTestCa } from "../test/support/https-cache.js";
import type { BaselineImage } from "./baseline-image.js";
import type { VmShape } from "./baseline-vm.js";
import { baselineSubject } from "./boot.js";
import { BENCH_HOME, endReuse, type Installed, OurBuilder, shortTempDir } from "./ours.js";
import { freePort, log, median, onInterrupt, runCommand, tail } from "./support.js";
import type { Row } from "./table.js";

export interface BuildRun {
  /** Seconds of each timed build that succeeded. */
  readonly seconds: number[];
  readonly failures: string[];
}

/** One guest's answers to the parts of a build's path that can be timed alone. */
export interface SessionRuns {
  /** `ssh ALIAS true`: the ssh session alone. */
  readonly ssh: BuildRun;
  /** `nix store ping --store ssh-ng://…`: the ssh-ng session's handshake with the guest's daemon. */
  readonly ping: BuildRun;
}

export interface BuildFigures {
  readonly n: number;
  readonly reuse: BuildRun | null;
  readonly noReuse: BuildRun | null;
  /** As installed (reuse), through the guest's real `nix-daemon --stdio`. */
  readonly realStdio: BuildRun | null;
  readonly baseline: BuildRun | null;
  /** Ours as installed; the ping also through the real `nix-daemon --stdio` (`pingRealStdio`). */
  readonly sessions: (SessionRuns & { readonly pingRealStdio: BuildRun }) | null;
  readonly baselineSessions: SessionRuns | null;
  /** Ours with an HTTPS cache the guest reaches, beside the same builds while its port refuses. */
  readonly online: OnlineRuns | null;
  readonly notes: string[];
}

/** Builds on a builder with an extra HTTPS substituter: answering, and refusing connections. */
export interface OnlineRuns {
  readonly reachable: BuildRun;
  readonly refused: BuildRun;
  /** TLS connections the cache accepted during the timed reachable builds. */
  readonly connections: number;
}

const NO_REUSE = "-oControlMaster=no -oControlPath=none";

/**
 * The guest's own Nix program for an ssh-ng:// store: ssh then runs `/usr/bin/nix-daemon --stdio`,
 * which the guest's session routing leaves to the real binary (only `nix-daemon --stdio` goes to
 * the daemon's socket).
 */
const REAL_STDIO_PARAMETER = "remote-program=/usr/bin/nix-daemon";

/** A machines file's store URIs with `parameter` added: the same builder, through another program. */
export function withStoreParameter(machines: string, parameter: string): string {
  return machines.replace(
    /^(ssh-ng:\/\/\S+)/gm,
    (uri) => `${uri}${uri.includes("?") ? "&" : "?"}${parameter}`,
  );
}

const newRun = (): { seconds: number[]; failures: string[] } => ({ seconds: [], failures: [] });

/**
 * ssh's options with the guest's host key pinned the way Nix pins it for builds (from the machines
 * line), for ssh and the ping run on the side: a known_hosts file in `dir` for `alias`.
 */
async function pinnedSshOpts(sshOpts: string, dir: string, alias: string, hostKey: string): Promise<string> {
  const knownHosts = join(dir, "known_hosts");
  await writeFile(knownHosts, `${alias} ${hostKey}\n`);
  return `${sshOpts} -oUserKnownHostsFile=${knownHosts}`;
}

/** The host key a machines file pins for its first builder (the last field, base64 of "type blob"). */
function machinesHostKey(machines: string): string {
  const line = machines.split("\n").find((entry) => entry.startsWith("ssh-ng://"));
  return Buffer.from(line?.trim().split(/\s+/).at(-1) ?? "", "base64").toString("utf8");
}

let counter = 0;

/** One trivial build with a fresh nonce, so that it really runs on the builder. */
export async function nixBuild(
  machines: string,
  sshOpts: string,
): Promise<{ seconds: number | null; error?: string }> {
  const nonce = `${process.pid}-${Date.now()}-${counter++}`;
  const expression = `derivation { name = "lb-bench"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ${nonce} > $out" ]; nonce = "${nonce}"; }`;
  const result = await runCommand(
    "nix-build",
    [
      ...["--max-jobs", "0", "--builders", `@${machines}`, "--no-out-link"],
      // The host's own substituter query, the same for every builder: off. This machine is offline,
      // where it cost ~4.6 s of retries per build and hid the builder's own overhead.
      ...["--option", "substituters", ""],
      ...["-E", expression],
    ],
    { env: { ...process.env, NIX_SSHOPTS: sshOpts }, timeoutMs: 180_000 },
  );
  if (result.code !== 0 || !/\/nix\/store\/[a-z0-9]{32}-lb-bench/.test(result.stdout)) {
    return { seconds: null, error: `nix-build failed (${result.code}): ${tail(result.stderr, 4)}` };
  }
  return { seconds: result.seconds };
}

/** `nix store ping`: ssh, the ssh-ng session's start and the worker protocol's handshake, nothing else. */
async function storePing(
  storeUri: string,
  sshOpts: string,
): Promise<{ seconds: number | null; error?: string }> {
  const result = await runCommand(
    "nix",
    ["--extra-experimental-features", "nix-command", "store", "ping", "--store", storeUri],
    { env: { ...process.env, NIX_SSHOPTS: sshOpts }, timeoutMs: 120_000 },
  );
  if (result.code !== 0)
    return { seconds: null, error: `nix store ping failed (${result.code}): ${tail(result.stderr, 3)}` };
  return { seconds: result.seconds };
}

/** `ssh ALIAS true`: the ssh session alone, a command the guest's shell runs. */
async function sshTrue(alias: string, sshOpts: string): Promise<{ seconds: number | null; error?: string }> {
  const result = await runCommand("ssh", [...sshOpts.split(" "), alias, "true"], { timeoutMs: 120_000 });
  if (result.code !== 0)
    return { seconds: null, error: `ssh failed (${result.code}): ${tail(result.stderr, 3)}` };
  return { seconds: result.seconds };
}

function record(
  run: { seconds: number[]; failures: string[] },
  result: { seconds: number | null; error?: string },
) {
  if (result.seconds !== null) run.seconds.push(result.seconds);
  else {
    run.failures.push(result.error ?? "failed");
    log(`builds: a build failed: ${result.error?.split("\n").pop()}`);
  }
}

type Mode = "reuse" | "noReuse" | "realStdio";

/**
 * Reuse, no-reuse and reuse through the real `nix-daemon --stdio`, interleaved (each round in another
 * order), on one fresh builder of ours; then its sessions, the ping through both programs alternating.
 */
async function ourBuilds(n: number, shape: VmShape, diskGiB: number, notes: string[]) {
  const dir = await shortTempDir();
  const builder = new OurBuilder(join(dir, "state"), await freePort(), shape, diskGiB);
  const runs: Record<Mode, BuildRun> = { reuse: newRun(), noReuse: newRun(), realStdio: newRun() };
  const sessions = { ssh: newRun(), ping: newRun(), pingRealStdio: newRun() };
  let installed: Installed | undefined;
  const unregister = onInterrupt(async () => {
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    log("builds: ours: start");
    await builder.startReady(120, notes);
    installed = await builder.install(dir);
    const { machines, sshConfig, alias } = installed;
    const realStdioMachines = join(dir, "machines-real-stdio");
    const machinesText = await readFile(machines, "utf8");
    await writeFile(realStdioMachines, withStoreParameter(machinesText, REAL_STDIO_PARAMETER));
    const reuse = `-F ${sshConfig}`;
    const modes: Record<Mode, { machines: string; sshOpts: string }> = {
      reuse: { machines, sshOpts: reuse },
      noReuse: { machines, sshOpts: `${reuse} ${NO_REUSE}` },
      realStdio: { machines: realStdioMachines, sshOpts: reuse },
    };
    const order: Mode[] = ["reuse", "noReuse", "realStdio"];
    log(
      `builds: ours: ${n} + 1 builds each way (reuse as installed, ${NO_REUSE}, the real nix-daemon --stdio), interleaved`,
    );
    // One untimed build each way first: the host's Nix and the guest's store warm up.
    for (const mode of order) {
      const warm = await nixBuild(modes[mode].machines, modes[mode].sshOpts);
      if (warm.seconds === null) notes.push(`warm-up build (${mode}) failed: ${warm.error}`);
    }
    for (let i = 0; i < n; i++) {
      const round = i % 2 === 0 ? order : [...order].reverse();
      for (const mode of round) record(runs[mode], await nixBuild(modes[mode].machines, modes[mode].sshOpts));
    }
    log(
      `builds: ours: median ${median(runs.reuse.seconds)?.toFixed(2)} s with reuse, ${median(runs.noReuse.seconds)?.toFixed(2)} s without, ${median(runs.realStdio.seconds)?.toFixed(2)} s through the real nix-daemon --stdio`,
    );
    const store = `ssh-ng://builder@${alias}`;
    const pinned = await pinnedSshOpts(reuse, dir, alias, machinesHostKey(machinesText));
    for (let i = 0; i < n; i++) {
      record(sessions.ssh, await sshTrue(alias, pinned));
      const pings = [
        () => storePing(store, pinned).then((result) => record(sessions.ping, result)),
        () =>
          storePing(`${store}?${REAL_STDIO_PARAMETER}`, pinned).then((result) =>
            record(sessions.pingRealStdio, result),
          ),
      ];
      for (const ping of i % 2 === 0 ? pings : pings.reverse()) await ping();
    }
    log(
      `builds: ours: median ssh ${median(sessions.ssh.seconds)?.toFixed(2)} s, store ping ${median(sessions.ping.seconds)?.toFixed(2)} s, ${median(sessions.pingRealStdio.seconds)?.toFixed(2)} s through the real nix-daemon --stdio`,
    );
  } finally {
    unregister();
    if (installed) await endReuse(installed);
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return { ...runs, sessions };
}

/**
 * An HTTPS binary cache on 127.0.0.1:`port` that has nothing (404 for every narinfo, as for a new
 * output), which can stop listening and start again on the same port.
 */
function emptyHttpsCache(port: number, tls: { cert: string; key: string }) {
  let connections = 0;
  const server = createServer(tls, (request, response) => {
    if (request.url === "/nix-cache-info")
      response.end("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n");
    else response.writeHead(404).end();
  });
  server.on("secureConnection", () => connections++);
  return {
    connections: () => connections,
    up: () => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve)),
    down: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A builder online. For every build the guest's daemon asks each substituter about the outputs
 * first, over a new HTTPS connection (each ssh-ng session is a new daemon worker). A local cache
 * over HTTPS stands in for cache.nixos.org: an extra substituter at 10.0.2.2 (QEMU's host), its
 * throw-away CA sent as caCertificates, in a home of its own that shares the bench home's packages
 * and images. Builds while it answers alternate with builds while its port refuses (a failed
 * connection costs next to nothing: the builder as offline), on one builder.
 */
async function onlineBuilds(
  n: number,
  shape: VmShape,
  diskGiB: number,
  notes: string[],
): Promise<OnlineRuns> {
  const dir = await shortTempDir();
  const home = join(dir, "home");
  await mkdir(home);
  await symlink(join(BENCH_HOME, "cache"), join(home, "cache"));
  await symlink(join(BENCH_HOME, "images"), join(home, "images"));
  const ca = await makeTestCa(dir, "lb-bench-ca");
  const cachePort = await freePort();
  const cache = emptyHttpsCache(cachePort, await makeServerCert(dir, ca, ["10.0.2.2"]));
  await writeFile(
    join(home, "config.json"),
    JSON.stringify({ extraSubstituters: [`https://10.0.2.2:${cachePort}`], caCertificates: ca.certFile }),
  );
  const builder = new OurBuilder(join(dir, "state"), await freePort(), shape, diskGiB, home);
  const runs = { reachable: newRun(), refused: newRun() };
  let connections = 0;
  let installed: Installed | undefined;
  let listening = false;
  const unregister = onInterrupt(async () => {
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    log("builds: online: start (an extra HTTPS substituter at 10.0.2.2)");
    await builder.startReady(120, notes);
    installed = await builder.install(dir);
    const { machines, sshConfig } = installed;
    const sshOpts = `-F ${sshConfig}`;
    await cache.up();
    listening = true;
    const warm = await nixBuild(machines, sshOpts);
    if (warm.seconds === null) notes.push(`online: warm-up build failed: ${warm.error}`);
    log(`builds: online: ${n} builds each way, the cache answering or refusing, alternating`);
    for (let i = 0; i < n; i++) {
      const order: (keyof typeof runs)[] = i % 2 === 0 ? ["reachable", "refused"] : ["refused", "reachable"];
      for (const way of order) {
        if ((way === "reachable") !== listening) {
          await (listening ? cache.down() : cache.up());
          listening = !listening;
        }
        const before = cache.connections();
        record(runs[way], await nixBuild(machines, sshOpts));
        if (way === "reachable") connections += cache.connections() - before;
      }
    }
    log(
      `builds: online: median ${median(runs.reachable.seconds)?.toFixed(2)} s with the cache reachable, ${median(runs.refused.seconds)?.toFixed(2)} s refused; ${connections} TLS connections`,
    );
  } finally {
    unregister();
    if (listening) await cache.down();
    if (installed) await endReuse(installed);
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return { ...runs, connections };
}

/** The systemd baseline as a conventional builder: a machines line and a plain ssh alias. */
async function baselineBuilds(
  n: number,
  image: BaselineImage,
  shape: VmShape,
  notes: string[],
): Promise<{ builds: BuildRun; sessions: SessionRuns }> {
  const run = newRun();
  const sessions = { ssh: newRun(), ping: newRun() };
  const subject = await baselineSubject(image, shape, 180);
  const dir = await mkdtemp(join(tmpdir(), "lb-bench-baseline-nix-"));
  try {
    log("builds: baseline: boot");
    let booted = await subject.boot();
    if (!booted.ok) {
      notes.push(`baseline: boot failed, tried again: ${booted.error}`);
      await subject.reset();
      booted = await subject.boot();
    }
    if (!booted.ok) throw new Error(`the baseline did not boot: ${booted.error}`);
    const port = subject.port;
    const alias = "lb-bench-baseline";
    const machines = join(dir, "machines");
    await writeFile(
      machines,
      `${machinesLine({
        alias,
        systems: ["x86_64-linux"],
        identityFile: image.builderKey,
        maxJobs: shape.cpus,
        speedFactor: 1,
        supportedFeatures: [],
        hostPublicKey: image.hostPublicKey,
      })}\n`,
    );
    const sshConfig = join(dir, "ssh_config");
    await writeFile(sshConfig, sshConfigBlock({ alias, port, identityFile: image.builderKey }));
    log(`builds: baseline: ${n} + 1 builds`);
    await nixBuild(machines, `-F ${sshConfig}`);
    for (let i = 0; i < n; i++) record(run, await nixBuild(machines, `-F ${sshConfig}`));
    log(`builds: baseline: median ${median(run.seconds)?.toFixed(2)} s`);
    const pinned = await pinnedSshOpts(`-F ${sshConfig}`, dir, alias, image.hostPublicKey);
    for (let i = 0; i < n; i++) {
      record(sessions.ssh, await sshTrue(alias, pinned));
      record(sessions.ping, await storePing(`ssh-ng://builder@${alias}`, pinned));
    }
    log(
      `builds: baseline: median ssh ${median(sessions.ssh.seconds)?.toFixed(2)} s, store ping ${median(sessions.ping.seconds)?.toFixed(2)} s`,
    );
  } finally {
    await subject.stop().catch(() => undefined);
    await subject.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  return { builds: run, sessions };
}

export async function buildBench(options: {
  n: number;
  shape: VmShape;
  diskGiB: number;
  baseline: BaselineImage | null;
}): Promise<BuildFigures> {
  const notes: string[] = [];
  let ours: Awaited<ReturnType<typeof ourBuilds>> | null = null;
  try {
    ours = await ourBuilds(options.n, options.shape, options.diskGiB, notes);
  } catch (error) {
    notes.push(`ours: ${(error as Error).message}`);
    log(`builds: ours failed: ${(error as Error).message}`);
  }
  let online: OnlineRuns | null = null;
  try {
    online = await onlineBuilds(options.n, options.shape, options.diskGiB, notes);
  } catch (error) {
    notes.push(`online: ${(error as Error).message}`);
    log(`builds: online failed: ${(error as Error).message}`);
  }
  let baseline: Awaited<ReturnType<typeof baselineBuilds>> | null = null;
  if (options.baseline) {
    try {
      baseline = await baselineBuilds(options.n, options.baseline, options.shape, notes);
    } catch (error) {
      notes.push(`baseline: ${(error as Error).message}`);
      log(`builds: baseline failed: ${(error as Error).message}`);
    }
  }
  return {
    n: options.n,
    reuse: ours?.reuse ?? null,
    noReuse: ours?.noReuse ?? null,
    realStdio: ours?.realStdio ?? null,
    baseline: baseline?.builds ?? null,
    sessions: ours?.sessions ?? null,
    baselineSessions: baseline?.sessions ?? null,
    online,
    notes,
  };
}

/**
 * Where a build's time goes, as far as it shows from outside, each part beside the same part done
 * the old way (the real `nix-daemon --stdio`) or on the systemd guest, from the same run.
 */
export function buildBreakdownRows(figures: BuildFigures | undefined, why: string | undefined): Row[] {
  const med = (run: BuildRun | null | undefined) => median(run?.seconds ?? []);
  const fails = (run: BuildRun | null | undefined) =>
    run && run.failures.length > 0 ? `; ${run.failures.length} failed` : "";
  const sessions = figures?.sessions;
  const baselineSessions = figures?.baselineSessions;
  const n = figures?.n ?? 0;
  return [
    {
      part: "build",
      what: `per build, through the guest's real nix-daemon --stdio (median of ${n})`,
      ours: med(figures?.reuse),
      baseline: med(figures?.realStdio),
      unit: "s",
      note: `both as installed (reuse), interleaved; baseline: the machines line's store URI with ?${REAL_STDIO_PARAMETER}, what each ssh-ng session started before the guest routed it to the daemon's socket${fails(figures?.realStdio)}`,
    },
    {
      part: "build",
      what: `per build, online: an HTTPS cache reachable (median of ${figures?.online?.reachable.seconds.length ?? 0})`,
      ours: med(figures?.online?.reachable),
      baseline: med(figures?.online?.refused),
      unit: "s",
      note: `another builder of ours, a local HTTPS cache with nothing in it as an extra substituter at 10.0.2.2 (as cache.nixos.org is to a builder online): the guest asks it about each build's outputs over a new TLS connection (${figures?.online?.connections ?? 0} for ${figures?.online?.reachable.seconds.length ?? 0} builds); baseline: the same builds while its port refuses, alternating${fails(figures?.online?.reachable)}${fails(figures?.online?.refused)}`,
    },
    {
      part: "build",
      what: "ssh-ng session: handshake only (nix store ping, median)",
      ours: med(sessions?.ping),
      baseline: med(sessions?.pingRealStdio),
      unit: "s",
      note: `ssh + the session + the worker protocol's handshake, as installed (reuse); baseline: through the real nix-daemon --stdio; alternating${fails(sessions?.ping)}${fails(sessions?.pingRealStdio)}`,
    },
    {
      part: "build",
      what: "ssh-ng session: handshake only, beside a systemd guest (median)",
      ours: med(sessions?.ping),
      baseline: med(baselineSessions?.ping),
      unit: "s",
      note: `baseline: the systemd guest, plain ssh alias (no reuse)${why ? `; ${why}` : ""}${fails(baselineSessions?.ping)}`,
    },
    {
      part: "build",
      what: "ssh session alone (ssh ALIAS true, median)",
      ours: med(sessions?.ssh),
      baseline: med(baselineSessions?.ssh),
      unit: "s",
      note: `ours as installed (reuse); baseline: the systemd guest, plain ssh alias (no reuse)${why ? `; ${why}` : ""}${fails(sessions?.ssh)}${fails(baselineSessions?.ssh)}`,
    },
  ];
}
