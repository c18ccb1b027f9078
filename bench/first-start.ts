/**
 * The first start on a new machine: nothing cached, no image, no verdict on KVM. Ours is the product
 * as a user runs it, `linux-builder start` with the default accelerator (auto) in a fresh
 * LINUX_BUILDER_HOME → ready; it composes the image and probes KVM beside it. The baseline, from the
 * same run, is the same work one step after another as the product did before: `image build` on an
 * empty cache, then the KVM probe alone (the old one: 15 s, no deadline on silence), then `start` of
 * that image on a fresh state folder with the probe's verdict remembered. Each downloads every
 * package: the mirror is what bounds both here. One pair is one busy moment's figure: the part runs
 * FIRST_START_PAIRS pairs, ours first in one pair and the baseline first in the next (a mirror warmed
 * by the first download favours the second), and reports the medians.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes } from "../src/cli/output.js";
import { directorySize } from "../src/fs/directory-size.js";
import { ARCHITECTURES } from "../src/image/guest/profile.js";
import { ImageStore } from "../src/image/store.js";
import {
  type AccelCache,
  accelCacheKey,
  PROBE_LIMITS,
  type ProbeVerdict,
  probeKvm,
} from "../src/vm/qemu/accel.js";
import { projectReady, type TcgSlowdown } from "./accel-projection.js";
import type { VmShape } from "./baseline-vm.js";
import { CLI, compileCli, readyPhases, readySeconds } from "./ours.js";
import { type Finished, freePort, log, median, runCommand, tail, timed } from "./support.js";
import type { Row } from "./table.js";

export interface FirstStartFigures {
  readonly rows: Row[];
  readonly details: Record<string, unknown>;
}

interface Home {
  readonly dir: string;
  readonly stateDir: string;
  readonly port: number;
  cli(args: readonly string[], timeoutMs: number): Promise<Finished>;
}

/** A fresh LINUX_BUILDER_HOME: empty cache, no image, a new state folder; the mirror in its config. */
async function freshHome(name: string, mirror: string, shape: VmShape, diskGiB: number): Promise<Home> {
  const dir = await mkdtemp(join(tmpdir(), `lb-bench-first-${name}-`));
  await writeFile(join(dir, "config.json"), `${JSON.stringify({ mirror })}\n`);
  const stateDir = join(dir, "state");
  const port = await freePort();
  const env = { ...process.env, LINUX_BUILDER_HOME: dir };
  const flags = [
    ...["--state-dir", stateDir, "--port", String(port)],
    ...["--cpus", String(shape.cpus), "--memory", String(shape.memoryMiB), "--disk", String(diskGiB)],
  ];
  return {
    dir,
    stateDir,
    port,
    cli: (args, timeoutMs) =>
      runCommand(process.execPath, [CLI, ...args, ...(args[0] === "image" ? [] : flags)], {
        env,
        timeoutMs,
      }),
  };
}

const mustSucceed = (what: string, result: Finished) => {
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${tail(result.stderr)}`);
  return result;
};

/** Pairs of (ours, baseline) the part runs: about 50 s a pair on 2 cores under TCG. */
export const FIRST_START_PAIRS = 3;

/** One first start of ours: `start` in a fresh home, then stopped. */
interface OursRun {
  readonly seconds: number;
  readonly stderr: string;
  readonly downloadedBytes: number;
}

/**
 * A `start` as it would be with guest code at native speed: its wall time less the boot it said it
 * waited for ("Ready in X s", from QEMU's spawn), plus that boot projected (projectReady). What
 * comes before QEMU's spawn (composing, the probe beside it, reading state) is host work, kept as
 * measured. Undefined when `start` did not say where its time went.
 */
export function startProjected(wallSeconds: number, stderr: string, factor: number): number | undefined {
  const said = readySeconds(stderr);
  const booted = projectReady(readyPhases(stderr), factor);
  return said === null || booted === undefined ? undefined : wallSeconds - said + booted;
}

/** One baseline: `image build`, the old KVM probe alone, `start` with its verdict remembered. */
interface BaselineRun {
  readonly seconds: number;
  readonly imageBuild: number;
  readonly probe: { readonly seconds: number; readonly verdict: ProbeVerdict };
  readonly probeNow: { readonly seconds: number; readonly verdict: ProbeVerdict };
  readonly start: number;
  readonly startStderr: string;
}

/** What every run of the part shares: the mirror, the VM's shape, `start`'s argv and time limit, the homes made. */
interface FirstRunSetup {
  readonly mirror: string;
  readonly shape: VmShape;
  readonly diskGiB: number;
  readonly start: string[];
  readonly limit: number;
  readonly homes: Home[];
}

async function runOurs({ mirror, shape, diskGiB, start, limit, homes }: FirstRunSetup): Promise<OursRun> {
  log("first: ours, `linux-builder start` in a fresh home (compose + KVM probe beside it + boot)");
  const ours = await freshHome("ours", mirror, shape, diskGiB);
  homes.push(ours);
  const started = mustSucceed("ours: start", await ours.cli(start, limit));
  await ours.cli(["stop"], 120_000);
  const downloadedBytes = await directorySize(join(ours.dir, "cache"));
  await rm(ours.dir, { recursive: true, force: true });
  return { seconds: started.seconds, stderr: started.stderr, downloadedBytes };
}

async function runBaseline({
  mirror,
  shape,
  diskGiB,
  start,
  limit,
  homes,
}: FirstRunSetup): Promise<BaselineRun> {
  log("first: baseline, `image build` in a fresh home, then the KVM probe, then `start`");
  const base = await freshHome("baseline", mirror, shape, diskGiB);
  homes.push(base);
  const built = mustSucceed(
    "baseline: image build",
    await base.cli(["image", "build", "--arch", "amd64", "--mirror", mirror], limit),
  );
  const store = new ImageStore(join(base.dir, "images"));
  const image = await store.get((await store.currentId("amd64")) ?? "none");
  const qemu = ARCHITECTURES.amd64.qemu;
  const kernel = join(image.directory, "kernel");
  // The probe as the product ran it before: one 15 s deadline, nothing on silence.
  const before = await timed(() => probeKvm(qemu, kernel, { totalMs: 15_000, quietMs: 15_000 }));
  const now = await timed(() => probeKvm(qemu, kernel, PROBE_LIMITS));
  const verdict: AccelCache = {
    key: await accelCacheKey(qemu),
    kvm: before.value.kind === "works",
    reason: before.value.kind === "works" ? "" : before.value.reason,
    hung: before.value.kind === "hung",
    probedAt: Date.now(),
  };
  await rm(base.stateDir, { recursive: true, force: true });
  await runCommand("mkdir", ["-p", "-m", "700", base.stateDir]);
  await writeFile(join(base.stateDir, "accel.json"), `${JSON.stringify(verdict)}\n`);
  const started = mustSucceed("baseline: start", await base.cli(start, limit));
  await base.cli(["stop"], 120_000);
  await rm(base.dir, { recursive: true, force: true });
  return {
    seconds: built.seconds + before.seconds + started.seconds,
    imageBuild: built.seconds,
    probe: { seconds: before.seconds, verdict: before.value },
    probeNow: { seconds: now.seconds, verdict: now.value },
    start: started.seconds,
    startStderr: started.stderr,
  };
}

const mid = (values: readonly number[]) => median(values) ?? Number.NaN;
const list = (values: readonly number[], digits = 1) => values.map((v) => v.toFixed(digits)).join("/");

export async function firstStartBench(
  mirror: string,
  shape: VmShape,
  diskGiB: number,
  readyTimeoutSeconds: number,
  slowdown?: TcgSlowdown,
): Promise<FirstStartFigures> {
  await compileCli();
  const start = ["start", "--timeout", String(readyTimeoutSeconds)];
  const limit = (readyTimeoutSeconds + 15 * 60) * 1000;
  const homes: Home[] = [];
  const ours: OursRun[] = [];
  const baseline: BaselineRun[] = [];
  const setup: FirstRunSetup = { mirror, shape, diskGiB, start, limit, homes };
  const oursRun = () => runOurs(setup);
  const baselineRun = () => runBaseline(setup);
  try {
    for (let pair = 0; pair < FIRST_START_PAIRS; pair++) {
      if (pair % 2 === 0) {
        ours.push(await oursRun());
        baseline.push(await baselineRun());
      } else {
        baseline.push(await baselineRun());
        ours.push(await oursRun());
      }
    }
    const said = (run: OursRun) => readySeconds(run.stderr)?.toFixed(1) ?? "?";
    const verdicts = [...new Set(baseline.map((run) => probeSaid(run.probe.verdict)))].join("; ");
    const seconds = (runs: readonly { seconds: number }[]) => runs.map((run) => run.seconds);
    const builds = baseline.map((run) => run.imageBuild);
    const probes = baseline.map((run) => run.probe.seconds);
    const probesNow = baseline.map((run) => run.probeNow.seconds);
    const pairs = `median of ${FIRST_START_PAIRS} pairs, run in turn (ours first, then the baseline first, …)`;
    return {
      rows: [
        {
          part: "first",
          what: "first start on a new machine (nothing cached) → ready",
          ours: mid(seconds(ours)),
          baseline: mid(seconds(baseline)),
          unit: "s",
          note: `${pairs}: ours ${list(seconds(ours))} s, \`linux-builder start\`, accel auto, fresh home (said Ready in ${ours.map(said).join("/")} s after QEMU's start); baseline ${list(seconds(baseline))} s: \`image build\` ${list(builds)} s + the KVM probe alone ${list(probes, 2)} s + \`start\` with the verdict remembered ${list(baseline.map((run) => run.start))} s; each downloaded ${formatBytes(ours[0]?.downloadedBytes ?? 0)} from ${mirror}`,
        },
        ...(slowdown === undefined ? [] : [projectedRow(ours, baseline, slowdown)]),
        {
          part: "first",
          what: "compose, cold cache (`image build` in a fresh home)",
          ours: null,
          baseline: mid(builds),
          unit: "s",
          note: `the baseline's first step, alone (${list(builds)} s): ours composes inside \`start\`, beside the probe`,
        },
        {
          part: "first",
          what: "KVM probe alone, on the image's kernel",
          ours: mid(probesNow),
          baseline: mid(probes),
          unit: "s",
          note: `the probe's verdict here: ${verdicts}; ours: ${PROBE_LIMITS.quietMs / 1000} s without console output is a hang (${PROBE_LIMITS.totalMs / 1000} s in all); baseline: one ${15} s deadline`,
        },
      ],
      details: {
        ours: ours.map((run) => ({ seconds: run.seconds, stderr: tail(run.stderr, 40) })),
        baseline: baseline.map(({ startStderr, ...run }) => ({ ...run, startStderr: tail(startStderr, 5) })),
        downloadedBytes: ours[0]?.downloadedBytes ?? null,
      },
    };
  } finally {
    for (const home of homes) {
      await home.cli(["stop"], 120_000).catch(() => undefined);
      await rm(home.dir, { recursive: true, force: true });
    }
  }
}

/**
 * The first start where KVM or hvf works, from this run's: ours with its boot projected
 * (startProjected); the baseline's `image build` as measured and its `start` projected the same way,
 * without its probe (which, where KVM works, answers as soon as the kernel prints: its best case).
 */
function projectedRow(
  ours: readonly OursRun[],
  baseline: readonly BaselineRun[],
  slowdown: TcgSlowdown,
): Row {
  const factor = slowdown.factor;
  const oursProjected = ours.flatMap((run) => startProjected(run.seconds, run.stderr, factor) ?? []);
  const baseProjected = baseline.flatMap((run) => {
    const start = startProjected(run.start, run.startStderr, factor);
    return start === undefined ? [] : [run.imageBuild + start];
  });
  return {
    part: "first",
    what: "first start on a new machine → ready, projected with KVM/hvf",
    ours: median(oursProjected),
    baseline: median(baseProjected),
    unit: "s",
    note: `each of the runs above with its boot as it would be at native speed: \`start\`'s wall time less the "Ready in" it said, plus that boot's phases projected as in the accel row (TCG ${factor.toFixed(1)}× slower than the host here); ours ${list(oursProjected)} s; baseline ${list(baseProjected)} s: \`image build\` + \`start\` projected, its KVM probe not counted`,
  };
}

function probeSaid(verdict: ProbeVerdict): string {
  return verdict.kind === "works" ? "KVM works" : `${verdict.kind}: ${verdict.reason}`;
}
