/**
 * `npm run bench`: our figures beside baselines measured in the same run on the same machine. A
 * script, never a timed test. Prints one table (stdout) and writes the same data as JSON to
 * .cache/bench/results.json; progress goes to stderr.
 *
 *   npm run bench                                   # everything
 *   npm run bench -- --only boot,build,compose,footprint
 *   npm run bench -- --only memory
 *   npm run bench -- --only copy,idle
 *   npm run bench -- --only service
 *   npm run bench -- --only emulation
 *   npm run bench -- --json                         # the JSON on stdout instead of the table
 *   npm run bench -- --builds 10 --first-boots 3 --later-boots 3
 *
 * Parts:
 *   boot      start → ready, first boots (each from a fresh state) and later boots: ours through
 *             `linux-builder start`, the baseline a
 *             conventional systemd guest on a disk image (same packages, kernel, QEMU, accelerator)
 *   build     per-build overhead of N trivial builds through Nix, with and without ssh reuse
 *   compose   composition, cold and warm cache, beside mmdebstrap on the same package set
 *   footprint idle guest memory, image size, stop time (powerdown → QEMU gone)
 *   accel     start → ready projected for KVM/hvf: the boot phases ÷ TCG's slowdown, measured with the
 *             same static binary in the guest and on the host (see accel-projection.ts)
 *   memory    QEMU's resident size after the guest filled 70 % of its memory and freed it, with free
 *             page reporting (the product's virtio-balloon) and without it (see memory.ts)
 *   copy      a 512 MiB store path (random bytes) to the builder with `nix copy --to ssh-ng://…` and
 *             back with `--from`, beside raw ssh (`cat`) over the same connection (see copy.ts)
 *   idle      host CPU (QEMU's utime + stime) over the first 60 s after ready, and over the 60 s
 *             after those (settled), beside the systemd guest: the boot series' last boot idles
 *             60 s instead of 5, then 60 s more (see boot.ts)
 *   service   `linux-builder serve`: start → ready through it beside without it; a build with the VM off (the connection boots it) beside the same
 *             build with it up; per connection (--builds N of them), ssh and a raw TCP connect + sshd
 *             banner through the front door beside straight to QEMU's forward (see service.ts)
 *   first     the first start on a new machine (fresh home, nothing cached, accel auto) → ready, beside
 *             the same steps one after another as before: image build + the KVM probe + start (see
 *             first-start.ts); 3 pairs in turn, medians (about 50 s a pair); downloads the image's packages 6 times.
 *             With accel in the same run, also both projected for KVM/hvf (each boot ÷ TCG's slowdown)
 *   emulation a CPU-bound build (busybox hashing zeros) for aarch64-linux through qemu-user beside the
 *             same build for x86_64-linux natively, in one amd64 guest; their ratio (see emulation.ts)
 *
 * Both guests boot in the product's default shape for this host (all its CPUs, a quarter of its
 * memory), under TCG. On Debian as root it installs what the baseline needs (mmdebstrap) itself;
 * elsewhere the baseline rows say how.
 */

import { mkdir, open, readFile, stat, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { formatBytes } from "../src/cli/output.js";
import { defaultConfig } from "../src/config/config.js";
import { DEFAULT_MIRROR } from "../src/image/guest/profile.js";
import { parseLock } from "../src/image/lock.js";
import type { StoredImage } from "../src/image/store.js";
import { qemuCommand } from "../src/vm/qemu/argv.js";
import { measureTcgSlowdown, projectReady, type TcgSlowdown } from "./accel-projection.js";
import { type BaselineImage, ensureBaselineImage } from "./baseline-image.js";
import type { VmShape } from "./baseline-vm.js";
import {
  type BootSeries,
  baselineSubject,
  bootSeries,
  IDLE_CPU_SECONDS,
  IDLE_SECONDS,
  type IdleCpu,
  ourSubject,
  type Subject,
} from "./boot.js";
import { type BuildFigures, buildBench, buildBreakdownRows } from "./builds.js";
import { type ComposeFigures, composeBench } from "./compose.js";
import { COPY_BYTES, type CopyFigures, copyBench, type Transfer } from "./copy.js";
import { type EmulationFigures, emulationBench, emulationRows } from "./emulation.js";
import { type FirstStartFigures, firstStartBench } from "./first-start.js";
import { ensureBaselineTools } from "./host-tools.js";
import { AFTER_SECONDS, type MemoryFigures, memoryBench } from "./memory.js";
import { BENCH_HOME, prepareOurImage } from "./ours.js";
import { type ServiceFigures, serviceBench } from "./service.js";
import { allocatedBytes, BENCH_DIR, log, median, monitorContention, runCommand } from "./support.js";
import { formatTable, type Row } from "./table.js";

const PARTS = [
  "boot",
  "build",
  "compose",
  "footprint",
  "accel",
  "memory",
  "copy",
  "idle",
  "service",
  "emulation",
  "first",
] as const;
type Part = (typeof PARTS)[number];

interface Options {
  readonly parts: ReadonlySet<Part>;
  readonly json: boolean;
  readonly builds: number;
  readonly firstBoots: number;
  readonly laterBoots: number;
}

function parseArgs(argv: readonly string[]): Options {
  let parts = new Set<Part>(PARTS);
  let json = false;
  let builds = 10;
  let firstBoots = 3;
  let laterBoots = 3;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    const number = (text: string) => {
      if (!/^\d+$/.test(text)) throw new Error(`${arg} takes a whole number, not ${text}`);
      return Number(text);
    };
    if (arg === "--json") json = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const list = arg === "--only" ? value() : arg.slice("--only=".length);
      const names = list.split(",").filter(Boolean);
      const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n));
      if (unknown.length > 0)
        throw new Error(`--only: unknown part ${unknown.join(", ")} (${PARTS.join(", ")})`);
      parts = new Set(names as Part[]);
    } else if (arg === "--builds") builds = number(value());
    else if (arg === "--first-boots") firstBoots = Math.max(1, number(value()));
    else if (arg === "--later-boots") laterBoots = number(value());
    else
      throw new Error(
        `unknown option ${arg} (--only ${PARTS.join(",")}, --json, --builds N, --first-boots N, --later-boots N)`,
      );
  }
  return { parts, json, builds, firstBoots, laterBoots };
}

/** Both guests get the product's embedded defaults for this host: the shape `start` boots. */
const DEFAULTS = defaultConfig({
  cpus: cpus().length,
  memoryMiB: Math.floor(totalmem() / 1024 / 1024),
  arch: "amd64",
  stateDir: "/unused",
});
const SHAPE: VmShape = { cpus: DEFAULTS.cpus, memoryMiB: DEFAULTS.memoryMiB };
const DISK_GIB = 8;
/** Native and emulated builds each, for the emulation part's medians. */
const EMULATION_RUNS = 3;
/** The service part's cold/warm build pairs: each cold one is a whole boot under TCG. */
const SERVICE_BUILD_PAIRS = 3;
/** Ours is ready in seconds; the baseline, under a loaded host, in a minute or so. */
const READY_TIMEOUT_S = { ours: 120, baseline: 180 };

const fmt = (value: number | null | undefined, digits = 1) => (value == null ? "—" : value.toFixed(digits));

/** The QEMU machine type our product picks for amd64 under TCG, both guests boot on it. */
function machineType(): string {
  const { args } = qemuCommand({
    arch: "amd64",
    accel: "tcg",
    cpus: SHAPE.cpus,
    memoryMiB: SHAPE.memoryMiB,
    kernel: "k",
    initrd: "i",
    disk: "d",
    sshPort: 1,
    qmpSocket: "q",
    console: { kind: "file", path: "c" },
  });
  return args[args.indexOf("-machine") + 1] ?? "?";
}

/** start → ready as it would be with guest code at native speed (see accel-projection.ts). */
function accelRows(
  ours: BootSeries | undefined,
  base: BootSeries | undefined,
  slowdown: TcgSlowdown | undefined,
): Row[] {
  const what = "start → ready, projected with KVM/hvf (later boots)";
  if (slowdown === undefined) {
    return [
      {
        part: "accel",
        what,
        ours: null,
        baseline: null,
        unit: "s",
        note: "no TCG slowdown measured (an x86_64 host is needed)",
      },
    ];
  }
  const phases = (ours?.later ?? []).flatMap((b) => (b.ok && b.phases ? [b.phases] : []));
  const projected = median(phases.flatMap((p) => projectReady(p, slowdown.factor) ?? []));
  const baseLater = median(
    (base?.later ?? []).flatMap((b) => (b.ok && b.seconds !== null ? [b.seconds] : [])),
  );
  return [
    {
      part: "accel",
      what,
      ours: projected,
      baseline: baseLater === null ? null : baseLater / slowdown.factor,
      unit: "s",
      note: `TCG ran the same static bash loop ${slowdown.factor.toFixed(1)}× slower than the host (${slowdown.guestSeconds.toFixed(2)} s against ${slowdown.hostSeconds.toFixed(2)} s); ours: QEMU's start as measured + the rest ÷ that; baseline: its whole boot ÷ that`,
    },
  ];
}

function bootRows(
  ours: BootSeries | undefined,
  base: BootSeries | undefined,
  why: string | undefined,
): Row[] {
  const boots = (s: BootSeries | undefined, kind: "first" | "later") =>
    (kind === "first" ? s?.firsts : s?.later) ?? [];
  const seconds = (s: BootSeries | undefined, kind: "first" | "later") =>
    median(boots(s, kind).flatMap((b) => (b.ok && b.seconds !== null ? [b.seconds] : [])));
  const guest = (s: BootSeries | undefined, kind: "first" | "later") => {
    const samples = boots(s, kind).filter((b) => b.ok);
    const stage2 = median(
      samples.flatMap((b) => (b.uptimes?.stage2 === undefined ? [] : [b.uptimes.stage2])),
    );
    const ready = median(samples.flatMap((b) => (b.uptimes?.ready === undefined ? [] : [b.uptimes.ready])));
    const said = median(samples.flatMap((b) => (b.reportedSeconds == null ? [] : [b.reportedSeconds])));
    const labels = [...new Set(samples.flatMap((b) => Object.keys(b.phases ?? {})))];
    const phases = labels
      .map((label) => `${label} ${fmt(median(samples.flatMap((b) => b.phases?.[label] ?? [])))}`)
      .join(", ");
    return `ours: \`start\` wall (said Ready in ${fmt(said)} s${phases ? `: ${phases}` : ""}; guest uptime: stage 2 at ${fmt(stage2, 2)} s, READY at ${fmt(ready, 2)} s)`;
  };
  const baseNote = why ?? "baseline: systemd on a fresh copy of the disk image, QEMU spawned → ready";
  const analyze = base?.bootReport ? `; baseline's last boot, systemd-analyze: ${base.bootReport}` : "";
  const count = (kind: "first" | "later") =>
    Math.max(...[ours, base].map((s) => boots(s, kind).filter((b) => b.ok).length));
  const failed = (s: BootSeries | undefined, name: string, first: boolean) => {
    const failures = (s?.failures ?? []).filter((f) => f.boot.startsWith("first") === first);
    return failures.length > 0
      ? `; ${name}: ${failures.length} failed boot(s) tried again (${failures.map((f) => f.error.split(":")[0]).join("; ")})`
      : "";
  };
  return [
    {
      part: "boot",
      what: `start → ready, first boot (median of ${count("first")})`,
      ours: seconds(ours, "first"),
      baseline: seconds(base, "first"),
      unit: "s",
      note: `${guest(ours, "first")}, blank /nix disk; ${baseNote}${failed(ours, "ours", true)}${failed(base, "baseline", true)}`,
    },
    {
      part: "boot",
      what: `start → ready, later boots (median of ${count("later")})`,
      ours: seconds(ours, "later"),
      baseline: seconds(base, "later"),
      unit: "s",
      note: `${guest(ours, "later")}${analyze}${failed(ours, "ours", false)}${failed(base, "baseline", false)}`,
    },
  ];
}

function footprintRows(
  ours: BootSeries | undefined,
  base: BootSeries | undefined,
  image: StoredImage | undefined,
  baseline: BaselineImage | undefined,
  baselineSizes: { boot: number; disk: number } | undefined,
  why: string | undefined,
  oursBootFiles: string | undefined,
  idleSeconds: number,
): Row[] {
  const stops = (s: BootSeries | undefined) =>
    median((s?.stops ?? []).flatMap((x) => (x.ok && x.seconds !== null ? [x.seconds] : [])));
  const said = median(
    (ours?.stops ?? []).flatMap((x) => (x.reportedSeconds == null ? [] : [x.reportedSeconds])),
  );
  const m = image?.manifest;
  return [
    {
      part: "footprint",
      what: `stop (powerdown → QEMU gone, median of ${ours?.stops.length ?? 0})`,
      ours: stops(ours),
      baseline: stops(base),
      unit: "s",
      note: `ours: \`linux-builder stop\` wall (said ${fmt(said)} s); baseline: QMP system_powerdown → QEMU exited`,
    },
    {
      part: "footprint",
      what: "guest memory in use at idle",
      ours: ours?.memoryInUseBytes ?? null,
      baseline: base?.memoryInUseBytes ?? null,
      unit: "bytes",
      note: `MemTotal − MemAvailable, ${idleSeconds} s after ready, ${SHAPE.memoryMiB} MiB guests`,
    },
    {
      part: "footprint",
      what: "boot files (kernel + initrd)",
      ours: m ? m.kernel.size + m.initrd.size : null,
      baseline: baselineSizes?.boot ?? null,
      unit: "bytes",
      note: `same kernel package (${m?.kernelVersion ?? "?"}); ours: ${oursBootFiles ?? "?"}; baseline: bzImage + initramfs-tools' initrd.img${why ? `; ${why}` : ""}`,
    },
    {
      part: "footprint",
      what: "root file system",
      ours: m ? m.initrd.uncompressedSize : null,
      baseline: baselineSizes?.disk ?? null,
      unit: "bytes",
      note: `ours: the initramfs unpacked (RAM); baseline: disk image allocated (du)${baseline ? `, ${baseline.info.installedPackages} packages installed` : ""}`,
    },
  ];
}

function memoryRows(figures: MemoryFigures | undefined, error: string | undefined): Row[] {
  const m = (bytes: number | undefined) => (bytes === undefined ? "?" : formatBytes(bytes));
  const what = `QEMU resident size ${AFTER_SECONDS} s after a big allocation was freed`;
  if (figures === undefined) {
    return [
      { part: "memory", what, ours: null, baseline: null, unit: "bytes", note: error ?? "not measured" },
    ];
  }
  const on = figures.with;
  const off = figures.without;
  const fell =
    on?.fellSeconds == null
      ? "with reporting it never fell by 70 % of the rise"
      : `with reporting it fell by 70 % of the rise in ${on.fellSeconds.toFixed(0)} s`;
  return [
    {
      part: "memory",
      what,
      ours: on?.afterBytes ?? null,
      baseline: off?.afterBytes ?? null,
      unit: "bytes",
      note: `${figures.shape.memoryMiB} MiB guest wrote ${figures.fillMiB} MiB into tmpfs and deleted it; VmRSS before → peak: ours ${m(on?.beforeBytes)} → ${m(on?.peakBytes)}, baseline ${m(off?.beforeBytes)} → ${m(off?.peakBytes)}; ${fell}; ours: virtio-balloon free page reporting; baseline: the same builder booted without the balloon device${figures.failures.length > 0 ? `; failed: ${figures.failures.join("; ")}` : ""}`,
    },
  ];
}

/** The idle part: QEMU's CPU seconds per minute of idling, ours beside the systemd guest's. */
function idleRows(
  ours: BootSeries | undefined,
  base: BootSeries | undefined,
  why: string | undefined,
): Row[] {
  const perMinute = (idle: IdleCpu | null | undefined) =>
    idle ? (idle.cpuSeconds / idle.seconds) * 60 : null;
  const core = (idle: IdleCpu | null | undefined) => {
    const m = perMinute(idle);
    return m === null ? "—" : `${((m / 60) * 100).toFixed(1)} % of one core`;
  };
  const windows = [
    ["idle", `${IDLE_CPU_SECONDS} s from ready`],
    ["idleSettled", `settled: the ${IDLE_CPU_SECONDS} s after those`],
  ] as const;
  return windows.map(([window, when]) => ({
    part: "idle",
    what: `host CPU of an idle builder, per minute (${when})`,
    ours: perMinute(ours?.[window]),
    baseline: perMinute(base?.[window]),
    unit: "s",
    note: `QEMU's utime + stime (/proc/PID/stat, all threads), as CPU seconds per minute: ours ${core(ours?.[window])}, baseline ${core(base?.[window])}; ${SHAPE.cpus} vCPUs each; baseline: the systemd guest booted the same way${why ? `; ${why}` : ""}`,
  }));
}

/**
 * Seconds for the 512 MiB, so that baseline/ours is nix copy's share of raw ssh's throughput (below 1:
 * slower than the connection allows); MB/s in the note.
 */
function copyRows(figures: CopyFigures | undefined, error: string | undefined): Row[] {
  const mb = (t: Transfer | null | undefined) => (t ? `${t.megabytesPerSecond.toFixed(1)} MB/s` : "—");
  const mib = COPY_BYTES / 1024 ** 2;
  const failed = figures?.failures.length ? `; failed: ${figures.failures.join("; ")}` : "";
  return (
    [
      ["to", "nix copy --to ssh-ng://", "cat > /dev/null in the guest"],
      ["from", "nix copy --from ssh-ng://", "cat of the store path in the guest"],
    ] as const
  ).map(([way, ours, raw]) => ({
    part: "copy",
    what: `${mib} MiB closure ${way} the builder`,
    ours: figures?.[way].nixCopy?.seconds ?? null,
    baseline: figures?.[way].rawSsh?.seconds ?? null,
    unit: "s",
    note: figures
      ? `ours: ${ours}, ${mb(figures[way].nixCopy)}; baseline: raw ssh over the same alias and ControlMaster connection (${raw}), ${mb(figures[way].rawSsh)}; random bytes (incompressible), one path made with nix-store --add${failed}`
      : (error ?? "not measured"),
  }));
}

/** The service part: booting on demand against a VM that is up; the front door against QEMU's forward. */
function serviceRows(figures: ServiceFigures | undefined, error: string | undefined): Row[] {
  const failed = figures?.failures.length ? `; failed: ${figures.failures.join("; ")}` : "";
  const carried = figures?.totals
    ? `; the service carried ${figures.totals.connections} connections and made ${figures.totals.boots} boots`
    : "";
  const missing = error ?? "not measured";
  const ms = (values: readonly number[] | undefined) => {
    const m = median(values ?? []);
    return m === null ? null : m * 1000;
  };
  return [
    {
      part: "service",
      what: `start → ready, later boots (median of ${figures?.startService.length ?? 0})`,
      ours: median(figures?.startService ?? []),
      baseline: median(figures?.startDirect ?? []),
      unit: "s",
      note: figures
        ? "ours: `linux-builder start` through the service (it boots the VM and answers once ready); baseline: `linux-builder start` with no service, the same state folder, before serve ran"
        : missing,
    },
    {
      part: "service",
      what: `trivial build with the VM off, connection → result (median of ${figures?.buildOff.length ?? 0})`,
      ours: median(figures?.buildOff ?? []),
      baseline: median(figures?.buildUp ?? []),
      unit: "s",
      note: figures
        ? `ours: nix-build through the installed configuration while the VM is off: the front door boots it and carries the connection; baseline: the same build right after, the VM up; both as installed (ssh reuse)${carried}${failed}`
        : missing,
    },
    {
      part: "service",
      what: `ssh … true, a new connection each (median of ${figures?.sshFront.length ?? 0})`,
      ours: median(figures?.sshFront ?? []),
      baseline: median(figures?.sshDirect ?? []),
      unit: "s",
      note: figures
        ? "ours: through the front door (serve, 127.0.0.1:port); baseline: straight to QEMU's forward (the service's vm.forwardPort); no ControlMaster, interleaved"
        : missing,
    },
    {
      part: "service",
      what: `TCP connect → sshd banner (median of ${figures?.bannerFront.length ?? 0})`,
      ours: ms(figures?.bannerFront),
      baseline: ms(figures?.bannerDirect),
      unit: "ms",
      note: figures
        ? "ours: through the front door; baseline: straight to QEMU's forward; interleaved"
        : missing,
    },
  ];
}

function buildRows(figures: BuildFigures | undefined, why: string | undefined): Row[] {
  const med = (run: { seconds: number[] } | null | undefined) => median(run?.seconds ?? []);
  const fails = (name: string, run: { failures: string[] } | null | undefined) =>
    run && run.failures.length > 0 ? `; ${run.failures.length} ${name} builds failed` : "";
  const n = figures?.n ?? 0;
  return [
    {
      part: "build",
      what: `per build, ${n} trivial builds (median)`,
      ours: med(figures?.reuse),
      baseline: med(figures?.noReuse),
      unit: "s",
      note: `nix-build --max-jobs 0, host substituters off; ours as installed (ssh ControlMaster reuse); baseline: the same builder with -oControlMaster=no${fails("reuse", figures?.reuse)}${fails("no-reuse", figures?.noReuse)}${figures?.notes.length ? `; ${figures.notes.length} note(s) in the JSON` : ""}`,
    },
    {
      part: "build",
      what: "per build, beside a systemd guest (median)",
      ours: med(figures?.reuse),
      baseline: med(figures?.baseline),
      unit: "s",
      note: `baseline: the systemd guest through the same kind of machines line, plain ssh alias (no reuse)${why ? `; ${why}` : ""}${fails("baseline", figures?.baseline)}`,
    },
    ...buildBreakdownRows(figures, why),
  ];
}

/** What our kernel and initrd are: "kernel 54.9 MiB (ELF vmlinux) + initrd 83.5 MiB (uncompressed cpio)". */
async function describeBootFiles(image: StoredImage): Promise<string> {
  const m = image.manifest;
  const handle = await open(join(image.directory, "kernel"), "r");
  const magic = Buffer.alloc(4);
  await handle.read(magic, 0, 4, 0);
  await handle.close();
  const kernel = magic.readUInt32BE(0) === 0x7f454c46 ? "ELF vmlinux" : "bzImage";
  const initrd = m.initrd.size === m.initrd.uncompressedSize ? "uncompressed cpio" : "compressed cpio";
  return `kernel ${formatBytes(m.kernel.size)} (${kernel}) + initrd ${formatBytes(m.initrd.size)} (${initrd})`;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const has = (part: Part) => options.parts.has(part);
  const started = performance.now();
  const mirror = process.env.LINUX_BUILDER_BENCH_MIRROR ?? DEFAULT_MIRROR;
  const errors: string[] = [];
  const loadBefore = loadavg();
  const contention = monitorContention();
  await mkdir(BENCH_DIR, { recursive: true });
  log(`parts: ${[...options.parts].join(", ")}; mirror ${mirror}; machine ${machineType()}, TCG`);

  const needsVm = has("boot") || has("build") || has("footprint") || has("accel") || has("idle");
  // Both baselines need mmdebstrap (and mke2fs for the disk image); the memory part's baseline is
  // our own builder without the balloon, the copy part's raw ssh to it, so they need neither.
  const missingTools = needsVm || has("compose") ? await ensureBaselineTools() : undefined;
  let image: StoredImage | undefined;
  let baseline: BaselineImage | undefined;
  let baselineWhy = missingTools;
  if (needsVm || has("memory") || has("copy") || has("service") || has("emulation"))
    image = await prepareOurImage(mirror);
  if (needsVm && image) {
    if (missingTools === undefined && process.getuid?.() !== 0) {
      baselineWhy =
        "the systemd baseline image is built as root (mmdebstrap --mode=root, chroot): run the bench as root";
    } else if (missingTools === undefined) {
      try {
        const lockPath = join(image.directory, "lock.json");
        baseline = await ensureBaselineImage(parseLock(await readFile(lockPath, "utf8"), lockPath), mirror);
      } catch (error) {
        baselineWhy = `baseline image failed: ${(error as Error).message.split("\n")[0]}`;
        errors.push(`baseline image: ${(error as Error).message}`);
        log(baselineWhy);
      }
    }
  }

  // Boot series: both guests, alternating; the footprint part reads its stop times and memory, the
  // idle part the last boot's CPU.
  let series: Record<string, BootSeries> = {};
  const idleSeconds = has("idle") ? IDLE_CPU_SECONDS : IDLE_SECONDS;
  const settledIdleSeconds = has("idle") ? IDLE_CPU_SECONDS : 0;
  if (has("boot") || has("footprint") || has("idle")) {
    const subjects: Subject[] = [];
    try {
      subjects.push(await ourSubject(SHAPE, DISK_GIB, READY_TIMEOUT_S.ours));
      if (baseline) subjects.push(await baselineSubject(baseline, SHAPE, READY_TIMEOUT_S.baseline));
      series = has("boot")
        ? await bootSeries(subjects, options.firstBoots, options.laterBoots, idleSeconds, settledIdleSeconds)
        : await bootSeries(subjects, 1, 0, idleSeconds, settledIdleSeconds);
    } catch (error) {
      errors.push(`boot: ${(error as Error).stack ?? error}`);
      log(`boot: ${(error as Error).message}`);
    } finally {
      for (const subject of subjects) await subject.dispose();
    }
  }

  let builds: BuildFigures | undefined;
  if (has("build")) {
    try {
      builds = await buildBench({
        n: options.builds,
        shape: SHAPE,
        diskGiB: DISK_GIB,
        baseline: baseline ?? null,
      });
    } catch (error) {
      errors.push(`build: ${(error as Error).stack ?? error}`);
    }
  }

  let compose: ComposeFigures | undefined;
  if (has("compose")) {
    try {
      compose = await composeBench(mirror, missingTools);
    } catch (error) {
      errors.push(`compose: ${(error as Error).stack ?? error}`);
      log(`compose: ${(error as Error).message}`);
    }
  }

  let slowdown: TcgSlowdown | undefined;
  if (has("accel") && image) {
    try {
      slowdown = await measureTcgSlowdown(image, SHAPE, DISK_GIB);
    } catch (error) {
      errors.push(`accel: ${(error as Error).stack ?? error}`);
    }
  }

  let memory: MemoryFigures | undefined;
  let memoryError: string | undefined;
  if (has("memory") && image) {
    try {
      memory = await memoryBench(image, SHAPE, DISK_GIB);
    } catch (error) {
      memoryError = (error as Error).message.split("\n")[0];
      errors.push(`memory: ${(error as Error).stack ?? error}`);
      log(`memory: ${(error as Error).message}`);
    }
  }

  let copy: CopyFigures | undefined;
  let copyError: string | undefined;
  if (has("copy") && image) {
    try {
      copy = await copyBench(SHAPE, DISK_GIB);
    } catch (error) {
      copyError = (error as Error).message.split("\n")[0];
      errors.push(`copy: ${(error as Error).stack ?? error}`);
      log(`copy: ${(error as Error).message}`);
    }
  }

  let service: ServiceFigures | undefined;
  let serviceError: string | undefined;
  if (has("service") && image) {
    try {
      service = await serviceBench({
        shape: SHAPE,
        diskGiB: DISK_GIB,
        builds: SERVICE_BUILD_PAIRS,
        connections: options.builds,
      });
    } catch (error) {
      serviceError = (error as Error).message.split("\n")[0];
      errors.push(`service: ${(error as Error).stack ?? error}`);
      log(`service: ${(error as Error).message}`);
    }
  }

  let emulation: EmulationFigures | undefined;
  let emulationError: string | undefined;
  if (has("emulation") && image) {
    try {
      emulation = await emulationBench(image, EMULATION_RUNS, SHAPE.memoryMiB);
    } catch (error) {
      emulationError = (error as Error).message.split("\n")[0];
      errors.push(`emulation: ${(error as Error).stack ?? error}`);
      log(`emulation: ${(error as Error).message}`);
    }
  }

  let first: FirstStartFigures | undefined;
  if (has("first")) {
    try {
      first = await firstStartBench(mirror, SHAPE, DISK_GIB, READY_TIMEOUT_S.ours, slowdown);
    } catch (error) {
      errors.push(`first: ${(error as Error).stack ?? error}`);
      log(`first: ${(error as Error).message}`);
    }
  }

  const baselineSizes = baseline
    ? {
        boot: (await stat(baseline.kernel)).size + (await stat(baseline.initrd)).size,
        disk: await allocatedBytes(baseline.disk),
      }
    : undefined;
  const rows: Row[] = [
    ...(has("boot") ? bootRows(series.ours, series.baseline, baselineWhy) : []),
    ...(has("build") ? buildRows(builds, baselineWhy) : []),
    ...(has("compose") ? (compose?.rows ?? []) : []),
    ...(has("accel") ? accelRows(series.ours, series.baseline, slowdown) : []),
    ...(has("memory") ? memoryRows(memory, memoryError) : []),
    ...(has("copy") ? copyRows(copy, copyError) : []),
    ...(has("idle") ? idleRows(series.ours, series.baseline, baselineWhy) : []),
    ...(has("service") ? serviceRows(service, serviceError) : []),
    ...(has("emulation") ? emulationRows(emulation, emulationError) : []),
    ...(has("first") ? (first?.rows ?? []) : []),
    ...(has("footprint")
      ? footprintRows(
          series.ours,
          series.baseline,
          image,
          baseline,
          baselineSizes,
          baselineWhy,
          image ? await describeBootFiles(image) : undefined,
          idleSeconds,
        )
      : []),
  ];
  const seconds = (performance.now() - started) / 1000;
  const others = contention();
  const qemuVersion = (await runCommand("qemu-system-x86_64", ["--version"])).stdout.split("\n")[0] ?? null;
  const result = {
    date: new Date().toISOString(),
    totalSeconds: seconds,
    machine: {
      cpus: cpus().length,
      loadavgBefore: loadBefore,
      loadavgAfter: loadavg(),
      otherVms: others,
      node: process.version,
      qemu: qemuVersion,
      qemuMachine: machineType(),
      accel: "tcg",
      guest: { ...SHAPE, diskGiB: DISK_GIB },
    },
    mirror,
    parts: [...options.parts],
    image: image ? { id: image.manifest.id, directory: image.directory, benchHome: BENCH_HOME } : null,
    baselineImage: baseline ? { directory: baseline.directory, ...baseline.info } : null,
    baselineNote: baselineWhy ?? null,
    rows,
    details: {
      boot: series,
      builds: builds ?? null,
      compose: compose?.details ?? null,
      memory: memory ?? null,
      copy: copy ?? null,
      service: service ?? null,
      emulation: emulation ?? null,
      first: first?.details ?? null,
    },
    errors,
  };
  const resultsFile = join(BENCH_DIR, "results.json");
  await writeFile(resultsFile, `${JSON.stringify(result, null, 2)}\n`);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const lines = [
      `linux-builder bench: amd64 guest, ${SHAPE.cpus} vCPUs, ${SHAPE.memoryMiB} MiB, QEMU ${machineType()} under TCG; ${cpus().length} host CPUs (load ${loadBefore.map((l) => l.toFixed(2)).join(" ")} at the start)`,
      ...([...options.parts].some(
        (part) =>
          part !== "memory" &&
          part !== "copy" &&
          part !== "service" &&
          part !== "emulation" &&
          part !== "first",
      )
        ? [
            `baseline: the same Debian packages, conventional: mmdebstrap root with systemd as init on a disk image, same kernel, same QEMU`,
          ]
        : []),
      ...(has("memory") ? ["memory's baseline: our own builder, booted without the balloon device"] : []),
      ...(has("copy") ? ["copy's baseline: raw ssh to our own builder, over the same connection"] : []),
      ...(has("service")
        ? ["service's baselines: the same build with the VM up; a connection straight to QEMU's forward"]
        : []),
      ...(has("emulation")
        ? [
            "emulation's baseline: the same build for the guest's own system in the same guest",
            ...(emulation?.ratio.work
              ? [
                  `emulated work ran ${emulation.ratio.work.toFixed(1)}× as long as native work (whole builds: ${emulation.ratio.build?.toFixed(1)}×)`,
                ]
              : []),
          ]
        : []),
      ...(has("first")
        ? [
            "first's baseline: `image build`, the KVM probe alone, then `start`, one after another, in another fresh home",
          ]
        : []),
      ...(others.othersRunningShare > 0
        ? [
            `caution: other VMs (not this bench's) ran during ${(others.othersRunningShare * 100).toFixed(0)}% of the run, up to ${others.maxOthersAtOnce} at once: they share the CPUs, the figures are slower and noisier`,
          ]
        : []),
      "",
      formatTable(rows),
      "",
      ...(compose ? [`compose phases, cold: ${JSON.stringify(compose.details.timings.cold)}`] : []),
      ...errors.map((e) => `error: ${e.split("\n")[0]}`),
      `total ${seconds.toFixed(0)} s; JSON in ${resultsFile}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  log(`done in ${seconds.toFixed(0)} s`);
}

await main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
