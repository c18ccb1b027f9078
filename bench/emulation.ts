/**
 * Emulation: one CPU-bound build run natively and through qemu-user in the same guest. The amd64
 * guest boots emulating aarch64-linux; each build hashes the same bytes with the same busybox
 * applets (Debian's static busybox of its system: amd64 for x86_64-linux, arm64 for aarch64-linux,
 * from the images' locks), sent to the guest's daemon with `nix-build --store ssh-ng://…`; native
 * and emulated builds alternate. Under TCG the guest is itself emulated, so the ratio here is
 * qemu-user on top of TCG; under KVM or hvf qemu-user alone sets it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NixSystem } from "../src/config/config.js";
import type { StoredImage } from "../src/image/store.js";
import { bootGuest, waitForConsole } from "../test/support/guest-vm.js";
import { staticBusybox } from "../test/support/static-busybox.js";
import { log, median, runCommand, tail } from "./support.js";
import type { Row } from "./table.js";

/** The work of each build: SHA-256 of this many MiB of zeros. */
export const EMULATION_MIB = 16;

export interface EmulationFigures {
  /** Seconds of each nix-build, in the order they ran. */
  readonly native: number[];
  readonly emulated: number[];
  /** Median emulated ÷ median native. */
  readonly ratio: number | null;
}

/** A derivation for `system` that hashes EMULATION_MIB MiB with the busybox in `busyboxDir`. */
function hashBuild(system: NixSystem, busyboxDir: string, nonce: string): string {
  const work = `\${bb}/busybox dd if=/dev/zero bs=1048576 count=${EMULATION_MIB} 2>/dev/null | \${bb}/busybox sha256sum > $out`;
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
  const work = await mkdtemp(join(tmpdir(), "lb-bench-emulation-"));
  const guest = await bootGuest(image, { emulatedSystems: ["aarch64-linux"], memoryMiB });
  try {
    const busybox = {
      "x86_64-linux": await staticBusybox("amd64", join(work, "amd64")),
      "aarch64-linux": await staticBusybox("arm64", join(work, "arm64")),
    } as const;
    await waitForConsole(guest, /linux-builder: READY at [0-9.]+s/, 5 * 60_000);
    const env = { ...process.env, NIX_SSHOPTS: guest.sshOptions().join(" ") };
    const build = async (system: NixSystem, nonce: string) => {
      const done = await runCommand(
        "nix-build",
        [
          "--store",
          "ssh-ng://builder@127.0.0.1",
          "--no-out-link",
          "-E",
          hashBuild(system, busybox[system], nonce),
        ],
        { env, timeoutMs: 30 * 60_000 },
      );
      if (done.code !== 0) throw new Error(`the ${system} build failed:\n${tail(done.stderr)}`);
      return done.seconds;
    };
    // One of each first, untimed: both busyboxes are then in the guest's store.
    await build("x86_64-linux", "warm-up");
    await build("aarch64-linux", "warm-up");
    const native: number[] = [];
    const emulated: number[] = [];
    for (let i = 0; i < runs; i++) {
      const nonce = `${Date.now()}-${i}`;
      native.push(await build("x86_64-linux", nonce));
      emulated.push(await build("aarch64-linux", nonce));
      log(
        `emulation: run ${i + 1}/${runs}: native ${native.at(-1)?.toFixed(2)} s, emulated ${emulated.at(-1)?.toFixed(2)} s`,
      );
    }
    const [n, e] = [median(native), median(emulated)];
    return { native, emulated, ratio: n === null || e === null || n === 0 ? null : e / n };
  } finally {
    await guest.destroy();
    await rm(work, { recursive: true, force: true });
  }
}

export function emulationRows(figures: EmulationFigures | undefined, error: string | undefined): Row[] {
  return [
    {
      part: "emulation",
      what: `a build hashing ${EMULATION_MIB} MiB with busybox: aarch64-linux through qemu-user (ours) beside x86_64-linux natively (median)`,
      ours: figures ? median(figures.emulated) : null,
      baseline: figures ? median(figures.native) : null,
      unit: "s",
      note: figures?.ratio
        ? `emulated ÷ native = ${figures.ratio.toFixed(1)}; one amd64 guest under TCG (qemu-user on top of TCG), nix-build --store ssh-ng, ${figures.native.length} of each, alternating`
        : `no figures${error ? `: ${error}` : ""}`,
    },
  ];
}
