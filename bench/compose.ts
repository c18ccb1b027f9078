/**
 * Composition: our composer, cold and warm, beside mmdebstrap extracting the same package set from
 * the same mirror, each in its own fresh temporary cache. Ours is `linux-builder image build`, the
 * compiled CLI a user runs (its worker threads load compiled code, not the sources through tsx), in a
 * home of its own. Needs the network (the Debian mirror) and, for the baseline, mmdebstrap (see
 * host-tools.ts); without it the baseline rows say so.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { directorySize } from "../src/fs/directory-size.js";
import { DEFAULT_SUITE, isOmittedFromImage } from "../src/image/guest/profile.js";
import { parseLock } from "../src/image/lock.js";
import { CLI, compileCli } from "./ours.js";
import { log, runCommand, tail } from "./support.js";
import type { Row } from "./table.js";

export interface ComposeFigures {
  readonly rows: Row[];
  readonly details: {
    readonly packages: number;
    readonly lockedPackages: number;
    /**
     * composeImage's seconds per phase, each from the end of the one before: `download` includes the
     * unpacking done while the .debs arrive, `unpack` only what is left of it after.
     */
    readonly timings: { readonly cold: unknown; readonly warm: unknown };
    readonly mmdebstrap: {
      readonly cold: number | null;
      readonly warm: number | null;
      readonly note: string;
    };
  };
}

/** What `image build --json` prints that the bench reads. */
interface ImageBuilt {
  readonly directory: string;
  readonly timings: Readonly<Record<string, number>>;
  readonly initrdUncompressedBytes: number;
}

/** One `linux-builder image build` in `home`, timed as a whole (the CLI's start included). */
async function imageBuild(home: string, mirror: string, force: boolean) {
  const args = ["image", "build", "--arch", "amd64", "--suite", DEFAULT_SUITE, "--mirror", mirror, "--json"];
  const run = await runCommand(process.execPath, [CLI, ...args, ...(force ? ["--force"] : [])], {
    env: { ...process.env, LINUX_BUILDER_HOME: home },
    timeoutMs: 15 * 60_000,
  });
  if (run.code !== 0) throw new Error(`image build failed:\n${tail(run.stderr)}`);
  return { seconds: run.seconds, value: JSON.parse(run.stdout) as ImageBuilt };
}

/** `missingTools`: why mmdebstrap cannot run here, or undefined when it can. */
export async function composeBench(
  mirror: string,
  missingTools: string | undefined,
): Promise<ComposeFigures> {
  const work = await mkdtemp(join(tmpdir(), "lb-bench-compose-"));
  try {
    await compileCli();
    const home = join(work, "ours");
    log("compose: ours, cold cache");
    const cold = await imageBuild(home, mirror, true);
    log("compose: ours, warm cache, composing again");
    const warm = await imageBuild(home, mirror, true);
    log("compose: ours, warm cache, same inputs (image reused)");
    const reuse = await imageBuild(home, mirror, false);
    const lockPath = join(cold.value.directory, "lock.json");
    const lock = parseLock(await readFile(lockPath, "utf8"), lockPath);
    const packages = lock.packages.filter((p) => !isOmittedFromImage(p.name)).map((p) => p.name);

    // The baseline extracts the same packages (and the same kernel package) without running
    // maintainer scripts: mmdebstrap's `extract` variant, the closest thing to what we do.
    let mmCold: number | null = null;
    let mmWarm: number | null = null;
    let mmSize: number | null = null;
    let mmNote = `mmdebstrap ${missingTools ?? ""}`;
    if (missingTools === undefined) {
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
      log("compose: mmdebstrap --variant=extract, cold cache");
      const c = await runCommand(
        "mmdebstrap",
        args(join(work, "mm-cold"), [`--customize-hook=sync-out /var/cache/apt/archives ${debs}`]),
      );
      if (c.code === 0) mmSize = await directorySize(join(work, "mm-cold"));
      log("compose: mmdebstrap --variant=extract, warm cache");
      const w = await runCommand(
        "mmdebstrap",
        args(join(work, "mm-warm"), [
          '--setup-hook=mkdir -p "$1/var/cache/apt/archives"',
          `--setup-hook=sync-in ${debs} /var/cache/apt/archives/`,
          "--skip=download/empty",
        ]),
      );
      if (c.code === 0) mmCold = c.seconds;
      if (w.code === 0) mmWarm = w.seconds;
      mmNote =
        c.code === 0 && w.code === 0
          ? "ours: `linux-builder image build --force` in an empty home; mmdebstrap --variant=extract, same packages, into a directory"
          : `mmdebstrap failed: ${tail(c.code === 0 ? w.stderr : c.stderr, 3)}`;
    }
    const rows: Row[] = [
      {
        part: "compose",
        what: "compose, cold cache",
        ours: cold.seconds,
        baseline: mmCold,
        unit: "s",
        note: mmNote,
      },
      {
        part: "compose",
        what: "compose, warm cache",
        ours: warm.seconds,
        baseline: mmWarm,
        unit: "s",
        note: "ours: `image build --force`; mmdebstrap: .debs synced in",
      },
      {
        part: "compose",
        what: "compose again, same inputs",
        ours: reuse.seconds,
        baseline: null,
        unit: "s",
        note: "ours: the image is reused",
      },
      {
        part: "compose",
        what: "unpacked tree",
        ours: cold.value.initrdUncompressedBytes,
        baseline: mmSize,
        unit: "bytes",
        note: "ours: the initramfs (docs, locales, iconv converters and the packages a builder never runs left out); mmdebstrap: the extracted directory",
      },
    ];
    return {
      rows,
      details: {
        packages: packages.length,
        lockedPackages: lock.packages.length,
        timings: { cold: cold.value.timings, warm: warm.value.timings },
        mmdebstrap: { cold: mmCold, warm: mmWarm, note: mmNote },
      },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
