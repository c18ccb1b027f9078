/**
 * Composition benchmark: our composer, cold and warm, beside mmdebstrap extracting the same package
 * set from the same mirror, measured in the same run on the same machine. A script, not a test.
 *
 *   npm run bench              # table on stdout
 *   npm run bench -- --json    # the same figures as JSON
 *
 * Needs the network (the Debian mirror) and, for the baseline, mmdebstrap (Debian: apt-get install
 * mmdebstrap); without it the baseline rows say so.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { formatBytes } from "../src/cli/output.js";
import { type ComposeOptions, composeImage } from "../src/image/compose.js";
import { DEFAULT_MIRROR, DEFAULT_SUITE, isOmittedFromImage } from "../src/image/guest/profile.js";
import { parseLock } from "../src/image/lock.js";
import { directorySize } from "../src/image/store.js";

const run = promisify(execFile);
const json = process.argv.includes("--json");
const mirror = process.env.LINUX_BUILDER_BENCH_MIRROR ?? DEFAULT_MIRROR;
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - start) / 1000, value };
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), "lb-bench-"));
  const rows: { what: string; ours: number | null; baseline: number | null; unit: string; note: string }[] =
    [];
  try {
    const options: ComposeOptions = {
      arch: "amd64",
      suite: DEFAULT_SUITE,
      mirror,
      extraPackages: [],
      checkValidUntil: true,
      force: true,
      cacheDir: join(work, "ours", "cache"),
      imagesDir: join(work, "ours", "images"),
    };
    log("ours: cold cache");
    const cold = await timed(() => composeImage(options));
    log("ours: warm cache, composing again");
    const warm = await timed(() => composeImage(options));
    log("ours: warm cache, same inputs (image reused)");
    const reuse = await timed(() => composeImage({ ...options, force: false }));
    const m = cold.value.manifest;
    const lockPath = join(cold.value.directory, "lock.json");
    const lock = parseLock(await readFile(lockPath, "utf8"), lockPath);
    const packages = lock.packages.filter((p) => !isOmittedFromImage(p.name)).map((p) => p.name);

    // The baseline extracts the same packages (and the same kernel package) without running
    // maintainer scripts: mmdebstrap's `extract` variant, the closest thing to what we do.
    let mmCold: number | null = null;
    let mmWarm: number | null = null;
    let mmSize: number | null = null;
    let mmNote = "mmdebstrap not installed (apt-get install mmdebstrap)";
    if (spawnSync("mmdebstrap", ["--version"]).status === 0) {
      const include = [...packages, lock.kernel.name].join(",");
      const debs = join(work, "mm-debs");
      await mkdir(debs);
      const args = (target: string, extra: string[]) => [
        "--quiet",
        "--variant=extract",
        `--include=${include}`,
        ...extra,
        DEFAULT_SUITE,
        target,
        mirror,
      ];
      log("mmdebstrap: cold cache");
      mmCold = (
        await timed(() =>
          run(
            "mmdebstrap",
            args(join(work, "mm-cold"), [`--customize-hook=sync-out /var/cache/apt/archives ${debs}`]),
            {
              maxBuffer: 64 * 1024 * 1024,
            },
          ),
        )
      ).seconds;
      mmSize = await directorySize(join(work, "mm-cold"));
      log("mmdebstrap: warm cache");
      mmWarm = (
        await timed(() =>
          run(
            "mmdebstrap",
            args(join(work, "mm-warm"), [
              '--setup-hook=mkdir -p "$1/var/cache/apt/archives"',
              `--setup-hook=sync-in ${debs} /var/cache/apt/archives/`,
              "--skip=download/empty",
            ]),
            { maxBuffer: 64 * 1024 * 1024 },
          ),
        )
      ).seconds;
      mmNote = "mmdebstrap --variant=extract, same packages, into a directory";
    }

    rows.push(
      { what: "compose, cold cache", ours: cold.seconds, baseline: mmCold, unit: "s", note: mmNote },
      { what: "compose, warm cache", ours: warm.seconds, baseline: mmWarm, unit: "s", note: "ours: --force" },
      {
        what: "build again, same inputs",
        ours: reuse.seconds,
        baseline: null,
        unit: "s",
        note: "image reused",
      },
      { what: "unpacked root", ours: m.initrd.uncompressedSize, baseline: mmSize, unit: "bytes", note: "" },
      { what: "initrd (gzip)", ours: m.initrd.size, baseline: null, unit: "bytes", note: "" },
      { what: "kernel", ours: m.kernel.size, baseline: null, unit: "bytes", note: m.kernelVersion },
    );
    const result = {
      machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
      packages: packages.length,
      lockedPackages: lock.packages.length,
      timings: { cold: cold.value.timings, warm: warm.value.timings },
      rows,
    };
    if (json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const show = (value: number | null, unit: string) =>
      value === null ? "—" : unit === "s" ? `${value.toFixed(2)} s` : formatBytes(value);
    const lines = [
      `Composition of the amd64 guest (${packages.length} packages unpacked of ${lock.packages.length} locked), ${mirror}`,
      "",
      "| what | linux-builder | mmdebstrap | note |",
      "|---|---|---|---|",
      ...rows.map((r) => `| ${r.what} | ${show(r.ours, r.unit)} | ${show(r.baseline, r.unit)} | ${r.note} |`),
      "",
      `phases, cold: ${JSON.stringify(cold.value.timings)}`,
      `phases, warm: ${JSON.stringify(warm.value.timings)}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
