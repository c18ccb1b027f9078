/**
 * Composition: our composer, cold and warm, beside mmdebstrap extracting the same package set from
 * the same mirror, each in its own fresh temporary cache. Needs the network (the Debian mirror) and,
 * for the baseline, mmdebstrap (see host-tools.ts); without it the baseline rows say so.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { directorySize } from "../src/fs/directory-size.js";
import { type ComposeOptions, composeImage } from "../src/image/compose/compose-image.js";
import { DEFAULT_SUITE, isOmittedFromImage } from "../src/image/guest/profile.js";
import { parseLock } from "../src/image/lock.js";
import { log, runCommand, tail, timed } from "./support.js";
import type { Row } from "./table.js";

export interface ComposeFigures {
  readonly rows: Row[];
  readonly details: {
    readonly packages: number;
    readonly lockedPackages: number;
    readonly timings: { readonly cold: unknown; readonly warm: unknown };
    readonly mmdebstrap: {
      readonly cold: number | null;
      readonly warm: number | null;
      readonly note: string;
    };
  };
}

/** `missingTools`: why mmdebstrap cannot run here, or undefined when it can. */
export async function composeBench(
  mirror: string,
  missingTools: string | undefined,
): Promise<ComposeFigures> {
  const work = await mkdtemp(join(tmpdir(), "lb-bench-compose-"));
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
    log("compose: ours, cold cache");
    const cold = await timed(() => composeImage(options));
    log("compose: ours, warm cache, composing again");
    const warm = await timed(() => composeImage(options));
    log("compose: ours, warm cache, same inputs (image reused)");
    const reuse = await timed(() => composeImage({ ...options, force: false }));
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
          ? "mmdebstrap --variant=extract, same packages, into a directory"
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
        note: "ours: --force; mmdebstrap: .debs synced in",
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
        ours: cold.value.manifest.initrd.uncompressedSize,
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
