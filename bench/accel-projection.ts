/**
 * What start → ready would be with hardware acceleration, argued from this run's measurements where
 * KVM does not work (here /dev/kvm exists but its guests hang): the same static binary (the image's
 * bash-static) runs the same CPU-bound loop in the TCG guest and on the host; their ratio is how much
 * slower TCG runs guest code. Dividing the guest's share of each boot phase by it, and keeping the
 * host's share (QEMU starting), gives the estimate. With KVM or hvf guest code runs at about native
 * speed; the estimate ignores their own small exit costs.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { arch, tmpdir } from "node:os";
import { join } from "node:path";
import type { StoredImage } from "../src/image/store.js";
import type { VmShape } from "./baseline-vm.js";
import { OurBuilder } from "./ours.js";
import { freePort, log, runCommand } from "./support.js";

/** A loop of shell arithmetic: pure guest CPU, no system calls to speak of. */
const LOOP = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";

export interface TcgSlowdown {
  readonly guestSeconds: number;
  readonly hostSeconds: number;
  /** guest ÷ host */
  readonly factor: number;
}

/** One file out of a newc cpio (the image's initrd). */
export function cpioFile(cpio: Buffer, wanted: string): Buffer | undefined {
  let at = 0;
  while (at + 110 <= cpio.length && cpio.toString("latin1", at, at + 6) === "070701") {
    const field = (index: number) =>
      Number.parseInt(cpio.toString("latin1", at + 6 + index * 8, at + 14 + index * 8), 16);
    const fileSize = field(6);
    const nameSize = field(11);
    const name = cpio.toString("latin1", at + 110, at + 110 + nameSize - 1);
    const dataStart = (at + 110 + nameSize + 3) & ~3;
    if (name === wanted) return cpio.subarray(dataStart, dataStart + fileSize);
    if (name === "TRAILER!!!") return undefined;
    at = (dataStart + fileSize + 3) & ~3;
  }
  return undefined;
}

/** Times the loop in a running builder of ours and on this host; undefined where it cannot. */
export async function measureTcgSlowdown(
  image: StoredImage,
  shape: VmShape,
  diskGiB: number,
): Promise<TcgSlowdown | undefined> {
  if (arch() !== "x64") return undefined; // The guest's binary must run on the host.
  const bash = cpioFile(await readFile(join(image.directory, "initrd")), "usr/bin/bash-static");
  if (bash === undefined) return undefined;
  const dir = await mkdtemp(join(tmpdir(), "lb-bench-accel-"));
  const builder = new OurBuilder(join(dir, "state"), await freePort(), shape, diskGiB);
  try {
    const hostBash = join(dir, "bash-static");
    await writeFile(hostBash, bash, { mode: 0o755 });
    log("accel: the same loop in the TCG guest and on the host");
    const started = await builder.start(120);
    if (!started.ok) return undefined;
    const guestRuns: number[] = [];
    const hostRuns: number[] = [];
    for (let i = 0; i < 2; i++) {
      const inGuest = await builder.run("ssh", [
        "--",
        `a=$(cut -d' ' -f1 /proc/uptime); /usr/bin/bash-static -c '${LOOP}'; b=$(cut -d' ' -f1 /proc/uptime); echo "$a $b"`,
      ]);
      const [a, b] = inGuest.stdout.trim().split(" ").map(Number);
      if (a !== undefined && b !== undefined && Number.isFinite(b - a)) guestRuns.push(b - a);
      const t = performance.now();
      await runCommand(hostBash, ["-c", LOOP], {});
      hostRuns.push((performance.now() - t) / 1000);
    }
    if (guestRuns.length === 0) return undefined;
    const guestSeconds = Math.min(...guestRuns);
    const hostSeconds = Math.min(...hostRuns);
    return { guestSeconds, hostSeconds, factor: guestSeconds / hostSeconds };
  } finally {
    await builder.run("stop").catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * start → ready with guest code at native speed: QEMU's own start as measured, every later phase
 * (the guest booting to sshd, then the handshake and the store's answer, both mostly guest work)
 * divided by the slowdown.
 */
export function projectReady(phases: Readonly<Record<string, number>>, factor: number): number | undefined {
  const qemu = phases["QEMU up"];
  const store = phases["Nix store answered"];
  if (qemu === undefined || store === undefined) return undefined;
  return qemu + (store - qemu) / factor;
}
