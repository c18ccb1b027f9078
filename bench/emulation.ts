/**
 * Emulation: one CPU-bound build run natively and through qemu-user in the same guest. The amd64
 * guest boots emulating aarch64-linux; each build hashes the same bytes with the same busybox
 * applets (Debian's static busybox of its system: amd64 for x86_64-linux, arm64 for aarch64-linux,
 * from the images' locks), sent to the guest's daemon with `nix-build --store ssh-ng://…`; native
 * and emulated builds alternate. Each build's output holds the guest's uptime before and after the
 * hashing, so the work alone is timed beside the whole build (which adds Nix's and ssh's own
 * seconds, about the same for both). Under TCG the guest is itself emulated, so the ratio here is
 * qemu-user on top of TCG; under KVM or hvf qemu-user alone sets it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NixSystem } from "../src/config/config.js";
import type { StoredImage } from "../src/image/store.js";
import { bootGuest, sshRun, waitForConsole } from "../test/support/guest-vm.js";
import { staticBusybox } from "../test/support/static-busybox.js";
import { log, median, runCommand, tail } from "./support.js";
import type { Row } from "./table.js";

/** The work of each build: SHA-256 of this many MiB of zeros. */
export const EMULATION_MIB = 16;

/** Seconds of each build, in the order they ran: the whole nix-build, and the hashing in it. */
export interface EmulationRuns {
  readonly build: number[];
  readonly work: number[];
}

export interface EmulationFigures {
  readonly native: EmulationRuns;
  readonly emulated: EmulationRuns;
  /** Median emulated ÷ median native, of the hashing alone and of the whole build. */
  readonly ratio: { readonly work: number | null; readonly build: number | null };
}

/** a ÷ b of the medians. */
function ratioOf(a: readonly number[], b: readonly number[]): number | null {
  const [top, bottom] = [median(a), median(b)];
  return top === null || bottom === null || bottom === 0 ? null : top / bottom;
}

/** A derivation for `system` that hashes EMULATION_MIB MiB with the busybox in `busyboxDir`, timed by the guest's uptime. */
function hashBuild(system: NixSystem, busyboxDir: string, nonce: string): string {
  const hash = `\${bb}/busybox dd if=/dev/zero bs=1048576 count=${EMULATION_MIB} 2>/dev/null | \${bb}/busybox sha256sum >/dev/null`;
  const work = `read a _ < /proc/uptime; ${hash}; read b _ < /proc/uptime; echo $a $b > $out`;
  return `
    let bb = builtins.path { path = ${busyboxDir}; name = "busybox-static"; };
    in derivation {
      name = "lb-bench-emulation"; system = "${system}"; nonce = "${nonce}";
      builder = "\${bb}/sh"; args = [ "-c" "${work}" ];
    }`;
}

export async function emulationBench(
  image: StoredImage,
  runs: number,
  memoryMiB: number,
): Promise<EmulationFigures> {
  const dir = await mkdtemp(join(tmpdir(), "lb-bench-emulation-"));
  const guest = await bootGuest(image, { emulatedSystems: ["aarch64-linux"], memoryMiB });
  try {
    const busybox = {
      "x86_64-linux": await staticBusybox("amd64", join(dir, "amd64")),
      "aarch64-linux": await staticBusybox("arm64", join(dir, "arm64")),
    } as const;
    await waitForConsole(guest, /linux-builder: READY at [0-9.]+s/, 5 * 60_000);
    const env = { ...process.env, NIX_SSHOPTS: guest.sshOptions().join(" ") };
    const build = async (system: NixSystem, nonce: string, into?: EmulationRuns) => {
      const done = await runCommand(
        "nix-build",
        [
          ...["--store", "ssh-ng://builder@127.0.0.1", "--no-out-link"],
          ...["-E", hashBuild(system, busybox[system], nonce)],
        ],
        { env, timeoutMs: 30 * 60_000 },
      );
      if (done.code !== 0) throw new Error(`the ${system} build failed:\n${tail(done.stderr)}`);
      const uptimes = (await sshRun(guest, `cat ${done.stdout.trim()}`)).trim().split(" ").map(Number);
      const [before = Number.NaN, after = Number.NaN] = uptimes;
      if (!(after >= before)) throw new Error(`the ${system} build's output is not two uptimes`);
      into?.build.push(done.seconds);
      into?.work.push(after - before);
    };
    // One of each first, untimed: both busyboxes are then in the guest's store.
    await build("x86_64-linux", "warm-up");
    await build("aarch64-linux", "warm-up");
    const native: EmulationRuns = { build: [], work: [] };
    const emulated: EmulationRuns = { build: [], work: [] };
    for (let i = 0; i < runs; i++) {
      const nonce = `${Date.now()}-${i}`;
      await build("x86_64-linux", nonce, native);
      await build("aarch64-linux", nonce, emulated);
      log(
        `emulation: run ${i + 1}/${runs}: hashing ${native.work.at(-1)?.toFixed(2)} s native, ${emulated.work.at(-1)?.toFixed(2)} s emulated; whole builds ${native.build.at(-1)?.toFixed(2)} s and ${emulated.build.at(-1)?.toFixed(2)} s`,
      );
    }
    return {
      native,
      emulated,
      ratio: { work: ratioOf(emulated.work, native.work), build: ratioOf(emulated.build, native.build) },
    };
  } finally {
    await guest.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

export function emulationRows(figures: EmulationFigures | undefined, error: string | undefined): Row[] {
  const how = (ratio: number | null | undefined) =>
    ratio
      ? `emulated ÷ native = ${ratio.toFixed(1)}; one amd64 guest under TCG (qemu-user on top of TCG), ${figures?.native.build.length} of each, alternating`
      : `no figures${error ? `: ${error}` : ""}`;
  return [
    {
      part: "emulation",
      what: `hashing ${EMULATION_MIB} MiB with busybox in a build: aarch64-linux through qemu-user (ours) beside x86_64-linux natively (median)`,
      ours: figures ? median(figures.emulated.work) : null,
      baseline: figures ? median(figures.native.work) : null,
      unit: "s",
      note: `${how(figures?.ratio.work)}; the guest's uptime before and after the hashing`,
    },
    {
      part: "emulation",
      what: "the same builds whole (median)",
      ours: figures ? median(figures.emulated.build) : null,
      baseline: figures ? median(figures.native.build) : null,
      unit: "s",
      note: `${how(figures?.ratio.build)}; nix-build --store ssh-ng://… from the host: Nix's and ssh's seconds in both`,
    },
  ];
}
