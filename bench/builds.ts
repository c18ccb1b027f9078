/**
 * Per-build overhead: N sequential trivial builds handed to the builder by the host's own Nix
 * (`nix-build --max-jobs 0`), through exactly the machines line and ssh_config alias `install`
 * writes. Once as installed (ssh connection reuse: ControlMaster), once with reuse turned off on
 * ssh's command line; interleaved, so that both see the same machine. Optionally the systemd
 * baseline too, through the same kind of machines line and an alias without reuse, as a
 * conventional builder is set up.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machinesLine, sshConfigBlock } from "../src/nix/builders.js";
import type { BaselineImage } from "./baseline-image.js";
import type { VmShape } from "./baseline-vm.js";
import { baselineSubject } from "./boot.js";
import { endReuse, type Installed, OurBuilder, shortTempDir } from "./ours.js";
import { freePort, log, median, onInterrupt, runCommand, tail } from "./support.js";

export interface BuildRun {
  /** Seconds of each timed build that succeeded. */
  readonly seconds: number[];
  readonly failures: string[];
}

export interface BuildFigures {
  readonly n: number;
  readonly reuse: BuildRun | null;
  readonly noReuse: BuildRun | null;
  readonly baseline: BuildRun | null;
  readonly notes: string[];
}

const NO_REUSE = "-oControlMaster=no -oControlPath=none";

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

/** Reuse and no-reuse, ABBA-interleaved, on one fresh builder of ours. */
async function ourBuilds(n: number, shape: VmShape, diskGiB: number, notes: string[]) {
  const dir = await shortTempDir();
  const builder = new OurBuilder(join(dir, "state"), await freePort(), shape, diskGiB);
  const reuse = { seconds: [] as number[], failures: [] as string[] };
  const noReuse = { seconds: [] as number[], failures: [] as string[] };
  let installed: Installed | undefined;
  const unregister = onInterrupt(async () => {
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    log("builds: ours: start");
    await builder.startReady(120, notes);
    installed = await builder.install(dir);
    const { machines, sshConfig } = installed;
    const modes = { reuse: `-F ${sshConfig}`, noReuse: `-F ${sshConfig} ${NO_REUSE}` };
    log(`builds: ours: ${n} + 1 builds each way (reuse as installed, and ${NO_REUSE}), interleaved`);
    // One untimed build each way first: the host's Nix and the guest's store warm up.
    for (const mode of ["reuse", "noReuse"] as const) {
      const warm = await nixBuild(machines, modes[mode]);
      if (warm.seconds === null) notes.push(`warm-up build (${mode}) failed: ${warm.error}`);
    }
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? (["reuse", "noReuse"] as const) : (["noReuse", "reuse"] as const);
      for (const mode of order)
        record(mode === "reuse" ? reuse : noReuse, await nixBuild(machines, modes[mode]));
    }
    log(
      `builds: ours: median ${median(reuse.seconds)?.toFixed(2)} s with reuse, ${median(noReuse.seconds)?.toFixed(2)} s without`,
    );
  } finally {
    unregister();
    if (installed) await endReuse(installed);
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  return { reuse, noReuse };
}

/** The systemd baseline as a conventional builder: a machines line and a plain ssh alias. */
async function baselineBuilds(
  n: number,
  image: BaselineImage,
  shape: VmShape,
  notes: string[],
): Promise<BuildRun> {
  const run = { seconds: [] as number[], failures: [] as string[] };
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
  } finally {
    await subject.stop().catch(() => undefined);
    await subject.dispose();
    await rm(dir, { recursive: true, force: true });
  }
  return run;
}

export async function buildBench(options: {
  n: number;
  shape: VmShape;
  diskGiB: number;
  baseline: BaselineImage | null;
}): Promise<BuildFigures> {
  const notes: string[] = [];
  let ours: { reuse: BuildRun; noReuse: BuildRun } | null = null;
  try {
    ours = await ourBuilds(options.n, options.shape, options.diskGiB, notes);
  } catch (error) {
    notes.push(`ours: ${(error as Error).message}`);
    log(`builds: ours failed: ${(error as Error).message}`);
  }
  let baseline: BuildRun | null = null;
  if (options.baseline) {
    try {
      baseline = await baselineBuilds(options.n, options.baseline, options.shape, notes);
    } catch (error) {
      notes.push(`baseline: ${(error as Error).message}`);
      log(`builds: baseline failed: ${(error as Error).message}`);
    }
  }
  return { n: options.n, reuse: ours?.reuse ?? null, noReuse: ours?.noReuse ?? null, baseline, notes };
}
